/*-------------------------------------------------------------------------
 *
 * task_trigger.c
 *	  The row triggers of omnitask.task: validate, normalise and derive
 *	  (BEFORE), append the history row (AFTER).
 *
 * Every write path -- the API functions, PostgREST, an ORM, plain INSERT,
 * UPDATE or COPY -- goes through these triggers, so the stored resource is
 * always valid and the derived columns always agree with it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "catalog.h"
#include "identity.h"
#include "notify_relay.h"
#include "omnitask.h"
#include "task_columns.h"
#include "task_profile.h"
#include "task_rules.h"
#include "task_trigger.h"
#include "workflow.h"
#include "pg_compat.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/typcache.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(omnitask_task_before);
PG_FUNCTION_INFO_V1(omnitask_task_after);


/* import_task() is storing: keep the id, allow any status. */
int			omnitask_import_depth = 0;

/* The transaction that restored rows (their history comes with them). */
static LocalTransactionId restore_lxid = InvalidLocalTransactionId;

/* Reused scratch memory for one row's validation. */
static MemoryContext scratch_cxt = NULL;

/*
 * The saved plan that appends a history row, and the type of its status
 * parameter (omnitask.task_status): a plan's parameter types are fixed
 * when it is prepared, so after DROP/CREATE EXTENSION in the same session
 * the plan must be prepared again for the new enum type.
 */
static SPIPlanPtr history_plan = NULL;
static Oid	history_plan_status_type = InvalidOid;


/* A new server-assigned Task id: a random (version 4) UUID. */
static char *
new_task_id(void)
{
	uint8		b[16];

	if (!pg_strong_random(b, sizeof(b)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random Task id")));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	return psprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
					b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
					b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}


/*
 * Raises 23514 for an invalid Task: the first problem (with its FHIR path)
 * in the message, the whole OperationOutcome in the detail.
 */
static void
raise_invalid(const FhirResult *res)
{
	const FhirIssue *first = fhir_first_error(res);
	char	   *outcome = fhir_outcome_text(res);

	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("invalid FHIR Task: %s: %s", first->expression, first->diagnostics),
			 errdetail("%s", outcome),
			 res->nerrors > 1 ?
			 errhint("The OperationOutcome in the detail lists all %d problems.",
					 res->nerrors) :
			 errhint("The detail is a FHIR OperationOutcome.")));
}

/*
 * A row inserted with its id and version already set is a restore (pg_dump
 * writes every column): only a superuser can do it, since everyone else may
 * insert the resource column only.  The row is kept as it was -- id,
 * versions and times -- but its resource must be a valid stored Task and
 * the derived columns are recomputed from it; its history is restored
 * separately, so none is appended.
 */
static HeapTuple
restore_row(Relation rel, HeapTuple newtup, const int *att)
{
	TupleDesc	desc = RelationGetDescr(rel);
	bool		isnull;
	Datum		values[NUM_TASK_COLS];
	bool		nulls[NUM_TASK_COLS];
	int			cols[NUM_TASK_COLS];
	FhirResult *res;
	char	   *problem = NULL;
	char	   *id;
	int32		version;
	int			i;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to restore tasks"),
				 errdetail("Only a superuser may insert tasks with their id and version_id, as pg_restore does.")));
	id = TextDatumGetCString(heap_getattr(newtup, att[COL_ID], desc, &isnull));
	version = DatumGetInt32(heap_getattr(newtup, att[COL_VERSION_ID], desc, &isnull));
	res = palloc(sizeof(FhirResult));
	if (!task_derive_stored(DatumGetJsonbP(heap_getattr(newtup, att[COL_RESOURCE], desc, &isnull)),
					   res, values, nulls, &problem))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("invalid FHIR Task: cannot restore Task/%s: %s", id, problem)));
	if (strcmp(TextDatumGetCString(values[COL_ID]), id) != 0 ||
		DatumGetInt32(values[COL_VERSION_ID]) != version)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("invalid FHIR Task: cannot restore Task/%s: its resource is Task/%s version %d, the row says version %d",
						id, TextDatumGetCString(values[COL_ID]),
						DatumGetInt32(values[COL_VERSION_ID]), version)));
	values[COL_RESOURCE] = heap_getattr(newtup, att[COL_RESOURCE], desc, &isnull);
	for (i = 0; i < NUM_TASK_COLS; i++)
		cols[i] = att[i];
	restore_lxid = MyProcLxid;
	return heap_modify_tuple_by_cols(newtup, desc, NUM_TASK_COLS, cols, values, nulls);
}

/* The row a BEFORE trigger is writing, as its phases see it. */
typedef struct TaskRow
{
	Relation	rel;
	TupleDesc	desc;
	const int  *att;			/* task_attnums() */
	HeapTuple	newtup;
	HeapTuple	oldtup;			/* NULL for an insert */
} TaskRow;

/*
 * Phase 1: the row and the write as the rules see it; refuses a caller who
 * may not write tasks at all.
 */
static void
begin_write(TriggerData *td, TaskRow *row, TaskWrite *tw)
{
	bool		is_insert = TRIGGER_FIRED_BY_INSERT(td->tg_event);

	row->rel = td->tg_relation;
	row->desc = RelationGetDescr(row->rel);
	row->att = task_attnums(row->rel);
	row->newtup = is_insert ? td->tg_trigtuple : td->tg_newtuple;
	row->oldtup = is_insert ? NULL : td->tg_trigtuple;

	memset(tw, 0, sizeof(*tw));
	tw->caller = omnitask_caller();
	tw->is_insert = is_insert;
	tw->is_import = is_insert && omnitask_import_depth > 0;
	tw->old_status = -1;
	tw->old_resource = (Datum) 0;
	task_check_caller(tw->caller);
}

/* Phase 2: the FHIR Task being written (the only column a user writes). */
static Jsonb *
written_resource(const TaskRow *row)
{
	bool		isnull;
	Datum		d = heap_getattr(row->newtup, row->att[COL_RESOURCE], row->desc, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a task needs a resource"),
				 errdetail("omnitask.task.resource is the FHIR Task; every other column is derived from it.")));
	return DatumGetJsonbP(d);
}

/*
 * Phase 3: the server-owned elements of the stored version -- its id (new,
 * imported or kept), version and times, and a practitioner's default owner
 * and requester -- and what the rules need of the old row.  Returns the
 * version number.
 */
static int32
server_owned(const TaskRow *row, TaskWrite *tw, Jsonb *doc, TimestampTz now,
			 FhirNormalize *norm)
{
	bool		isnull;
	Datum		d;
	int32		version;
	char	   *id;

	memset(norm, 0, sizeof(*norm));
	if (tw->is_insert)
	{
		version = 1;
		if (tw->is_import)
		{
			JsonbValue *idv = JB_ROOT_IS_OBJECT(doc) && !JB_ROOT_IS_SCALAR(doc) ?
				getKeyJsonValueFromContainer(&doc->root, "id", 2, NULL) : NULL;

			if (idv == NULL || idv->type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("invalid FHIR Task: Task.id: an imported Task needs its id"),
						 errhint("import_task() keeps the id of the Task it is given; use create_task() to have one assigned.")));
			id = pnstrdup(idv->val.string.val, idv->val.string.len);
		}
		else
			id = new_task_id();
		if (!tw->caller->is_admin)
		{
			/* a practitioner's task is theirs unless it says otherwise */
			norm->default_owner = psprintf("Practitioner/%s", tw->caller->practitioner_id);
			norm->default_requester = norm->default_owner;
		}
	}
	else
	{
		Datum		newid;

		id = TextDatumGetCString(heap_getattr(row->oldtup, row->att[COL_ID], row->desc, &isnull));
		newid = heap_getattr(row->newtup, row->att[COL_ID], row->desc, &isnull);
		if (isnull || strcmp(TextDatumGetCString(newid), id) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("invalid FHIR Task: Task.id: the id of a task cannot be changed"),
					 errhint("Create a new task instead.")));
		version = DatumGetInt32(heap_getattr(row->oldtup, row->att[COL_VERSION_ID],
											 row->desc, &isnull)) + 1;
		d = heap_getattr(row->oldtup, row->att[COL_OWNER_ID], row->desc, &isnull);
		tw->old_owner = isnull ? NULL : TextDatumGetCString(d);
		d = heap_getattr(row->oldtup, row->att[COL_STATUS], row->desc, &isnull);
		tw->old_status = task_status_index_of_oid(DatumGetObjectId(d));
		tw->old_resource = heap_getattr(row->oldtup, row->att[COL_RESOURCE], row->desc, &isnull);
	}
	tw->id = id;

	norm->id = id;
	norm->keep_last_modified = tw->is_import;
	norm->version_id = psprintf("%d", version);
	norm->last_updated = omnitask_fhir_instant(now);
	return version;
}

/*
 * Phase 4: the rules beyond base R4, in order -- the omnitask profile, the
 * immutable elements of an update (each adds issues, raised together), then
 * the owner and the workflow (likewise), then a terminal task's frozen
 * content (raised at once, PT409).
 */
static void
check_rules(const TaskRow *row, const TaskWrite *tw, FhirResult *res, TimestampTz now)
{
	const TaskFacts *f = &res->facts;

	if (res->nerrors == 0)
		task_profile_check(res, now);
	if (res->nerrors == 0 && !tw->is_insert)
		task_check_immutable(tw, res, row->oldtup, row->desc, row->att,
							 f->authored_on.text.s ?
							 task_when_timestamp(&f->authored_on, false) : now);
	if (res->nerrors > 0)
		raise_invalid(res);

	task_check_owner(tw, res);
	task_check_workflow(tw, res);
	if (res->nerrors > 0)
		raise_invalid(res);
	task_check_terminal(tw, res, res->normalized);
}

/*
 * Phase 5: the row to store -- the normalised resource (copied into the
 * current context) and every column derived from it.
 */
static HeapTuple
derived_row(const TaskRow *row, const TaskWrite *tw, const FhirResult *res,
			int32 version, TimestampTz now)
{
	const TaskFacts *f = &res->facts;
	Datum		values[NUM_TASK_COLS];
	bool		nulls[NUM_TASK_COLS];
	int			cols[NUM_TASK_COLS];
	Jsonb	   *stored;
	int			i;

	stored = palloc(VARSIZE(res->normalized));
	memcpy(stored, res->normalized, VARSIZE(res->normalized));
	task_derive_columns(f, tw->id, version, now,
						(tw->is_import && f->last_modified.text.s) ?
						task_when_timestamp(&f->last_modified, false) : now,
						stored, values, nulls);
	for (i = 0; i < NUM_TASK_COLS; i++)
		cols[i] = row->att[i];
	return heap_modify_tuple_by_cols(row->newtup, row->desc, NUM_TASK_COLS, cols,
									 values, nulls);
}

/*
 * BEFORE INSERT OR UPDATE FOR EACH ROW on omnitask.task: validates the
 * resource against R4 and the omnitask profile, writes the server-owned
 * elements, and recomputes every derived column from the stored resource.
 */
Datum
omnitask_task_before(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TaskRow		row;
	TaskWrite	tw;
	Jsonb	   *doc;
	FhirNormalize norm;
	FhirResult *res;
	TimestampTz now;
	int32		version;
	MemoryContext outer;
	HeapTuple	result;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		elog(ERROR, "omnitask_task_before: must be fired BEFORE INSERT OR UPDATE FOR EACH ROW");

	begin_write(td, &row, &tw);
	if (tw.is_insert && !heap_attisnull(row.newtup, row.att[COL_ID], row.desc) &&
		!heap_attisnull(row.newtup, row.att[COL_VERSION_ID], row.desc))
		return PointerGetDatum(restore_row(row.rel, row.newtup, row.att));
	doc = written_resource(&row);
	now = GetCurrentTimestamp();
	version = server_owned(&row, &tw, doc, now, &norm);

	/* validation and the rules work in scratch memory, reset per row */
	res = fhir_scratch_result(&scratch_cxt, &outer);
	fhir_validate_and_normalize_task(doc, &norm, res);
	check_rules(&row, &tw, res, now);
	MemoryContextSwitchTo(outer);

	result = derived_row(&row, &tw, res, version, now);
	MemoryContextReset(scratch_cxt);
	return PointerGetDatum(result);
}

/*
 * Appends one row to omnitask.task_history, with the rights of the table's
 * owner: users have no INSERT on the history, so it stays append-only and
 * cannot be forged, as PostgreSQL's RI triggers write with the owner's
 * rights.
 */
static void
append_history(Relation rel, HeapTuple tup, const int *att, const char *operation)
{
	TupleDesc	desc = RelationGetDescr(rel);
	const OmniCaller *c = omnitask_caller();
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	Oid			save_userid;
	int			save_sec;
	int			rc;

	values[0] = heap_getattr(tup, att[COL_ID], desc, &isnull);
	values[1] = heap_getattr(tup, att[COL_VERSION_ID], desc, &isnull);
	values[2] = CStringGetTextDatum(operation);
	values[3] = heap_getattr(tup, att[COL_STATUS], desc, &isnull);
	values[4] = heap_getattr(tup, att[COL_OWNER_ID], desc, &isnull);
	if (isnull)
		nulls[4] = 'n';
	values[5] = heap_getattr(tup, att[COL_RESOURCE], desc, &isnull);
	values[6] = heap_getattr(tup, att[COL_LAST_UPDATED], desc, &isnull);
	values[7] = CStringGetDatum(c->role_name);
	if (c->practitioner_id[0])
		values[8] = CStringGetTextDatum(c->practitioner_id);
	else
		nulls[8] = 'n';

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (history_plan != NULL &&
		history_plan_status_type != TupleDescAttr(desc, att[COL_STATUS] - 1)->atttypid)
	{
		/* the extension was re-created: its enum has a new OID */
		SPI_freeplan(history_plan);
		history_plan = NULL;
	}
	if (history_plan == NULL)
	{
		Oid			argtypes[9] = {TEXTOID, INT4OID, TEXTOID,
			TupleDescAttr(desc, att[COL_STATUS] - 1)->atttypid,
		TEXTOID, JSONBOID, TIMESTAMPTZOID, NAMEOID, TEXTOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare("INSERT INTO omnitask.task_history "
						   "(id, version_id, operation, status, owner_id, resource, recorded_at, recorded_by, practitioner_id) "
						   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", 9, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		history_plan = plan;
		history_plan_status_type = argtypes[3];
	}

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	rc = SPI_execute_plan(history_plan, values, nulls, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not append to omnitask.task_history: %s",
			 SPI_result_code_string(rc));
	SPI_finish();
}

/*
 * Queues NOTIFY omnitask_task for the stored version: {"id", "version"}
 * only.  Any login may LISTEN (PostgreSQL has no privilege for it), so the
 * payload carries nothing a listener could not learn otherwise: no status,
 * no owner, no clinical content.  It is a hint; a consumer reads the task
 * through row-level security.  Sent after commit, by the relay when there
 * is one (notify_relay.c).
 */
static void
notify_change(Relation rel, HeapTuple tup, const int *att)
{
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData buf;
	bool		isnull;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"id\": ");
	escape_json(&buf, TextDatumGetCString(heap_getattr(tup, att[COL_ID], desc, &isnull)));
	appendStringInfo(&buf, ", \"version\": %d}",
					 DatumGetInt32(heap_getattr(tup, att[COL_VERSION_ID], desc, &isnull)));
	omnitask_notify_change(buf.data);
}

/*
 * True for a row stored by restore_row() in this transaction: a new row's
 * meta.lastUpdated is the time the trigger ran, never before the
 * transaction began, while a restored row keeps the time of its version.
 */
static bool
is_restored_row(Relation rel, HeapTuple tup)
{
	const int  *att = task_attnums(rel);
	bool		isnull;
	Datum		d = heap_getattr(tup, att[COL_LAST_UPDATED], RelationGetDescr(rel), &isnull);

	return !isnull && DatumGetTimestampTz(d) < GetCurrentTransactionStartTimestamp();
}

/*
 * AFTER INSERT OR UPDATE FOR EACH ROW on omnitask.task: records the stored
 * version in the history.
 */
Datum
omnitask_task_after(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	const char *operation;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		elog(ERROR, "omnitask_task_after: must be fired AFTER INSERT OR UPDATE FOR EACH ROW");

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event) && restore_lxid == MyProcLxid &&
		is_restored_row(td->tg_relation, td->tg_trigtuple))
		return PointerGetDatum(NULL);	/* its history is restored with it */
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		tup = td->tg_trigtuple;
		operation = omnitask_import_depth > 0 ? "import" : "create";
	}
	else
	{
		tup = td->tg_newtuple;
		operation = "update";
	}
	append_history(td->tg_relation, tup, task_attnums(td->tg_relation), operation);
	if (omnitask_notify)
		notify_change(td->tg_relation, tup, task_attnums(td->tg_relation));
	return PointerGetDatum(NULL);
}

