/*-------------------------------------------------------------------------
 *
 * api.c
 *	  SQL-callable functions written in C: validate_task(), import_task()
 *	  and import_batch().
 *
 * The everyday calls (create_task, read_task, update_task, ...) are plain
 * SQL over omnitask.task, since the triggers do the work; these need C:
 * one to expose the validator, the others to tell the trigger that an
 * import is under way.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fhir_validate.h"
#include "fmgr.h"
#include "identity.h"
#include "miscadmin.h"
#include "task_trigger.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(omnitask_validate_task);
PG_FUNCTION_INFO_V1(omnitask_import_task);
PG_FUNCTION_INFO_V1(omnitask_import_batch);

/* The INSERTs of import_task() and import_batch(), planned once per backend. */
static SPIPlanPtr import_plan = NULL;
static SPIPlanPtr import_batch_plan = NULL;
static SPIPlanPtr import_batch_citus_plan = NULL;

/* Scratch memory of validate_task(), and its answer for a valid Task. */
static MemoryContext validate_cxt = NULL;
static Jsonb *valid_outcome = NULL;

/*
 * validate_task(resource jsonb) -> jsonb: FHIR $validate against base R4
 * Task.  Returns an OperationOutcome listing every problem found; it never
 * raises for bad content.
 */
Datum
omnitask_validate_task(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);
	MemoryContext outer;
	FhirResult *res;
	Jsonb	   *outcome;
	Jsonb	   *result;

	/* scratch memory reused from call to call, emptied each time */
	res = fhir_scratch_result(&validate_cxt, &outer);
	fhir_validate_task(doc, res);
	if (res->nissues == 0 && !res->truncated)
	{
		/* the common answer is always the same document: build it once */
		if (valid_outcome == NULL)
		{
			MemoryContextSwitchTo(TopMemoryContext);
			valid_outcome = fhir_outcome_jsonb(res);
			MemoryContextSwitchTo(validate_cxt);
		}
		outcome = valid_outcome;
	}
	else
		outcome = fhir_outcome_jsonb(res);
	MemoryContextSwitchTo(outer);
	result = palloc(VARSIZE(outcome));
	memcpy(result, outcome, VARSIZE(outcome));
	MemoryContextReset(validate_cxt);
	PG_RETURN_JSONB_P(result);
}

/* Refuses an import by anyone but an admin. */
static void
check_importer(void)
{
	if (!omnitask_caller()->is_admin)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to import tasks"),
				 errdetail("Only members of role \"omnitask_admin\" may import tasks."),
				 errhint("Use omnitask.create_task() to create a new task.")));
}

/*
 * Runs the kept import INSERT *plan (prepared from sql with one parameter
 * of type argtype the first time) with arg, as an import: the trigger
 * keeps ids, statuses and times and records "import".  doc, when the
 * statement stores one Task, is that Task: the id column's default reads its
 * id (on Citus the row is routed by id before any trigger runs).  Returns
 * the rows stored (at most tcount; 0 = all) through SPI_tuptable; the
 * caller is connected to SPI.
 */
static uint64
run_import(SPIPlanPtr *plan, const char *sql, Oid argtype, Datum arg, long tcount,
		   Jsonb *doc)
{
	int			rc = 0;
	Jsonb	   *outer_doc = omnitask_import_doc;

	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, 1, &argtype);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the insert of imported tasks: %s",
				 SPI_result_code_string(SPI_result));
		*plan = p;
	}
	omnitask_import_depth++;
	omnitask_import_doc = doc;
	PG_TRY();
	{
		rc = SPI_execute_plan(*plan, &arg, NULL, false, tcount);
	}
	PG_FINALLY();
	{
		omnitask_import_depth--;
		omnitask_import_doc = outer_doc;
	}
	PG_END_TRY();
	if (rc != SPI_OK_INSERT_RETURNING && rc != SPI_OK_INSERT)
		elog(ERROR, "could not insert the imported tasks: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * import_task(resource jsonb) -> jsonb: admin only.  Stores an existing
 * valid Task in whatever status it has, keeping its id (migration from
 * another system); the history records the operation as "import".
 */
Datum
omnitask_import_task(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);
	Datum		result;
	bool		isnull;
	int			rc;

	check_importer();
	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	if (run_import(&import_plan, "INSERT INTO omnitask.task (resource) VALUES ($1) RETURNING resource",
				   JSONBOID, JsonbPGetDatum(doc), 1, doc) != 1)
		elog(ERROR, "could not insert the imported task");
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * import_batch(resources jsonb[]) -> integer: admin only.  import_task()
 * for many Tasks in one INSERT ... SELECT, in array order (the history of
 * the whole batch is appended set-based: the function scan of unnest()
 * gives the rows in array order); all or nothing.  import_tasks()
 * stores a chunk of its input this way and falls back to one Task at a
 * time only for a chunk that fails.
 */
Datum
omnitask_import_batch(PG_FUNCTION_ARGS)
{
	uint64		n;
	int			rc;

	check_importer();
	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	/*
	 * On Citus each row is routed by its id before any trigger runs, and the
	 * column default cannot tell the rows of a batch apart: the INSERT names
	 * each Task's own id (the shard's trigger sees an import, as for
	 * import_task()).  A Task without an id fails the batch, which
	 * import_tasks() then stores one by one, reporting it.
	 */
	if (omnitask_task_is_distributed())
		n = run_import(&import_batch_citus_plan,
					   "INSERT INTO omnitask.task (id, resource) SELECT r ->> 'id', r FROM pg_catalog.unnest($1) AS r",
					   JSONBARRAYOID, PG_GETARG_DATUM(0), 0, NULL);
	else
		n = run_import(&import_batch_plan,
					   "INSERT INTO omnitask.task (resource) SELECT r FROM pg_catalog.unnest($1) AS r",
					   JSONBARRAYOID, PG_GETARG_DATUM(0), 0, NULL);
	SPI_finish();
	PG_RETURN_INT32((int32) n);
}
