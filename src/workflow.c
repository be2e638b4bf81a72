/*-------------------------------------------------------------------------
 *
 * workflow.c
 *	  The status workflow in force: the stored document (or the default
 *	  one), its SQL functions, and the compiled matrix cached per backend.
 *	  Parsing and compiling a document is workflow_parse.c's.
 *
 * The document (omnitask.set_workflow) names the states a task may be
 * created in, the terminal states, the states that need a reason, and the
 * transitions with the roles allowed on each.  It is stored in
 * omnitask.workflow_definition (so pg_dump keeps it); when none is stored
 * the default workflow of the contract applies.  Every backend drops its
 * compiled copy when a change commits (a relcache invalidation of the
 * definition table) and picks up the new one at its next statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "catalog.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "identity.h"
#include "pg_compat.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "workflow.h"

PG_FUNCTION_INFO_V1(omnitask_set_workflow);
PG_FUNCTION_INFO_V1(omnitask_workflow);
PG_FUNCTION_INFO_V1(omnitask_default_workflow);
PG_FUNCTION_INFO_V1(omnitask_workflow_check);

/*
 * The default workflow of the contract (FHIR R4 12.1.6 and its prose):
 * creatable draft/requested/ready; the diagram's edges plus cancel from any
 * open state, suspend/resume and stop-to-ready, open to admins and owning
 * practitioners; entered-in-error from anywhere, admins only.
 */
static const char *const default_workflow =
"{\n"
"  \"creatable\": [\"draft\", \"requested\", \"ready\"],\n"
"  \"terminal\": [\"completed\", \"failed\", \"cancelled\", \"rejected\", \"entered-in-error\"],\n"
"  \"reason_required\": [\"rejected\", \"cancelled\", \"failed\", \"entered-in-error\"],\n"
"  \"transitions\": [\n"
"    {\"from\": \"draft\", \"to\": [\"requested\", \"ready\", \"cancelled\"], \"roles\": [\"admin\", \"practitioner\"]},\n"
"    {\"from\": \"requested\", \"to\": [\"received\", \"accepted\", \"rejected\", \"cancelled\"], \"roles\": [\"admin\", \"practitioner\"]},\n"
"    {\"from\": \"received\", \"to\": [\"accepted\", \"rejected\", \"cancelled\"], \"roles\": [\"admin\", \"practitioner\"]},\n"
"    {\"from\": \"accepted\", \"to\": [\"in-progress\", \"cancelled\"], \"roles\": [\"admin\", \"practitioner\"]},\n"
"    {\"from\": \"ready\", \"to\": [\"in-progress\", \"cancelled\"], \"roles\": [\"admin\", \"practitioner\"]},\n"
"    {\"from\": \"in-progress\", \"to\": [\"on-hold\", \"completed\", \"failed\", \"cancelled\", \"ready\"], \"roles\": [\"admin\", \"practitioner\"]},\n"
"    {\"from\": \"on-hold\", \"to\": [\"in-progress\", \"cancelled\"], \"roles\": [\"admin\", \"practitioner\"]},\n"
"    {\"from\": [\"draft\", \"requested\", \"received\", \"accepted\", \"rejected\", \"ready\", \"cancelled\", \"in-progress\", \"on-hold\", \"failed\", \"completed\"],\n"
"     \"to\": \"entered-in-error\", \"roles\": [\"admin\"]}\n"
"  ]\n"
"}\n";

/* The column of omnitask.workflow_definition that holds the document. */
#define Anum_workflow_definition_definition	2

/* The compiled workflow of this backend. */
static Workflow current;
static bool current_valid = false;
static bool callback_registered = false;
static Oid	definition_relid = InvalidOid;

/* Drops the compiled workflow when its definition table changes. */
static void
workflow_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == definition_relid)
		current_valid = false;
}

/*
 * The stored definition text (latest committed, or made earlier in this
 * transaction), or NULL when none is stored.  During a parallel operation
 * (a parallel worker, or the leader of a parallel plan) no new snapshot
 * may be taken, so the query's active snapshot is read instead: this is
 * what lets workflow() and terminal_statuses() be PARALLEL SAFE.
 */
static char *
stored_definition(void)
{
	Relation	rel;
	Snapshot	snap;
	Datum		d;
	bool		isnull;
	char	   *doc = NULL;

	definition_relid = omnitask_local_relid("workflow_definition");
	rel = table_open(definition_relid, AccessShareLock);
	snap = RegisterSnapshot(IsInParallelMode() ? GetActiveSnapshot() : GetLatestSnapshot());
	if (omnitask_first_row_value(rel, snap, Anum_workflow_definition_definition, &d, &isnull) &&
		!isnull)
		doc = TextDatumGetCString(d);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
	return doc;
}

/*
 * The workflow in force.  Invalidations are accepted once per statement so
 * that a change committed by another session applies from the next
 * statement on, even inside an open transaction.
 */
const Workflow *
workflow_current(void)
{
	static LocalTransactionId seen_lxid = InvalidLocalTransactionId;
	static TimestampTz seen_stmt = 0;

	if (seen_lxid != MyProcLxid || seen_stmt != GetCurrentStatementStartTimestamp())
	{
		AcceptInvalidationMessages();
		seen_lxid = MyProcLxid;
		seen_stmt = GetCurrentStatementStartTimestamp();
	}
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(workflow_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	if (!current_valid)
	{
		char	   *doc = stored_definition();

		workflow_parse(doc ? doc : default_workflow, &current);
		current_valid = true;
	}
	return &current;
}

/* The states reachable from status from for the given role bits. */
char *
workflow_reachable(const Workflow *wf, int from, uint8 role_bits)
{
	StringInfoData buf;
	int			d;

	initStringInfo(&buf);
	for (d = 0; d < WF_NSTATUS; d++)
	{
		if (wf->roles[from][d] & role_bits)
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", task_status_code(d));
	}
	return buf.data;
}

/* The states a task may be created in. */
char *
workflow_creatable(const Workflow *wf)
{
	StringInfoData buf;
	int			d;

	initStringInfo(&buf);
	for (d = 0; d < WF_NSTATUS; d++)
	{
		if (wf->creatable & (UINT32_C(1) << d))
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", task_status_code(d));
	}
	return buf.data;
}

/*
 * set_workflow(definition json): admin only.  Checks the document and
 * stores it; it applies to every backend once the transaction commits.
 */
Datum
omnitask_set_workflow(PG_FUNCTION_ARGS)
{
	text	   *def = PG_GETARG_TEXT_PP(0);
	char	   *s = text_to_cstring(def);
	Workflow	wf;
	Oid			argtypes[1] = {JSONOID};
	Datum		args[1];
	int			rc;

	if (!omnitask_caller()->is_admin)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set the workflow"),
				 errdetail("Only members of omnitask_admin may change the workflow.")));
	workflow_parse(s, &wf);

	args[0] = PointerGetDatum(def);
	rc = SPI_connect();
	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute_with_args("INSERT INTO omnitask.workflow_definition AS w (singleton, definition, updated_at, updated_by) "
							   "VALUES (true, $1, pg_catalog.now(), CURRENT_USER) "
							   "ON CONFLICT (singleton) DO UPDATE SET definition = EXCLUDED.definition, "
							   "updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by",
							   1, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not store the workflow: %s", SPI_result_code_string(rc));
	SPI_finish();
	PG_RETURN_VOID();
}

/* workflow() -> json: the workflow document in force. */
Datum
omnitask_workflow(PG_FUNCTION_ARGS)
{
	char	   *doc = stored_definition();

	PG_RETURN_TEXT_P(cstring_to_text(doc ? doc : default_workflow));
}

/* default_workflow() -> json: the contract's default workflow document. */
Datum
omnitask_default_workflow(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(default_workflow));
}

/*
 * BEFORE INSERT OR UPDATE trigger on omnitask.workflow_definition: a
 * definition written by plain SQL is checked like one given to
 * set_workflow(), so the table never holds a document that does not parse.
 */
Datum
omnitask_workflow_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	bool		isnull;
	Datum		d;
	Workflow	wf;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "function \"%s\" must be fired for ROW", "workflow_check");
	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	d = heap_getattr(tup, Anum_workflow_definition_definition,
					 RelationGetDescr(td->tg_relation), &isnull);
	if (!isnull)
		workflow_parse(TextDatumGetCString(d), &wf);
	return PointerGetDatum(tup);
}
