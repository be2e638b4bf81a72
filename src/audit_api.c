/*-------------------------------------------------------------------------
 *
 * audit_api.c
 *	  SQL-callable functions of the read audit: the audited reads written in
 *	  C (read_task, task_history), audit_read() for other read paths,
 *	  audit_stats(), the guard that keeps omnitask.audit_log append-only and
 *	  audit_purge(), the one way around it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "audit.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "identity.h"
#include "pg_compat.h"
#include "spi_plan.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(omnitask_read_task);
PG_FUNCTION_INFO_V1(omnitask_task_history);
PG_FUNCTION_INFO_V1(omnitask_audit_read);
PG_FUNCTION_INFO_V1(omnitask_audit_stats);
PG_FUNCTION_INFO_V1(omnitask_audit_log_guard);
PG_FUNCTION_INFO_V1(omnitask_audit_purge);

/* True while omnitask.audit_purge() deletes (this transaction only). */
static bool purge_allowed = false;
static LocalTransactionId purge_lxid = InvalidLocalTransactionId;

static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr history_plan = NULL;

/* Raises PT404 as omnitask.not_found() does. */
pg_noreturn static void task_not_found(const char *id);

static void
task_not_found(const char *id)
{
	ereport(ERROR,
			(errcode(MAKE_SQLSTATE('P', 'T', '4', '0', '4')),
			 errmsg("task \"%s\" does not exist", pnstrdup(id, pg_mbcharcliplen(id, strlen(id), 64))),
			 errhint("No task has this id, or it is not visible to you.")));
}

/* SPI_connect(), raising an internal error when it fails. */
static void
spi_connect(void)
{
	int			rc = SPI_connect();

	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
}

/*
 * Looks up one visible task (as the caller: row-level security applies).
 * Returns its first column copied out of SPI (resource or bundle) and sets
 * *patient; false when it is not visible.
 */
static bool
fetch_one(SPIPlanPtr plan, Datum id, Datum *out, char **patient)
{
	bool		isnull;
	char	   *p;
	int			rc;

	*patient = NULL;
	rc = SPI_execute_plan(plan, &id, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	*out = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return false;
	*out = SPI_datumTransfer(*out, false, -1);
	p = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (p)
	{
		/* outside SPI's memory, which SPI_finish() frees */
		*patient = SPI_palloc(strlen(p) + 1);
		strcpy(*patient, p);
	}
	return true;
}

/*
 * One audited read of one task by id: runs the kept plan *plan (prepared
 * from sql the first time) as the caller, records `action` with the task
 * and its patient (or not-found, then raises PT404), and returns the
 * plan's first column.  read_task and task_history differ only in these.
 */
static Datum
audited_read_one(const char *action, SPIPlanPtr *plan, const char *sql, text *id)
{
	char	   *idstr = text_to_cstring(id);
	OmniAuditRead ar;
	Datum		result = (Datum) 0;
	char	   *patient = NULL;
	bool		found;

	omnitask_audit_begin(&ar, action, omnitask_audit_on() ? psprintf("id=%s", idstr) : NULL);
	spi_connect();
	found = fetch_one(spi_plan_keep_text(plan, sql), PointerGetDatum(id), &result, &patient);
	SPI_finish();
	if (!found)
	{
		omnitask_audit_end(&ar, "not-found");
		task_not_found(idstr);
	}
	omnitask_audit_add(&ar, idstr, patient);
	omnitask_audit_end(&ar, "ok");
	return result;
}

/*
 * read_task(id text) -> jsonb: the current version of a visible task (FHIR
 * read), recorded by the read audit; PT404 (recorded as not-found) when it
 * does not exist or is not visible.
 */
Datum
omnitask_read_task(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(audited_read_one("read", &read_plan,
									 "SELECT t.resource, t.patient_id FROM omnitask.task t WHERE t.id = $1",
									 PG_GETARG_TEXT_PP(0)));
}

/*
 * task_history(id text) -> jsonb: every stored version of a visible task as
 * a FHIR history Bundle, newest first, recorded by the read audit; PT404
 * when it does not exist or is not visible.
 */
Datum
omnitask_task_history(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(audited_read_one("history", &history_plan,
									 "SELECT b.bundle, t.patient_id FROM omnitask.task t, LATERAL ("
									 " SELECT pg_catalog.jsonb_build_object("
									 "  'resourceType', 'Bundle', 'type', 'history', 'total', pg_catalog.count(*),"
									 "  'entry', pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
									 "   'fullUrl', 'Task/' || h.id, 'resource', h.resource,"
									 "   'request', pg_catalog.jsonb_build_object("
									 "    'method', CASE WHEN h.operation = 'update' THEN 'PUT' ELSE 'POST' END,"
									 "    'url', CASE WHEN h.operation = 'update' THEN 'Task/' || h.id ELSE 'Task' END),"
									 "   'response', pg_catalog.jsonb_build_object("
									 "    'status', CASE WHEN h.operation = 'update' THEN '200' ELSE '201' END,"
									 "    'etag', 'W/\"' || h.version_id || '\"',"
									 "    'lastModified', h.resource -> 'meta' ->> 'lastUpdated'))"
									 "   ORDER BY h.version_id DESC)) AS bundle, pg_catalog.count(*) AS n"
									 " FROM omnitask.task_history h WHERE h.id = t.id) b"
									 " WHERE t.id = $1 AND b.n > 0",
									 PG_GETARG_TEXT_PP(0)));
}

/* The elements of a text[] argument (NULL: none) as C strings. */
static char **
text_array(ArrayType *arr, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;
	int			i;

	*n = 0;
	if (arr == NULL)
		return NULL;
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	out = palloc(sizeof(char *) * (*n + 1));
	for (i = 0; i < *n; i++)
		out[i] = nulls[i] ? NULL : TextDatumGetCString(elems[i]);
	return out;
}

/*
 * audit_read(action, task_ids, patient_ids, query [, outcome]) -> void:
 * records one read made by a path outside omnitask's own functions (the
 * FHIR HTTP layer, ...), with the caller's identity as omnitask sees it.
 * The patients are recorded as given (de-duplicated).  The five-argument
 * form (0.6) gives the outcome, "ok" or "not-found" (a read of a task that
 * does not exist or is not visible), as read_task records it.
 */
Datum
omnitask_audit_read(PG_FUNCTION_ARGS)
{
	static const char *const actions[] = {"read", "vread", "search", "history", "changes", "report", "export"};
	char	   *action;
	const char *outcome;
	char	  **tasks;
	char	  **patients;
	int			ntasks,
				npatients,
				i;
	OmniAuditRead ar;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("audit action must not be null"),
				 errhint("The action is one of read, vread, search, history, changes, report, export.")));
	action = text_to_cstring(PG_GETARG_TEXT_PP(0));
	for (i = 0; i < (int) lengthof(actions); i++)
		if (strcmp(action, actions[i]) == 0)
			break;
	if (i == (int) lengthof(actions))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized audit action \"%s\"", pnstrdup(action, pg_mbcliplen(action, strlen(action), 64))),
				 errhint("The action is one of read, vread, search, history, changes, report, export.")));
	tasks = text_array(PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1), &ntasks);
	patients = text_array(PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2), &npatients);

	outcome = "ok";
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
	{
		char	   *given = text_to_cstring(PG_GETARG_TEXT_PP(4));

		if (strcmp(given, "not-found") == 0)
			outcome = "not-found";
		else if (strcmp(given, "ok") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized audit outcome \"%s\"", pnstrdup(given, pg_mbcliplen(given, strlen(given), 64))),
					 errhint("The outcome is ok or not-found.")));
	}

	omnitask_audit_begin(&ar, actions[i], PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)));
	for (i = 0; i < Max(ntasks, npatients); i++)
		omnitask_audit_add(&ar, i < ntasks ? tasks[i] : NULL, i < npatients ? patients[i] : NULL);
	omnitask_audit_end(&ar, outcome);
	PG_RETURN_VOID();
}

/* audit_stats() -> record: the queue's counters since server start. */
Datum
omnitask_audit_stats(PG_FUNCTION_ARGS)
{
	return omnitask_audit_stats_datum(fcinfo);
}

/*
 * Trigger of omnitask.audit_log (BEFORE UPDATE OR DELETE OR TRUNCATE, per
 * statement): refuses every change except the DELETE of audit_purge().
 */
Datum
omnitask_audit_log_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "function \"%s\" was not called by trigger manager", "audit_log_guard");
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event) && purge_allowed &&
		purge_lxid == MyProcLxid)
		return PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("table \"omnitask.audit_log\" is append-only"),
			 errdetail("Audit records cannot be updated, deleted or truncated."),
			 errhint("An admin removes old records with omnitask.audit_purge(), which is itself recorded.")));
	PG_RETURN_NULL();
}

/*
 * audit_purge(older_than timestamptz) -> bigint: admin only.  Deletes the
 * audit records recorded before older_than (at least a day ago) as the
 * caller, the trigger letting this one DELETE through, and records the
 * purge itself (action purge, the cut-off, how many) in the server log and
 * through the queue, whatever omnitask.audit says.
 */
Datum
omnitask_audit_purge(PG_FUNCTION_ARGS)
{
	TimestampTz older_than = PG_GETARG_TIMESTAMPTZ(0);
	Datum		arg = TimestampTzGetDatum(older_than);
	Oid			argtype = TIMESTAMPTZOID;
	OmniAuditRead ar;
	int64		n = 0;

	if (!omnitask_caller()->is_admin)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to purge audit records"),
				 errdetail("Only members of omnitask_admin may purge audit records.")));
	if (older_than > GetCurrentTimestamp() - USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot purge audit records younger than one day"),
				 errdetail("The cut-off \"%s\" is less than one day ago.",
						   timestamptz_to_str(older_than)),
				 errhint("Pass a time at least one day in the past.")));

	spi_connect();
	purge_allowed = true;
	purge_lxid = MyProcLxid;
	PG_TRY();
	{
		int			rc = SPI_execute_with_args("DELETE FROM omnitask.audit_log WHERE recorded_at < $1",
											   1, &argtype, &arg, NULL, false, 0);

		if (rc != SPI_OK_DELETE)
			elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
		n = (int64) SPI_processed;
	}
	PG_FINALLY();
	{
		purge_allowed = false;
	}
	PG_END_TRY();
	SPI_finish();

	omnitask_audit_begin(&ar, "purge",
						 psprintf("older_than=%s", timestamptz_to_str(older_than)));
	ar.rows = n;
	omnitask_audit_end_forced(&ar, "ok");
	PG_RETURN_INT64(n);
}
