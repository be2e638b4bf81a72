/*-------------------------------------------------------------------------
 *
 * api.c
 *	  SQL-callable functions written in C: validate_task() and
 *	  import_task().
 *
 * The everyday calls (create_task, read_task, update_task, ...) are plain
 * SQL over omnitask.task, since the triggers do the work; these two need C:
 * one to expose the validator, one to tell the trigger that an import is
 * under way.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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

/*
 * import_task(resource jsonb) -> jsonb: admin only.  Stores an existing
 * valid Task in whatever status it has, keeping its id (migration from
 * another system); the history records the operation as "import".
 */
Datum
omnitask_import_task(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);
	Datum		arg = JsonbPGetDatum(doc);
	Oid			argtype = JSONBOID;
	Datum		result = (Datum) 0;
	Jsonb	   *outer_doc = omnitask_import_doc;
	bool		isnull;
	int			rc;

	if (!omnitask_caller()->is_admin)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to import tasks"),
				 errdetail("Only members of role \"omnitask_admin\" may import tasks."),
				 errhint("Use omnitask.create_task() to create a new task.")));

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	omnitask_import_depth++;
	omnitask_import_doc = doc;	/* its id is the column default (Citus) */
	PG_TRY();
	{
		rc = SPI_execute_with_args("INSERT INTO omnitask.task (resource) VALUES ($1) RETURNING resource",
								   1, &argtype, &arg, NULL, false, 1);
		if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
			elog(ERROR, "could not insert the imported task: %s", SPI_result_code_string(rc));
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		result = SPI_datumTransfer(result, false, -1);
	}
	PG_FINALLY();
	{
		omnitask_import_depth--;
		omnitask_import_doc = outer_doc;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_DATUM(result);
}
