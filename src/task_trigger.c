/*-------------------------------------------------------------------------
 *
 * task_trigger.c
 *	  The triggers of omnitask.task: validate, normalise and derive each
 *	  row (BEFORE ... FOR EACH ROW), append the statement's versions to the
 *	  history (AFTER ... FOR EACH ROW, set-based from the statement's
 *	  transition table).
 *
 * Every write path -- the API functions, PostgREST, an ORM, plain INSERT,
 * UPDATE or COPY -- goes through these triggers, so the stored resource is
 * always valid and the derived columns always agree with it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "catalog.h"
#include "fhir_feed.h"
#include "fhir_types.h"
#include "history_checks.h"
#include "identity.h"
#include "jsonb_splice.h"
#include "notify_relay.h"
#include "omnitask.h"
#include "task_columns.h"
#include "task_old_version.h"
#include "task_profile.h"
#include "task_rules.h"
#include "task_trigger.h"
#include "workflow.h"
#include "pg_compat.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/typcache.h"
#include "utils/datetime.h"
#include "nodes/pg_list.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(omnitask_task_before);
PG_FUNCTION_INFO_V1(omnitask_task_after);
PG_FUNCTION_INFO_V1(omnitask_task_id_default);


/* import_task() is storing: keep the id, allow any status. */
int			omnitask_import_depth = 0;

/*
 * On a Citus shard: whether the row being inserted is an import (see
 * shard_import()), for the AFTER trigger's history of the same statement.
 */
static bool shard_import = false;

/* The transaction that restored rows (their history comes with them). */
static LocalTransactionId restore_lxid = InvalidLocalTransactionId;

/* Reused scratch memory for one row's validation. */
static MemoryContext scratch_cxt = NULL;

/* omnitask.revalidate_unchanged: validate every element of every update. */
static bool revalidate_unchanged = false;

/*
 * The last version the BEFORE trigger wrote in this transaction, with its
 * resource as built (uncompressed), for the AFTER triggers of a one-row
 * statement: the stored row they get is read back from the table, where
 * the resource is mostly pglz-compressed, in line or in the TOAST table,
 * and the history keeps it uncompressed (see feed_history_row()); taking
 * it from here saves that fetch and decompression (written_history_row(),
 * task_stored_resource()).  Kept in TopTransactionContext.
 */
typedef struct WrittenVersion
{
	LocalTransactionId lxid;	/* valid in this transaction only */
	Oid			relid;			/* the table it was written to */
	char	   *id;
	int32		version;
	Jsonb	   *resource;
} WrittenVersion;

static WrittenVersion written = {InvalidLocalTransactionId, InvalidOid, NULL, 0, NULL};

/* Defines omnitask.revalidate_unchanged. */
void
omnitask_task_trigger_init(void)
{
	DefineCustomBoolVariable("omnitask.revalidate_unchanged",
							 "Sets whether an update validates again the elements it leaves as they were stored.",
							 "Off: they passed validation when they were stored. Turn it on to re-check them, e.g. with a stricter validator.",
							 &revalidate_unchanged,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	omnitask_history_checks_init();
}

/* A new server-assigned Task id: a random (version 4) UUID. */
static char *
new_task_id(void)
{
	uint8		b[16];

	if (!pg_strong_random(b, sizeof(b)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random task id")));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	return psprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
					b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
					b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/*
 * Whether the trigger fires on a Citus shard of omnitask.task (named
 * task_<shardid>) rather than on the table itself: there the coordinator
 * assigned the id (the column default) and routed the row by it.  By name,
 * so that the per-row path does no catalog look-up.
 */
static bool
on_shard(Relation rel)
{
	return strcmp(RelationGetRelationName(rel), "task") != 0;
}

/*
 * On a shard, an import is a row whose id column already names the id of
 * its resource: import_task()'s column default (task_id_default()) gives
 * the imported Task's own id, where a create gets a new UUID.  The flag of
 * import_task() stays on the coordinator; this is what reaches the worker.
 * Only admins may import, as import_task() checks on the coordinator.
 */
static bool
is_shard_import(HeapTuple newtup, TupleDesc desc, const int *att, const OmniCaller *caller)
{
	bool		isnull;
	Datum		d = heap_getattr(newtup, att[COL_ID], desc, &isnull);
	Jsonb	   *doc;
	JsonbValue *idv;
	char	   *id;

	if (isnull)
		return false;
	doc = DatumGetJsonbP(heap_getattr(newtup, att[COL_RESOURCE], desc, &isnull));
	if (isnull || !JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		return false;
	idv = getKeyJsonValueFromContainer(&doc->root, "id", 2, NULL);
	id = TextDatumGetCString(d);
	if (idv == NULL || idv->type != jbvString || idv->val.string.len != (int) strlen(id) ||
		memcmp(idv->val.string.val, id, idv->val.string.len) != 0)
		return false;
	if (!caller->is_admin)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to import tasks"),
				 errdetail("Only members of role \"omnitask_admin\" may import tasks."),
				 errhint("Use omnitask.create_task() to create a new task.")));
	return true;
}

/*
 * The id a new row already carries: the column default
 * (gen_random_uuid()), evaluated where the INSERT is planned.  Kept so that
 * on Citus, where omnitask.task is distributed by id, the row is stored
 * under the id it was routed by.  Only the table owner may write the
 * column, so it is checked as a superuser's input would be.
 */
static char *
kept_task_id(Datum d)
{
	char	   *id = TextDatumGetCString(d);
	const char *why = NULL;

	if (!fhir_check_string(FP_ID, id, strlen(id), &why))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("invalid FHIR Task: Task.id: \"%s\" is not a valid id", id),
				 errdetail("The value of column \"id\" %s.", why ? why : "is invalid")));
	return id;
}

/* Refuses to import a Task without an id (23514). */
static void
import_needs_id(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("invalid FHIR Task: Task.id: an imported Task needs its id"),
			 errhint("import_task() keeps the id of the Task it is given; use create_task() to have one assigned.")));
}

/* The Task import_task() is storing, for task_id_default(). */
Jsonb	   *omnitask_import_doc = NULL;

/*
 * task_id_default() -> text: the column default of omnitask.task.id.  A new
 * UUID, or during import_task() the id of the Task being imported, so that
 * on Citus the row is routed to the shard of the id it is stored under.
 */
Datum
omnitask_task_id_default(PG_FUNCTION_ARGS)
{
	if (omnitask_import_depth > 0 && omnitask_import_doc != NULL &&
		JB_ROOT_IS_OBJECT(omnitask_import_doc) && !JB_ROOT_IS_SCALAR(omnitask_import_doc))
	{
		JsonbValue *idv = getKeyJsonValueFromContainer(&omnitask_import_doc->root, "id", 2, NULL);

		if (idv != NULL && idv->type == jbvString)
			PG_RETURN_TEXT_P(cstring_to_text_with_len(idv->val.string.val, idv->val.string.len));
		/* on Citus a new id here would reach the shard as a create */
		if (omnitask_task_is_distributed())
			import_needs_id();
	}
	PG_RETURN_TEXT_P(cstring_to_text(new_task_id()));
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
	FhirResult *res;
	char	   *problem = NULL;
	char	   *id;
	int32		version;

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
				 errmsg("invalid FHIR Task: cannot restore task \"%s\"", id),
				 errdetail("The stored resource is refused: %s.", problem)));
	if (strcmp(TextDatumGetCString(values[COL_ID]), id) != 0 ||
		DatumGetInt32(values[COL_VERSION_ID]) != version)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("invalid FHIR Task: cannot restore task \"%s\"", id),
				 errdetail("Its resource is task \"%s\" version %d, but the row has version_id %d.",
						   TextDatumGetCString(values[COL_ID]),
						   DatumGetInt32(values[COL_VERSION_ID]), version)));
	values[COL_RESOURCE] = heap_getattr(newtup, att[COL_RESOURCE], desc, &isnull);
	restore_lxid = MyProcLxid;
	return task_modify_row(newtup, desc, att, values, nulls);
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
	shard_import = false;
	if (is_insert && !tw->is_import && on_shard(row->rel))
		tw->is_import = shard_import =
			is_shard_import(row->newtup, row->desc, row->att, tw->caller);
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
				import_needs_id();
			id = pnstrdup(idv->val.string.val, idv->val.string.len);
		}
		else if (on_shard(row->rel) && !heap_attisnull(row->newtup, row->att[COL_ID], row->desc))
			id = kept_task_id(heap_getattr(row->newtup, row->att[COL_ID], row->desc, &isnull));
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
 * Whether reading the old version to find the unchanged trusted pairs of
 * the new one (its pairs now, doc_size bytes) is likely to cost less than
 * walking them: estimated from the candidates' sizes (see trusted_pairs()).
 */
static bool
trust_pays(const JsonbPairs *now, Size doc_size, Datum old_resource)
{
	int64		saving = 0;
	int			i;

	if (task_old_version_at_hand(old_resource))
		return true;			/* in place, or expanded already: nothing to pay */
	for (i = 0; i < now->npairs; i++)
	{
		const char *k;
		int			len;
		uint32		vlen = now->end[now->npairs + i] - now->end[now->npairs + i - 1];

		jsonb_pairs_key(now, i, &k, &len);
		if (fhir_task_root_element_trusted(k, len))
			saving += (len == 4 && memcmp(k, "text", 4) == 0 ? 20 : 8) * (int64) vlen;
	}
	return saving > 10 * (int64) doc_size;
}

/*
 * An update need not validate again what it leaves as it was: the stored
 * version passed this validator when it was written (an invariant of the
 * table: every write goes through this trigger; a restore validates in
 * full too).  Returns, per root pair of doc, whether it is such a pair --
 * a root element whose value is stored as the same bytes as in the stored
 * version and whose validity depends on its own subtree only
 * (fhir_task_root_element_trusted()) -- for the validator to copy without
 * walking; or NULL: an insert, a Task with contained resources (local
 * references relate elements to them), nothing to leave out, or
 * omnitask.revalidate_unchanged is on.  Every other element (status,
 * statusReason, the facts of the derived columns, inv-1's authoredOn and
 * lastModified, the profile's elements, anything changed) is validated as
 * for a new Task, so the rules they take part in run whole.  The cost is
 * a detoast of the old version and a byte comparison of its pairs; the
 * gain, the walk of the narrative, notes, identifiers and inputs a status
 * change does not touch.  When the old version is compressed or stored
 * out of line, its detoast costs about 10 instructions per byte of it
 * (pglz, measured with test/bench/icount.sh), more than the walk of plain
 * elements saves (about 8 per byte); a narrative's XHTML costs about 20
 * per byte to walk.  So the old version is read only when the candidates
 * are worth it (trust_pays()), or when it costs nothing: stored in place,
 * or expanded already in this write by the edit that built the new version
 * (task_with_status(): see task_old_version.c).
 */
static bool *
trusted_pairs(const TaskWrite *tw, Jsonb *doc)
{
	Jsonb	   *old;
	JsonbPairs	now,
				before;
	bool	   *trusted;
	int			i = 0,
				j = 0,
				ntrusted = 0;

	if (tw->is_insert || revalidate_unchanged ||
		!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc) ||
		getKeyJsonValueFromContainer(&doc->root, "contained", 9, NULL) != NULL)
		return NULL;
	jsonb_pairs_init(&now, &doc->root);
	if (!trust_pays(&now, VARSIZE(doc), tw->old_resource))
		return NULL;
	old = task_old_version(tw->old_resource);
	if (!JB_ROOT_IS_OBJECT(old) || JB_ROOT_IS_SCALAR(old) ||
		getKeyJsonValueFromContainer(&old->root, "contained", 9, NULL) != NULL)
		return NULL;
	jsonb_pairs_init(&before, &old->root);
	trusted = palloc0(sizeof(bool) * now.npairs);
	while (i < now.npairs && j < before.npairs)
	{
		const char *k,
				   *ko;
		int			len,
					leno,
					cmp;

		jsonb_pairs_key(&now, i, &k, &len);
		jsonb_pairs_key(&before, j, &ko, &leno);
		cmp = jsonb_key_cmp(k, len, ko, leno);
		if (cmp == 0 && fhir_task_root_element_trusted(k, len) &&
			jsonb_pairs_values_identical(&now, i, &before, j))
		{
			trusted[i] = true;
			ntrusted++;
		}
		if (cmp <= 0)
			i++;
		if (cmp >= 0)
			j++;
	}
	return ntrusted > 0 ? trusted : NULL;
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

/* Forgets the version remembered by remember_written(). */
static void
forget_written(void)
{
	written.lxid = InvalidLocalTransactionId;
}

/*
 * Remembers the version this BEFORE event writes (its id, number and
 * resource, copied) for written_history_row().
 */
static void
remember_written(Oid relid, const char *id, int32 version, const Jsonb *resource)
{
	MemoryContext old;

	if (written.lxid == MyProcLxid)
	{
		pfree(written.id);
		pfree(written.resource);
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	written.id = pstrdup(id);
	written.resource = palloc(VARSIZE(resource));
	memcpy(written.resource, resource, VARSIZE(resource));
	MemoryContextSwitchTo(old);
	written.relid = relid;
	written.version = version;
	written.lxid = MyProcLxid;
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
	Jsonb	   *stored;

	stored = palloc(VARSIZE(res->normalized));
	memcpy(stored, res->normalized, VARSIZE(res->normalized));
	remember_written(RelationGetRelid(row->rel), tw->id, version, stored);
	task_derive_columns(f, tw->id, version, now,
						(tw->is_import && f->last_modified.text.s) ?
						task_when_timestamp(&f->last_modified, false) : now,
						stored, values, nulls);
	return task_modify_row(row->newtup, row->desc, row->att, values, nulls);
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
		elog(ERROR, "trigger function \"%s\" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW",
			 "omnitask_task_before");

	forget_written();
	begin_write(td, &row, &tw);
	if (tw.is_insert && !heap_attisnull(row.newtup, row.att[COL_ID], row.desc) &&
		!heap_attisnull(row.newtup, row.att[COL_VERSION_ID], row.desc))
		return PointerGetDatum(restore_row(row.rel, row.newtup, row.att));
	doc = written_resource(&row);
	now = GetCurrentTimestamp();
	version = server_owned(&row, &tw, doc, now, &norm);

	/* validation and the rules work in scratch memory, reset per row */
	res = fhir_scratch_result(&scratch_cxt, &outer);
	norm.trusted_pairs = trusted_pairs(&tw, doc);
	fhir_validate_and_normalize_task(doc, &norm, res);
	check_rules(&row, &tw, res, now);
	MemoryContextSwitchTo(outer);

	result = derived_row(&row, &tw, res, version, now);
	MemoryContextReset(scratch_cxt);
	return PointerGetDatum(result);
}

/*
 * The versions a statement stored reach omnitask.task_history set-based:
 * the AFTER triggers carry the statement's transition table (REFERENCING
 * NEW TABLE AS stored_rows), and the first row event of a statement appends
 * every version in it with one INSERT ... SELECT; the statement's other row
 * events find that done and return.  A row-level trigger that inserted its
 * own row paid an executor start-up per row (plan, ResultRelInfo, the
 * CHECK constraint read back from its catalog text, index descriptors),
 * about a third of a bulk insert; here that is paid once per statement.
 *
 * Why not the alternatives.  A ResultRelInfo kept for the statement and fed
 * tuple by tuple would have to redo by hand what the executor does for the
 * history table (its constraints, indexes, the column default of xid, the
 * change feed's BEFORE INSERT trigger feed_restore), and keep doing it as
 * they change; INSERT ... SELECT gets all of them from the executor.  A
 * statement-level trigger is not enough: PostgreSQL queues it only when
 * the statement runs to completion, and an INSERT ... RETURNING executed
 * with a row limit (SPI's tcount: PL/Python's plpy.execute(q, 1), PL/Perl,
 * C) stops early -- its rows would be stored without history.  Row events
 * fire for every stored row however the statement ends, and the transition
 * table holds exactly the rows stored when they fire.
 *
 * The guarantees stay: the insert runs with the rights of the table's owner
 * (users have no INSERT on the history, so it stays append-only and cannot
 * be forged, as PostgreSQL's RI triggers write with the owner's rights), in
 * the writing transaction (crash-safe as before), with the same column
 * values, in the order the statement stored the rows; rows restored in this
 * transaction (restore_row()) are skipped, their history is restored with
 * them.
 */
#define HISTORY_INSERT(from) \
	"INSERT INTO omnitask.task_history " \
	"(id, version_id, operation, status, owner_id, resource, recorded_at, recorded_by, practitioner_id) " \
	"SELECT s.id, s.version_id, $1, s.status, s.owner_id, s.resource, s.last_updated, $2, $3 " \
	"FROM " from " WHERE NOT ($4 AND s.last_updated < $5)"

/*
 * The saved plans of HISTORY_INSERT: from the transition table, and from
 * one row ($6, of the row type of omnitask.task) for a statement that
 * stored one row and for the trigger of an extension not yet updated to
 * 0.3 (ALTER EXTENSION omnitask UPDATE), which has no transition table;
 * that plan's parameter type is the table's row type, which a re-created
 * extension changes.
 */
static SPIPlanPtr history_plan = NULL;
static SPIPlanPtr history_row_plan = NULL;
static Oid	history_row_type = InvalidOid;

/*
 * A statement whose versions are appended, and how many of its row events
 * are still to come.  Kept in TopTransactionContext, so a list of an
 * earlier transaction is never looked at (appended_lxid).  A statement is
 * its transition table in the subtransaction its events fire in: a
 * tuplestore's address may be reused by a later statement only after this
 * one's events are done (its entry is gone) or after an error aborted the
 * subtransaction they fired in (whose id never comes back).  Nested
 * statements (a trigger writing tasks while another statement's events
 * fire) have entries of their own.
 */
typedef struct AppendedStatement
{
	Tuplestorestate *stored;
	SubTransactionId subid;
	int64		events_left;
} AppendedStatement;

static List *appended = NIL;
static LocalTransactionId appended_lxid = InvalidLocalTransactionId;

/*
 * True when the versions of this row event's statement were appended by an
 * earlier event of it (and counts this event); false for the first event,
 * which is to append them.
 */
static bool
statement_appended(Tuplestorestate *stored)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	ListCell   *lc;
	AppendedStatement *st;
	MemoryContext old;

	if (appended_lxid != MyProcLxid)
	{
		appended = NIL;			/* freed with its transaction */
		appended_lxid = MyProcLxid;
	}
	foreach(lc, appended)
	{
		st = lfirst(lc);
		if (st->stored == stored && st->subid == subid)
		{
			if (--st->events_left == 0)
			{
				appended = foreach_delete_current(appended, lc);
				pfree(st);
			}
			return true;
		}
	}
	if (tuplestore_tuple_count(stored) > 1)
	{
		old = MemoryContextSwitchTo(TopTransactionContext);
		st = palloc(sizeof(AppendedStatement));
		st->stored = stored;
		st->subid = subid;
		st->events_left = tuplestore_tuple_count(stored) - 1;
		appended = lappend(appended, st);
		MemoryContextSwitchTo(old);
	}
	return false;
}

/*
 * Prepares and keeps a history insert: parameters operation, recorded_by,
 * practitioner_id, restoring, the transaction's start and, when row_type
 * is valid, the row.
 */
static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid row_type)
{
	Oid			argtypes[6] = {TEXTOID, NAMEOID, TEXTOID, BOOLOID, TIMESTAMPTZOID, row_type};
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed: %s", SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * Whether the BEFORE trigger is the only BEFORE ROW trigger of rel for
 * this event: then the row stored is the row it returned, as built.
 */
static bool
only_before_row_trigger(Relation rel, bool is_insert)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	int			n = 0;
	int			i;

	if (trigdesc == NULL)
		return false;
	for (i = 0; i < trigdesc->numtriggers; i++)
	{
		int16		type = trigdesc->triggers[i].tgtype;

		if (TRIGGER_FOR_ROW(type) && TRIGGER_FOR_BEFORE(type) &&
			(is_insert ? TRIGGER_FOR_INSERT(type) : TRIGGER_FOR_UPDATE(type)))
			n++;
	}
	return n == 1;
}

/*
 * Whether a stored value (compressed in line, or out of line in the TOAST
 * table, compressed or not) expands to rawsize bytes, header included.
 * False for a value stored plain in line: reading it costs nothing.
 */
static bool
stored_size_is(Datum stored, Size rawsize)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(stored);

	if (VARATT_IS_COMPRESSED(v))
		return VARDATA_COMPRESSED_GET_EXTSIZE(v) == rawsize - VARHDRSZ;
	if (VARATT_IS_EXTERNAL_ONDISK(v))
	{
		struct varatt_external toast_pointer;

		VARATT_EXTERNAL_GET_POINTER(toast_pointer, v);
		return (Size) toast_pointer.va_rawsize == rawsize;
	}
	return false;
}

/*
 * Whether the stored row is the version the BEFORE trigger remembered: the
 * same table, id and version, in this transaction, with no other BEFORE ROW
 * trigger that could have changed it, its resource (stored, as the row
 * holds it) compressed or out of line at the size it has expanded.
 */
static bool
is_written_version(Relation rel, HeapTuple tuple, bool is_insert, Datum stored)
{
	TupleDesc	desc = RelationGetDescr(rel);
	const int  *att;
	bool		isnull;

	if (written.lxid != MyProcLxid || written.relid != RelationGetRelid(rel) ||
		!only_before_row_trigger(rel, is_insert))
		return false;
	att = task_attnums(rel);
	return stored_size_is(stored, VARSIZE(written.resource)) &&
		DatumGetInt32(heap_getattr(tuple, att[COL_VERSION_ID], desc, &isnull)) == written.version &&
		strcmp(TextDatumGetCString(heap_getattr(tuple, att[COL_ID], desc, &isnull)), written.id) == 0;
}

/*
 * The resource of a stored row of omnitask.task, for an AFTER ROW trigger
 * of the event that stored it: the version the BEFORE trigger remembered,
 * uncompressed, when it is that row (is_written_version()), else stored,
 * the row's (not NULL) resource value as the caller read it from the
 * tuple.  The task_identifier_claim() trigger reads it twice per
 * plan; the stored value is mostly pglz-compressed or out of line, and
 * such a parameter is fetched and expanded at each read (pglz: about 12
 * instructions per byte).
 */
Datum
task_stored_resource(Relation rel, HeapTuple tuple, bool is_insert, Datum stored)
{
	if (is_written_version(rel, tuple, is_insert, stored))
		return PointerGetDatum(written.resource);
	return stored;
}

/*
 * The stored row of a one-row statement as a composite datum for the
 * history insert, its compressed and out-of-line values expanded
 * (feed_history_row()).  The row is read back from the table, where the
 * resource is mostly pglz-compressed, in line or out of line; when it is
 * the version the BEFORE trigger remembered, the remembered resource is put
 * in its place first, which saves its fetch and decompression (pglz: about
 * 12 instructions per byte).
 */
static Datum
written_history_row(Relation rel, HeapTuple tuple, bool is_insert)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			resource_col = task_attnums(rel)[COL_RESOURCE];
	bool		isnull;
	Datum		stored = heap_getattr(tuple, resource_col, desc, &isnull);

	if (!isnull && is_written_version(rel, tuple, is_insert, stored))
	{
		Datum		resource = PointerGetDatum(written.resource);
		bool		resource_null = false;

		tuple = heap_modify_tuple_by_cols(tuple, desc, 1, &resource_col, &resource, &resource_null);
	}
	return feed_history_row(tuple, desc);
}

/*
 * Appends the versions in the statement's transition table (set_based), or
 * the event's one row, to the history, as the table's owner.  restoring:
 * restore_row() ran in this transaction, so rows older than the
 * transaction are restored ones.
 */
static void
append_history(TriggerData *td, const char *operation, bool restoring, bool set_based)
{
	Relation	rel = td->tg_relation;
	const OmniCaller *c = omnitask_caller();
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	SPIPlanPtr	plan;
	Oid			save_userid;
	int			save_sec;
	volatile int rc = 0;

	values[0] = CStringGetTextDatum(operation);
	values[1] = CStringGetDatum(c->role_name);
	if (c->practitioner_id[0])
		values[2] = CStringGetTextDatum(c->practitioner_id);
	else
		nulls[2] = 'n';
	values[3] = BoolGetDatum(restoring);
	values[4] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	if (set_based &&
		(rc = SPI_register_trigger_data(td)) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed: %s", SPI_result_code_string(rc));
	if (set_based)
		plan = history_plan ? history_plan :
			(history_plan = keep_plan(HISTORY_INSERT("stored_rows s"), 5, InvalidOid));
	else
	{
		if (history_row_plan && history_row_type != rel->rd_rel->reltype)
		{
			SPI_freeplan(history_row_plan);
			history_row_plan = NULL;
		}
		if (history_row_plan == NULL)
		{
			history_row_plan = keep_plan(HISTORY_INSERT("(SELECT ($6).*) s"), 6, rel->rd_rel->reltype);
			history_row_type = rel->rd_rel->reltype;
		}
		plan = history_row_plan;
		values[5] = TRIGGER_FIRED_BY_INSERT(td->tg_event) ?
			written_history_row(rel, td->tg_trigtuple, true) :
			written_history_row(rel, td->tg_newtuple, false);
	}

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	/* the history's CHECK constraints come prepared (history_checks.c) */
	PG_TRY();
	{
		omnitask_history_checks_arm();
		rc = SPI_execute_plan(plan, values, nulls, false, 0);
	}
	PG_FINALLY();
	{
		omnitask_history_checks_disarm();
	}
	PG_END_TRY();
	SetUserIdAndSecContext(save_userid, save_sec);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not append to \"omnitask.task_history\": %s",
			 SPI_result_code_string(rc));
	SPI_finish();
}

/*
 * Queues NOTIFY omnitask_task for a stored version: {"id", "version"} only.
 * Any login may LISTEN (PostgreSQL has no privilege for it), so the payload
 * carries nothing a listener could not learn otherwise: no status, no
 * owner, no clinical content.  It is a hint; a consumer reads the task
 * through row-level security.  Sent after commit, by the relay when there
 * is one (notify_relay.c).
 */
static void
notify_version(StringInfo buf, Datum id, Datum version)
{
	resetStringInfo(buf);
	appendStringInfoString(buf, "{\"id\": ");
	escape_json(buf, TextDatumGetCString(id));
	appendStringInfo(buf, ", \"version\": %d}", DatumGetInt32(version));
	omnitask_notify_change(buf->data);
}

/*
 * Queues the NOTIFY of each version in the transition table but restored
 * ones, reading it through a read pointer of its own, as a scan of it in a
 * query would.
 */
static void
notify_changes(Relation rel, Tuplestorestate *stored, bool restoring)
{
	const int  *att = task_attnums(rel);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
	TimestampTz xact_start = GetCurrentTransactionStartTimestamp();
	StringInfoData buf;
	bool		isnull;

	initStringInfo(&buf);
	tuplestore_select_read_pointer(stored,
								   tuplestore_alloc_read_pointer(stored, EXEC_FLAG_REWIND));
	tuplestore_rescan(stored);
	while (tuplestore_gettupleslot(stored, true, false, slot))
	{
		if (restoring &&
			DatumGetTimestampTz(slot_getattr(slot, att[COL_LAST_UPDATED], &isnull)) < xact_start)
			continue;			/* restored: no new version */
		notify_version(&buf, slot_getattr(slot, att[COL_ID], &isnull),
					   slot_getattr(slot, att[COL_VERSION_ID], &isnull));
	}
	tuplestore_select_read_pointer(stored, 0);
	ExecDropSingleTupleTableSlot(slot);
	pfree(buf.data);
}

/*
 * The same for the one row of the event (a statement that stored one row,
 * or the trigger of an extension not yet updated to 0.3).
 */
static void
notify_row(Relation rel, HeapTuple tup, bool restoring)
{
	const int  *att = task_attnums(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData buf;
	bool		isnull;

	if (restoring &&
		DatumGetTimestampTz(heap_getattr(tup, att[COL_LAST_UPDATED], desc, &isnull)) <
		GetCurrentTransactionStartTimestamp())
		return;
	initStringInfo(&buf);
	notify_version(&buf, heap_getattr(tup, att[COL_ID], desc, &isnull),
				   heap_getattr(tup, att[COL_VERSION_ID], desc, &isnull));
	pfree(buf.data);
}

/*
 * AFTER INSERT and AFTER UPDATE FOR EACH ROW on omnitask.task, with the
 * transition table stored_rows: the first event of a statement records the
 * versions the statement stored in the history and announces them.  Under
 * the AFTER trigger of 0.1 and 0.2 (no transition table: the library is
 * new, the extension not yet updated), each event records its own row.
 */
Datum
omnitask_task_after(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	bool		is_insert;
	bool		restoring;
	bool		set_based;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		elog(ERROR, "trigger function \"%s\" must be fired AFTER INSERT OR UPDATE FOR EACH ROW",
			 "omnitask_task_after");

	if (td->tg_newtable != NULL && statement_appended(td->tg_newtable))
		return PointerGetDatum(NULL);
	is_insert = TRIGGER_FIRED_BY_INSERT(td->tg_event);
	restoring = is_insert && restore_lxid == MyProcLxid;

	/*
	 * A statement that stored one row appends it from the event: the same
	 * row, through a plan that does not read a transition table (one that
	 * does is planned again at each use, more than a single row costs).
	 */
	set_based = td->tg_newtable != NULL && tuplestore_tuple_count(td->tg_newtable) > 1;
	append_history(td, is_insert ? (omnitask_import_depth > 0 || shard_import ? "import" : "create") : "update",
				   restoring, set_based);
	shard_import = false;
	/*
	 * Not on a Citus shard (any relation but omnitask.task itself): its
	 * NOTIFY would reach the worker's listeners, not the coordinator's, and
	 * would make two-phase commit across workers impossible.
	 */
	if (!omnitask_notify || on_shard(td->tg_relation))
		return PointerGetDatum(NULL);
	if (set_based)
		notify_changes(td->tg_relation, td->tg_newtable, restoring);
	else
		notify_row(td->tg_relation, is_insert ? td->tg_trigtuple : td->tg_newtuple, restoring);
	return PointerGetDatum(NULL);
}
