/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  Read audit records: who read which tasks, when and through what;
 *	  built once as a JSON text and emitted as omnitask.audit says.
 *
 * A record is emitted before the read returns to its caller:
 *
 *	log		a LOG line "omnitask audit: {...}" in the server log, written
 *			by the reading backend itself;
 *	table	handed to the queue in shared memory (audit_queue.c), whose
 *			background worker appends it to omnitask.audit_log; whenever
 *			the queue cannot take it (omnitask not preloaded, a standby,
 *			the queue full for longer than a short wait, no queue free for
 *			this database) it becomes a LOG line instead, and is counted;
 *	both	the LOG line and the queue.
 *
 * The record carries identities and ids, never clinical content.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "audit.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "identity.h"
#include "task_profile.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#define AUDIT_CLAIMS_MAX	2000	/* bytes of request.jwt.claims kept */
#define AUDIT_REQID_MAX		200		/* bytes of x-request-id kept */
#define AUDIT_QUERY_MAX		4000	/* bytes of the query parameters kept */

int			omnitask_audit_mode = AUDIT_OFF;

static const struct config_enum_entry audit_mode_options[] = {
	{"off", AUDIT_OFF, false},
	{"log", AUDIT_LOG, false},
	{"table", AUDIT_TABLE, false},
	{"both", AUDIT_BOTH, false},
	{"on", AUDIT_TABLE, true},
	{NULL, 0, false}
};

/* Defines omnitask.audit and sets up the queue and the executor hook. */
void
omnitask_audit_init(void)
{
	DefineCustomEnumVariable("omnitask.audit",
							 "Records every read of omnitask's tasks: off, log (server log), table (omnitask.audit_log) or both.",
							 "Superuser only, so that the people audited cannot switch it off.",
							 &omnitask_audit_mode,
							 AUDIT_OFF,
							 audit_mode_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	omnitask_audit_queue_init();	/* defines omnitask.audit_queue_size */
	omnitask_audit_exec_init();
}

/* True when reads are being recorded. */
bool
omnitask_audit_on(void)
{
	return omnitask_audit_mode != AUDIT_OFF;
}

/*
 * Starts recording one read.  Also keeps the executor hook from recording
 * the path's own queries until omnitask_audit_end().
 */
void
omnitask_audit_begin(OmniAuditRead *ar, const char *action, const char *query)
{
	memset(ar, 0, sizeof(*ar));
	ar->suppress_slot = -1;
	ar->action = action;
	ar->query = query;
	ar->active = omnitask_audit_on();
	if (!ar->active)
		return;
	ar->suppress_slot = omnitask_audit_suppress_push();
	initStringInfo(&ar->task_ids);
	initStringInfo(&ar->patient_ids);
}

/* Appends a JSON string (cut at max bytes, on a character boundary). */
static void
append_json_cut(StringInfo buf, const char *s, int max)
{
	int			len = strlen(s);

	if (len > max)
	{
		char	   *cut = pnstrdup(s, pg_mbcliplen(s, len, max));

		escape_json(buf, cut);
		pfree(cut);
	}
	else
		escape_json(buf, s);
}

/* Adds one task returned, and its patient (NULL: unknown). */
void
omnitask_audit_add(OmniAuditRead *ar, const char *task_id, const char *patient_id)
{
	int			i;

	if (!ar->active)
		return;
	ar->rows++;
	if (task_id && ar->ntasks < AUDIT_MAX_IDS)
	{
		if (ar->ntasks++ > 0)
			appendStringInfoChar(&ar->task_ids, ',');
		append_json_cut(&ar->task_ids, task_id, 200);
	}
	if (patient_id == NULL || ar->npatients >= AUDIT_MAX_IDS)
		return;
	for (i = 0; i < ar->npatients; i++)
		if (strcmp(ar->patients[i], patient_id) == 0)
			return;
	if (ar->patients == NULL)
		ar->patients = palloc(sizeof(char *) * 16);
	else if ((ar->npatients & (ar->npatients - 1)) == 0 && ar->npatients >= 16)
		ar->patients = repalloc(ar->patients, sizeof(char *) * ar->npatients * 2);
	ar->patients[ar->npatients] = pstrdup(patient_id);
	if (ar->npatients++ > 0)
		appendStringInfoChar(&ar->patient_ids, ',');
	append_json_cut(&ar->patient_ids, patient_id, 200);
}

/* Adds one task returned, its patient taken from Task.for. */
void
omnitask_audit_add_task(OmniAuditRead *ar, const char *task_id, Jsonb *task)
{
	JsonbValue	forv;
	JsonbValue	refv;
	char	   *patient = NULL;

	if (!ar->active)
		return;
	if (task && JB_ROOT_IS_OBJECT(task) &&
		getKeyJsonValueFromContainer(&task->root, "for", 3, &forv) &&
		forv.type == jbvBinary &&
		getKeyJsonValueFromContainer(forv.val.binary.data, "reference", 9, &refv) &&
		refv.type == jbvString)
	{
		FhirSlice	ref = {refv.val.string.val, refv.val.string.len};
		FhirSlice	id = task_reference_id(ref, "Patient");

		if (id.s)
			patient = pnstrdup(id.s, id.len);
	}
	omnitask_audit_add(ar, task_id, patient);
}

/*
 * The value of "x-request-id" in request.headers (a JSON object, as set by
 * PostgREST), or NULL.  A plain scan: a malformed header object must not
 * make the read fail.
 */
static char *
request_id(void)
{
	const char *h = GetConfigOption("request.headers", true, false);
	const char *p;
	StringInfoData out;

	if (h == NULL || (p = strstr(h, "\"x-request-id\"")) == NULL)
		return NULL;
	p += strlen("\"x-request-id\"");
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != ':')
		return NULL;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != '"')
		return NULL;
	initStringInfo(&out);
	while (*p && *p != '"' && out.len < AUDIT_REQID_MAX)
	{
		if (*p == '\\' && p[1])
			p++;
		appendStringInfoChar(&out, *p++);
	}
	if (pg_verifymbstr(out.data, out.len, true))
		return out.data;
	return NULL;
}

/* The client's address, or NULL for a Unix-domain socket. */
static char *
client_addr(void)
{
	LOCAL_FCINFO(fcinfo, 0);
	Datum		addr;

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	addr = inet_client_addr(fcinfo);
	if (fcinfo->isnull)
		return NULL;
	return DatumGetCString(DirectFunctionCall1(inet_out, addr));
}

/* Appends ,"key":"value" (or null). */
static void
add_string(StringInfo buf, const char *key, const char *value, int max)
{
	appendStringInfo(buf, ",\"%s\":", key);
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		append_json_cut(buf, value, max);
}

/* The record as one line of JSON, in the current memory context. */
static StringInfo
build_record(OmniAuditRead *ar, const char *outcome)
{
	StringInfo	buf = makeStringInfo();
	TimestampTz now = GetCurrentTimestamp();
	const OmniCaller *c = omnitask_caller();
	const char *claims = GetConfigOption("request.jwt.claims", true, false);
	char	   *session_role = GetUserNameFromId(GetSessionUserId(), true);

	appendStringInfo(buf, "{\"ts\":" INT64_FORMAT, (int64) now);
	add_string(buf, "action", ar->action, 64);
	add_string(buf, "outcome", outcome, 64);
	appendStringInfo(buf, ",\"db\":%u", MyDatabaseId);
	add_string(buf, "login_role", OidIsValid(GetAuthenticatedUserId()) ?
			   GetUserNameFromId(GetAuthenticatedUserId(), true) : NULL, NAMEDATALEN);
	add_string(buf, "session_role", session_role, NAMEDATALEN);
	add_string(buf, "current_role", c->role_name, NAMEDATALEN);
	add_string(buf, "practitioner", c->practitioner_id[0] ? c->practitioner_id : NULL, 72);
	add_string(buf, "claims", claims && claims[0] ? claims : NULL, AUDIT_CLAIMS_MAX);
	add_string(buf, "request_id", request_id(), AUDIT_REQID_MAX);
	add_string(buf, "client_addr", client_addr(), 128);
	add_string(buf, "application", application_name && application_name[0] ? application_name : NULL, 64);
	appendStringInfo(buf, ",\"pid\":%d", MyProcPid);
	add_string(buf, "query", ar->query, AUDIT_QUERY_MAX);
	add_string(buf, "relations", ar->relations, 1000);
	appendStringInfo(buf, ",\"rows\":" INT64_FORMAT, ar->rows);
	appendStringInfo(buf, ",\"task_ids\":[%s],\"patient_ids\":[%s]}",
					 ar->task_ids.data, ar->patient_ids.data);
	return buf;
}

/* Writes a record to the server log. */
void
omnitask_audit_log_line(const char *json, int len)
{
	ereport(LOG,
			(errmsg_internal("omnitask audit: %.*s", len, json),
			 errhidestmt(true),
			 errhidecontext(true)));
}

static void emit(OmniAuditRead *ar, const char *outcome, int mode);

/*
 * Emits the record of one read (outcome "ok", "not-found", ...), as
 * omnitask.audit says.  Called before the read returns its result.
 */
void
omnitask_audit_end(OmniAuditRead *ar, const char *outcome)
{
	emit(ar, outcome, omnitask_audit_mode);
}

/*
 * Emits a record in both places whatever omnitask.audit says (for events
 * that must never go unrecorded, such as a purge of the log).
 */
void
omnitask_audit_end_forced(OmniAuditRead *ar, const char *outcome)
{
	if (!ar->active)
	{
		ar->active = true;
		initStringInfo(&ar->task_ids);
		initStringInfo(&ar->patient_ids);
	}
	emit(ar, outcome, AUDIT_BOTH);
}

/* Emits the record of one read as mode says. */
static void
emit(OmniAuditRead *ar, const char *outcome, int mode)
{
	StringInfo	rec;

	if (ar->suppress_slot >= 0)
		omnitask_audit_suppress_pop(ar->suppress_slot);
	ar->suppress_slot = -1;
	if (!ar->active)
		return;
	if (mode == AUDIT_OFF)
		mode = AUDIT_TABLE;		/* switched off inside the read: still record it */
	rec = build_record(ar, outcome);
	if (mode == AUDIT_LOG || mode == AUDIT_BOTH)
		omnitask_audit_log_line(rec->data, rec->len);
	if (mode == AUDIT_TABLE || mode == AUDIT_BOTH)
	{
		OmniAuditFallback why = omnitask_audit_enqueue(rec->data, rec->len);

		if (why != AUDIT_FB_NONE)
		{
			omnitask_audit_count_fallback(why);
			if (mode == AUDIT_TABLE)
				omnitask_audit_log_line(rec->data, rec->len);
		}
	}
	pfree(rec->data);
	pfree(rec);
}
