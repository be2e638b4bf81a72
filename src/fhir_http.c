/*-------------------------------------------------------------------------
 *
 * fhir_http.c
 *	  Settings of the FHIR HTTP interface (schema fhir): the base URL of
 *	  absolute links and whether updates must carry If-Match; and the
 *	  answer (PostgREST's response.status and response.headers).
 *
 *	  The settings are superuser-only (PGC_SUSET): a client must not be able
 *	  to turn off the If-Match requirement or redirect the links it is given.
 *	  They are read through the C functions below, so calling one of them
 *	  loads the library first; a placeholder value set by an unprivileged
 *	  session before the library was loaded is then discarded by
 *	  PostgreSQL instead of being believed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "audit.h"
#include "fhir_feed.h"
#include "fhir_http.h"
#include "fhir_validate.h"
#include "miscadmin.h"
#include "spi_plan.h"
#include "lib/stringinfo.h"
#include "catalog/pg_type_d.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

char	   *omnitask_fhir_base_url = NULL;
bool		omnitask_fhir_require_if_match = false;

PG_FUNCTION_INFO_V1(omnitask_fhir_base_url_fn);
PG_FUNCTION_INFO_V1(omnitask_fhir_require_if_match_fn);
PG_FUNCTION_INFO_V1(omnitask_fhir_respond);
PG_FUNCTION_INFO_V1(omnitask_fhir_respond_task);
PG_FUNCTION_INFO_V1(omnitask_fhir_task_read);
PG_FUNCTION_INFO_V1(omnitask_fhir_task_changes);

/* fhir.task_read: the row of an unconditional read, and the full read */
#define READ_QUERY \
	"SELECT t.resource, t.version_id, t.last_updated, t.patient_id FROM omnitask.task t WHERE t.id = $1"
#define READ_FULL_QUERY "SELECT omnitask.fhir_task_read_full($1)"
static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr read_full_plan = NULL;

/*
 * Defines omnitask.fhir_base_url and omnitask.fhir_require_if_match; called
 * from _PG_init before the prefix is reserved.
 */
void
omnitask_fhir_http_init(void)
{
	DefineCustomStringVariable("omnitask.fhir_base_url",
							   "Sets the base URL of the FHIR endpoint used in Location, fullUrl and Bundle links.",
							   "For example https://fhir.example.org/fhir (no trailing slash). Empty gives relative URLs.",
							   &omnitask_fhir_base_url,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("omnitask.fhir_require_if_match",
							 "Sets whether FHIR updates and patches must carry an If-Match header.",
							 "Without one they are refused with HTTP 428.",
							 &omnitask_fhir_require_if_match,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

/*
 * omnitask.fhir_base_url() -> text: the base URL without a trailing slash
 * ("" when unset).
 */
Datum
omnitask_fhir_base_url_fn(PG_FUNCTION_ARGS)
{
	const char *url = omnitask_fhir_base_url ? omnitask_fhir_base_url : "";
	int			len = strlen(url);

	while (len > 0 && url[len - 1] == '/')
		len--;
	PG_RETURN_TEXT_P(cstring_to_text_with_len(url, len));
}

/*
 * omnitask.fhir_require_if_match() -> boolean.
 */
Datum
omnitask_fhir_require_if_match_fn(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(omnitask_fhir_require_if_match);
}

/*
 * Sets PostgREST's response.status and response.headers (JSON text) for the
 * rest of the transaction, as set_config(..., true) does; NULL resets one.
 */
static void
set_response(const char *status, const char *headers)
{
	GucContext	context = superuser() ? PGC_SUSET : PGC_USERSET;

	(void) set_config_option("response.status", status, context, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("response.headers", headers, context, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * omnitask.fhir_respond(status integer, headers jsonb) -> void: sets
 * PostgREST's response.status and response.headers for the rest of the
 * transaction (NULL resets a setting).  In C because every error answer
 * goes through it: as an SQL function of two set_config() calls it could
 * not be inlined and was parsed and planned again in every transaction.
 */
Datum
omnitask_fhir_respond(PG_FUNCTION_ARGS)
{
	char	   *headers = NULL;

	if (!PG_ARGISNULL(1))
	{
		Jsonb	   *jb = PG_GETARG_JSONB_P(1);

		headers = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}
	set_response(PG_ARGISNULL(0) ? NULL : psprintf("%d", PG_GETARG_INT32(0)), headers);
	PG_RETURN_VOID();
}

/*
 * Appends an HTTP-date (RFC 7231 IMF-fixdate, always GMT) of ts, the form
 * of Last-Modified.
 */
static void
append_http_date(StringInfo buf, TimestampTz ts)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) || timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	appendStringInfo(buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
					 days[j2day(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday))],
					 tm.tm_mday, months[tm.tm_mon - 1], tm.tm_year,
					 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * Answers with a stored version of a task: response.status and the headers
 * ETag, Last-Modified and (for writes) Location, built as one JSON text.
 */
static void
respond_task(int status, const char *id, int32 version_id, TimestampTz last_updated, bool with_location)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "[{\"ETag\": \"W/\\\"%d\\\"\"}, {\"Last-Modified\": \"", version_id);
	append_http_date(&buf, last_updated);
	appendStringInfoString(&buf, "\"}");
	if (with_location)
	{
		const char *base = omnitask_fhir_base_url ? omnitask_fhir_base_url : "";
		int			baselen = strlen(base);
		StringInfoData url;

		while (baselen > 0 && base[baselen - 1] == '/')
			baselen--;
		initStringInfo(&url);
		if (baselen > 0)
			appendStringInfo(&url, "%.*s/", baselen, base);
		appendStringInfo(&url, "Task/%s/_history/%d", id, version_id);
		appendStringInfoString(&buf, ", {\"Location\": ");
		escape_json(&buf, url.data);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	set_response(psprintf("%d", status), buf.data);
}

/*
 * omnitask.fhir_respond_task(status integer, id text, version_id integer,
 * last_updated timestamptz, with_location boolean) -> void: respond_task()
 * for the endpoints in PL/pgSQL.  It takes the task's columns rather than
 * its resource, so an answer neither decompresses the resource again nor
 * builds jsonb headers that are then printed back to text.
 */
Datum
omnitask_fhir_respond_task(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("arguments of a task answer must not be null")));
	respond_task(PG_GETARG_INT32(0), text_to_cstring(PG_GETARG_TEXT_PP(1)), PG_GETARG_INT32(2),
				 PG_GETARG_TIMESTAMPTZ(3), PG_GETARG_BOOL(4));
	PG_RETURN_VOID();
}

/*
 * fhir.task_read(id text) -> fhir."application/fhir+json" (GET /Task/{id}).
 * The common request, a read without If-None-Match or If-Modified-Since of
 * a task the caller can see, is answered here: one kept plan (run with the
 * caller's rights, so row-level security and the read audit apply as to
 * any query), the headers built from the row's columns, and the read
 * recorded as read_task records it (action read, the task and its
 * patient).  Anything else (a conditional read, a task that is not found)
 * is left to the PL/pgSQL omnitask.fhir_task_read_full, which answers and
 * records every case; it was the whole endpoint, and a PL/pgSQL call costs
 * about a fifth of a read.
 */
Datum
omnitask_fhir_task_read(PG_FUNCTION_ARGS)
{
	const char *headers = GetConfigOption("request.headers", true, false);
	bool		conditional = headers != NULL &&
		(strstr(headers, "\"if-none-match\"") != NULL || strstr(headers, "\"if-modified-since\"") != NULL);
	Datum		arg = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	char		argnull = PG_ARGISNULL(0) ? 'n' : ' ';
	Datum		result;
	bool		isnull;
	int			rc;

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	if (!conditional && !PG_ARGISNULL(0))
	{
		char	   *id = text_to_cstring(DatumGetTextPP(arg));
		OmniAuditRead ar;

		omnitask_audit_begin(&ar, "read", omnitask_audit_on() ? psprintf("id=%s", id) : NULL);
		rc = SPI_execute_plan(spi_plan_keep_text(&read_plan, READ_QUERY), &arg, NULL, true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not read a task: %s", SPI_result_code_string(rc));
		if (SPI_processed == 1)
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		n1,
						n2,
						n3;
			Datum		resource = SPI_getbinval(tup, desc, 1, &n1);
			Datum		version_id = SPI_getbinval(tup, desc, 2, &n2);
			Datum		last_updated = SPI_getbinval(tup, desc, 3, &n3);

			if (n1 || n2 || n3)
				elog(ERROR, "stored task has a null resource, version or time");
			if (ar.active)
				omnitask_audit_add(&ar, id, SPI_getvalue(tup, desc, 4));
			omnitask_audit_end(&ar, "ok");
			respond_task(200, id, DatumGetInt32(version_id), DatumGetTimestampTz(last_updated), false);
			result = SPI_datumTransfer(resource, false, -1);
			SPI_finish();
			PG_RETURN_DATUM(result);
		}
		/* not found: the full read answers 404 and records it */
		omnitask_audit_cancel(&ar);
	}
	rc = SPI_execute_plan(spi_plan_keep_text(&read_full_plan, READ_FULL_QUERY), &arg, &argnull, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read a task: %s", SPI_result_code_string(rc));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/*
 * The answer to an error of a read endpoint: its OperationOutcome as json
 * text, the FHIR status set (omnitask.fhir_error_answer), or NULL for an
 * error with no FHIR status, which is to be raised again.
 */
static Datum
error_answer(ErrorData *edata, bool *isnull)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	const char *parts[3] = {edata->message, edata->detail, edata->hint};
	Datum		result = (Datum) 0;
	int			i;
	int			rc;

	values[0] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
	for (i = 0; i < 3; i++)
	{
		if (parts[i])
			values[i + 1] = CStringGetTextDatum(parts[i]);
		else
			nulls[i + 1] = 'n';
	}
	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute_with_args("SELECT omnitask.fhir_json(omnitask.fhir_error_answer($1, $2, $3, $4))",
							   4, argtypes, values, nulls, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not answer an error: %s", SPI_result_code_string(rc));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	if (!*isnull)
		result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	return result;
}

/*
 * fhir.task_changes(_cursor text, _count integer) -> application/fhir+json:
 * GET /Task/_history, the change feed's page (omnitask.task_changes_json)
 * answered 200, or an error's OperationOutcome with its FHIR status (a bad
 * cursor or _count: 400).  In C rather than PL/pgSQL: the PL/pgSQL
 * endpoint copied the page of about 200 kB twice (into its variable, then
 * out as its result), 0.6M instructions, 15% of the page.  The page is read
 * in a subtransaction, as PL/pgSQL's EXCEPTION block did, so an error is
 * cleaned up before it is answered; query cancels and assertion failures
 * are raised again, as WHEN OTHERS does not catch them.
 */
Datum
omnitask_fhir_task_changes(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile Datum page = (Datum) 0;
	ErrorData  *volatile edata = NULL;
	Datum		answer;
	bool		isnull;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(ctx);
	PG_TRY();
	{
		page = omnitask_task_changes_json(fcinfo);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(ctx);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(ctx);
	CurrentResourceOwner = owner;
	if (edata == NULL)
	{
		set_response("200", "[]");
		PG_RETURN_DATUM(page);
	}
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || edata->sqlerrcode == ERRCODE_ASSERT_FAILURE)
		ReThrowError(edata);
	answer = error_answer(edata, &isnull);
	if (isnull)
		ReThrowError(edata);
	PG_RETURN_DATUM(answer);
}
