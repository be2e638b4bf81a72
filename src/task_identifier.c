/*-------------------------------------------------------------------------
 *
 * task_identifier.c
 *	  The business-identifier claims of omnitask.task_identifier: an AFTER
 *	  ROW trigger on omnitask.task that claims each identifier (system and
 *	  value) of the stored version for its task unless another task holds
 *	  it, and releases the claims an update removed.
 *
 *	  The primary key (system, value) of the claims is what makes a
 *	  conditional create race-free: a concurrent claim of the same
 *	  identifier waits (INSERT ... ON CONFLICT DO NOTHING) for the
 *	  transaction that made it.  Users cannot write the claims; the trigger
 *	  writes them with the rights of the table's owner, as the history is
 *	  written (task_trigger.c) and as PostgreSQL's RI triggers do, so no
 *	  SECURITY DEFINER function is needed.
 *
 *	  On Citus (omnitask.task distributed by id) a claim table on a worker
 *	  would only see the tasks of that worker, so the trigger claims
 *	  nothing on a shard: there the holders of an identifier are the tasks
 *	  carrying it, found across the shards through search_tokens
 *	  (identifier_token() below), and conditional creates of one identifier
 *	  are serialised on the coordinator (see create_task_if_none_exist in
 *	  sql/omnitask--0.4--0.5.sql for why that is race-free).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "task_columns.h"
#include "task_old_version.h"
#include "task_trigger.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(omnitask_task_identifier_claim);
PG_FUNCTION_INFO_V1(omnitask_identifier_token);
PG_FUNCTION_INFO_V1(omnitask_identifier_in_use);

/* Kept plans: release the claims an update dropped; claim the others. */
static SPIPlanPtr release_plan = NULL;
static SPIPlanPtr claim_plan = NULL;

/* The identifiers with a system and a value of a resource ($2), for task $1. */
#define IDENTIFIERS_OF_RESOURCE \
	"SELECT e ->> 'system' AS system, e ->> 'value' AS value " \
	"FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof($2 -> 'identifier') = 'array' " \
	"THEN $2 -> 'identifier' END) e " \
	"WHERE e ->> 'system' IS NOT NULL AND e ->> 'value' IS NOT NULL"

/* Prepares and keeps one plan taking (id text, resource jsonb). */
static SPIPlanPtr
keep_plan(const char *sql)
{
	Oid			argtypes[2] = {TEXTOID, JSONBOID};
	SPIPlanPtr	plan = SPI_prepare(sql, 2, argtypes);
	int			rc;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	rc = SPI_keepplan(plan);
	if (rc != 0)
		elog(ERROR, "SPI_keepplan failed: %s", SPI_result_code_string(rc));
	return plan;
}

/* Task.identifier of a resource as resource -> 'identifier' finds it, or NULL. */
static JsonbValue *
identifier_of(Jsonb *doc, JsonbValue *buf)
{
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		return NULL;
	return getKeyJsonValueFromContainer(&doc->root, "identifier", 10, buf);
}

/*
 * Whether an update left Task.identifier as it was: the test
 * OLD.resource -> 'identifier' IS NOT DISTINCT FROM NEW.resource ->
 * 'identifier' (jsonb equality), which 0.3 to 0.9 made in the update
 * trigger's WHEN clause.  There it expanded the stored old version on every
 * update (a pglz expansion of the whole document, and the clause read back
 * from its catalog text at each statement); here the old version comes
 * through task_old_version(), expanded already when the update was a
 * status change or the BEFORE trigger read it, and the new one is the
 * version the BEFORE trigger built (task_stored_resource()).
 */
static bool
identifiers_unchanged(HeapTuple oldtup, int res_att, TupleDesc desc, Datum new_resource)
{
	bool		isnull;
	Datum		d = heap_getattr(oldtup, res_att, desc, &isnull);
	JsonbValue	obuf,
				nbuf;
	JsonbValue *o = isnull ? NULL : identifier_of(task_old_version(d), &obuf);
	JsonbValue *n = identifier_of(DatumGetJsonbP(new_resource), &nbuf);

	if (o == NULL || n == NULL)
		return o == NULL && n == NULL;
	return compareJsonbContainers(&JsonbValueToJsonb(o)->root, &JsonbValueToJsonb(n)->root) == 0;
}

/*
 * omnitask.task_identifier_claim(): AFTER INSERT OR UPDATE FOR EACH ROW on
 * omnitask.task (the insert trigger's WHEN clause skips Tasks without
 * identifiers; an update whose identifiers did not change returns at once).
 */
Datum
omnitask_task_identifier_claim(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tup;
	int			id_att;
	int			res_att;
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	bool		isnull;
	Oid			save_userid;
	int			save_sec;
	int			rc;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		elog(ERROR, "function \"%s\" must be fired AFTER ROW for INSERT or UPDATE", "task_identifier_claim");

	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	tup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	id_att = SPI_fnumber(desc, "id");
	res_att = SPI_fnumber(desc, "resource");
	if (id_att <= 0 || res_att <= 0)
		elog(ERROR, "function \"%s\" fired on a table without columns \"id\" and \"resource\"", "task_identifier_claim");
	values[0] = heap_getattr(tup, id_att, desc, &isnull);
	if (isnull)
		elog(ERROR, "null value in column \"id\" of a task");
	values[1] = heap_getattr(tup, res_att, desc, &isnull);
	if (isnull)
		PG_RETURN_POINTER(NULL);
	/* a Citus shard (task_<shardid>): no claims there (see the header) */
	if (strcmp(RelationGetRelationName(rel), "task") != 0)
		PG_RETURN_POINTER(NULL);
	/* the version as the BEFORE trigger built it, when it is this row: no pglz */
	values[1] = task_stored_resource(rel, tup, !TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event), values[1]);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) &&
		identifiers_unchanged(trigdata->tg_trigtuple, res_att, desc, values[1]))
		PG_RETURN_POINTER(NULL);

	rc = SPI_connect();
	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	if (release_plan == NULL)
		release_plan = keep_plan("DELETE FROM omnitask.task_identifier ti WHERE ti.task_id = $1 "
								 "AND (ti.system, ti.value) NOT IN (" IDENTIFIERS_OF_RESOURCE ")");
	if (claim_plan == NULL)
		claim_plan = keep_plan("INSERT INTO omnitask.task_identifier (system, value, task_id) "
							   "SELECT i.system, i.value, $1 FROM (" IDENTIFIERS_OF_RESOURCE ") i "
							   "ON CONFLICT DO NOTHING");

	/* the owner's rights; restored by the (sub)transaction's abort on error */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		rc = SPI_execute_plan(release_plan, values, nulls, false, 0);
		if (rc != SPI_OK_DELETE)
			elog(ERROR, "could not release identifiers: %s", SPI_result_code_string(rc));
	}
	rc = SPI_execute_plan(claim_plan, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not claim identifiers: %s", SPI_result_code_string(rc));
	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();
	PG_RETURN_POINTER(NULL);
}

/*
 * omnitask.identifier_token(system text, value text) -> text: the token
 * search_tokens keeps for a Task.identifier, "identifier:system|value", or
 * "identifier:value" (any system) when system is NULL; what finds the
 * tasks carrying an identifier under the GIN index, on every shard.
 */
Datum
omnitask_identifier_token(PG_FUNCTION_ARGS)
{
	text	   *value;
	text	   *system = NULL;
	bool		hashed;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	value = PG_GETARG_TEXT_PP(1);
	if (!PG_ARGISNULL(0))
		system = PG_GETARG_TEXT_PP(0);
	PG_RETURN_TEXT_P(cstring_to_text(task_search_token("identifier",
													   system ? VARDATA_ANY(system) : NULL,
													   system ? VARSIZE_ANY_EXHDR(system) : 0,
													   VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value),
													   &hashed)));
}

/*
 * omnitask.identifier_in_use(system text, value text) -> boolean: whether
 * any task, whether the caller may see it or not, carries the identifier
 * system|value.  On Citus this is what one node learns from losing a claim
 * (23505 for a holder the caller cannot see), and it tells no more: not
 * which task, nor anything of it.  Read with the rights of the table's
 * owner, as the claims are written, so no SECURITY DEFINER function is
 * needed; the tasks are found under the GIN index of search_tokens, the
 * resource confirming (a long token is a hash).
 */
Datum
omnitask_identifier_in_use(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	Relation	task;
	Oid			owner;
	Oid			save_userid;
	int			save_sec;
	bool		isnull;
	bool		found;
	int			rc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	task = table_open(omnitask_relid("task"), AccessShareLock);
	owner = task->rd_rel->relowner;
	table_close(task, AccessShareLock);

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	/* the owner's rights; restored by the (sub)transaction's abort on error */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	/* SELECT 1: Citus cannot pass a subquery without columns between nodes */
	rc = SPI_execute_with_args("SELECT EXISTS (SELECT 1 FROM omnitask.task t "
							   "WHERE t.search_tokens @> ARRAY[omnitask.identifier_token($1, $2)] "
							   "AND t.resource -> 'identifier' @> pg_catalog.jsonb_build_array("
							   "pg_catalog.jsonb_build_object('system', $1, 'value', $2)))",
							   2, argtypes, values, NULL, true, 1);
	SetUserIdAndSecContext(save_userid, save_sec);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not look for the holders of an identifier: %s", SPI_result_code_string(rc));
	found = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_BOOL(found && !isnull);
}
