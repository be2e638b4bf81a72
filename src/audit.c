/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  Read audit records: who read which tasks, when and through what;
 *	  packed once in a compact binary form (audit.h) and emitted as
 *	  omnitask.audit says; rendered as one line of JSON only for the log.
 *
 * Why binary: the first version built a JSON text per read, which the
 * writer then parsed back (json_populate_recordset) to form its row; the
 * packed form costs the reader a few memcpy()s and lets the writer form the
 * heap tuple directly (audit_queue.c).
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
							 "Sets where every read of omnitask's tasks is recorded: off, log (server log), table (omnitask.audit_log) or both.",
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

/* Appends one packed string: int32 length and bytes, cut at max bytes. */
static void
pack_string(StringInfo buf, const char *s, int len, int max)
{
	int32		l = len;

	if (s == NULL)
		l = -1;
	else if (l > max)
		l = pg_mbcliplen(s, len, max);
	appendBinaryStringInfoNT(buf, (const char *) &l, sizeof(int32));
	if (l > 0)
		appendBinaryStringInfoNT(buf, s, l);
}

/*
 * Adds one task returned, and its patient (NULL: unknown), given with
 * their lengths: the executor hook passes the bytes of a text datum
 * without making a C string of them.
 */
void
omnitask_audit_add_len(OmniAuditRead *ar, const char *task_id, int task_len,
					   const char *patient_id, int patient_len)
{
	const char *p;
	const char *end;

	if (!ar->active)
		return;
	ar->rows++;
	if (task_id && ar->ntasks < AUDIT_MAX_IDS)
	{
		pack_string(&ar->task_ids, task_id, task_len, 200);
		ar->ntasks++;
	}
	if (patient_id == NULL || ar->npatients >= AUDIT_MAX_IDS)
		return;
	if (patient_len > 200)
		patient_len = pg_mbcliplen(patient_id, patient_len, 200);
	/* each patient once: a linear scan (a page holds few patients) */
	p = ar->patient_ids.data;
	end = p + ar->patient_ids.len;
	while (p < end)
	{
		int32		l;

		memcpy(&l, p, sizeof(int32));
		p += sizeof(int32);
		if (l == patient_len && memcmp(p, patient_id, l) == 0)
			return;
		p += Max(l, 0);
	}
	pack_string(&ar->patient_ids, patient_id, patient_len, 200);
	ar->npatients++;
}

/* Adds one task returned, and its patient (NULL: unknown). */
void
omnitask_audit_add(OmniAuditRead *ar, const char *task_id, const char *patient_id)
{
	omnitask_audit_add_len(ar, task_id, task_id ? strlen(task_id) : 0,
						   patient_id, patient_id ? strlen(patient_id) : 0);
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

/* Packs a C string (NULL: SQL NULL), cut at max bytes. */
static void
pack_cstring(StringInfo buf, const char *s, int max)
{
	pack_string(buf, s, s ? strlen(s) : 0, max);
}

/*
 * The record, packed as audit.h describes, in the current memory context:
 * identities and ids only, copied as bytes (no JSON escaping here; that is
 * done only for a LOG line).
 */
static StringInfo
pack_record(OmniAuditRead *ar, const char *outcome)
{
	StringInfo	buf = makeStringInfo();
	int64		ts = (int64) GetCurrentTimestamp();
	uint32		db = MyDatabaseId;
	int32		pid = MyProcPid;
	int32		ntasks = ar->ntasks;
	int32		npatients = ar->npatients;
	const OmniCaller *c = omnitask_caller();

	enlargeStringInfo(buf, 256 + ar->task_ids.len + ar->patient_ids.len);
	appendBinaryStringInfoNT(buf, (const char *) &ts, sizeof(int64));
	appendBinaryStringInfoNT(buf, (const char *) &ar->rows, sizeof(int64));
	appendBinaryStringInfoNT(buf, (const char *) &db, sizeof(uint32));
	appendBinaryStringInfoNT(buf, (const char *) &pid, sizeof(int32));
	appendBinaryStringInfoNT(buf, (const char *) &ntasks, sizeof(int32));
	appendBinaryStringInfoNT(buf, (const char *) &npatients, sizeof(int32));
	/* in the order of the AUDIT_S_ enum */
	pack_cstring(buf, ar->action, 64);
	pack_cstring(buf, outcome, 64);
	pack_cstring(buf, c->login_role[0] ? c->login_role : NULL, NAMEDATALEN - 1);
	pack_cstring(buf, c->session_role[0] ? c->session_role : NULL, NAMEDATALEN - 1);
	pack_cstring(buf, c->role_name, NAMEDATALEN - 1);
	pack_cstring(buf, c->practitioner_id[0] ? c->practitioner_id : NULL, PRACTITIONER_ID_MAXLEN);
	pack_cstring(buf, c->claims && c->claims[0] ? c->claims : NULL, AUDIT_CLAIMS_MAX);
	pack_cstring(buf, request_id(), AUDIT_REQID_MAX);
	pack_cstring(buf, client_addr(), 128);
	pack_cstring(buf, application_name && application_name[0] ? application_name : NULL, 64);
	pack_cstring(buf, ar->query, AUDIT_QUERY_MAX);
	pack_cstring(buf, ar->relations, 1000);
	appendBinaryStringInfoNT(buf, ar->task_ids.data, ar->task_ids.len);
	appendBinaryStringInfoNT(buf, ar->patient_ids.data, ar->patient_ids.len);
	return buf;
}

/*
 * Reads one packed string at p (not beyond end); returns the position after
 * it, or NULL when the bytes are malformed (a crashed process may have left
 * a ring in any state).
 */
static const char *
unpack_string(const char *p, const char *end, const char **s, int32 *len)
{
	int32		l;

	if (end - p < (long) sizeof(int32))
		return NULL;
	memcpy(&l, p, sizeof(int32));
	p += sizeof(int32);
	if (l < -1 || l > end - p)
		return NULL;
	*s = l < 0 ? NULL : p;
	*len = l;
	return p + Max(l, 0);
}

/* The next packed string of an unpacked record's ids (already checked). */
const char *
omnitask_audit_next_string(const char *p, const char **s, int32 *len)
{
	int32		l;

	memcpy(&l, p, sizeof(int32));
	p += sizeof(int32);
	*s = l < 0 ? NULL : p;
	*len = l;
	return p + Max(l, 0);
}

/*
 * Unpacks a record (pointers into rec); false when it is malformed.  Every
 * string, id included, is checked to lie within rec.
 */
bool
omnitask_audit_unpack(const char *rec, int len, OmniAuditRecord *out)
{
	const char *p = rec;
	const char *end = rec + len;
	uint32		db;
	int			i;

	if (len < 32)
		return false;
	memcpy(&out->ts, p, sizeof(int64));
	memcpy(&out->rows, p + 8, sizeof(int64));
	memcpy(&db, p + 16, sizeof(uint32));
	out->db = db;
	memcpy(&out->pid, p + 20, sizeof(int32));
	memcpy(&out->ntasks, p + 24, sizeof(int32));
	memcpy(&out->npatients, p + 28, sizeof(int32));
	p += 32;
	if (out->ntasks < 0 || out->ntasks > AUDIT_MAX_IDS ||
		out->npatients < 0 || out->npatients > AUDIT_MAX_IDS)
		return false;
	for (i = 0; i < AUDIT_NSTR; i++)
		if ((p = unpack_string(p, end, &out->str[i], &out->len[i])) == NULL)
			return false;
	out->tasks = p;
	for (i = 0; i < out->ntasks + out->npatients; i++)
	{
		const char *s;
		int32		l;

		if (i == out->ntasks)
			out->patients = p;
		if ((p = unpack_string(p, end, &s, &l)) == NULL || s == NULL)
			return false;
	}
	if (out->npatients == 0)
		out->patients = p;
	return p == end;
}

/* Appends ,"key": and a JSON string of (s, len), or null. */
static void
json_field(StringInfo buf, const char *key, const char *s, int32 len)
{
	appendStringInfo(buf, ",\"%s\":", key);
	if (s == NULL)
		appendStringInfoString(buf, "null");
	else
	{
		char	   *z = pnstrdup(s, len);

		escape_json(buf, z);
		pfree(z);
	}
}

/* Appends ,"key":[...] of n packed strings at p. */
static void
json_array(StringInfo buf, const char *key, const char *p, int n)
{
	int			i;

	appendStringInfo(buf, ",\"%s\":[", key);
	for (i = 0; i < n; i++)
	{
		const char *s;
		int32		l;
		char	   *z;

		p = omnitask_audit_next_string(p, &s, &l);
		if (i > 0)
			appendStringInfoChar(buf, ',');
		z = pnstrdup(s, l);
		escape_json(buf, z);
		pfree(z);
	}
	appendStringInfoChar(buf, ']');
}

/*
 * Writes a packed record to the server log as one line of JSON,
 * "omnitask audit: {...}" (the format of the log mode and of every
 * fallback); a malformed one is logged as such, never skipped silently.
 */
void
omnitask_audit_log_record(const char *rec, int len)
{
	OmniAuditRecord r;
	StringInfoData buf;

	if (!omnitask_audit_unpack(rec, len, &r))
	{
		ereport(LOG,
				(errmsg_internal("omnitask audit: malformed record of %d bytes", len),
				 errhidestmt(true),
				 errhidecontext(true)));
		return;
	}
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"ts\":" INT64_FORMAT, r.ts);
	json_field(&buf, "action", r.str[AUDIT_S_ACTION], r.len[AUDIT_S_ACTION]);
	json_field(&buf, "outcome", r.str[AUDIT_S_OUTCOME], r.len[AUDIT_S_OUTCOME]);
	appendStringInfo(&buf, ",\"db\":%u", r.db);
	json_field(&buf, "login_role", r.str[AUDIT_S_LOGIN_ROLE], r.len[AUDIT_S_LOGIN_ROLE]);
	json_field(&buf, "session_role", r.str[AUDIT_S_SESSION_ROLE], r.len[AUDIT_S_SESSION_ROLE]);
	json_field(&buf, "current_role", r.str[AUDIT_S_CURRENT_ROLE], r.len[AUDIT_S_CURRENT_ROLE]);
	json_field(&buf, "practitioner", r.str[AUDIT_S_PRACTITIONER], r.len[AUDIT_S_PRACTITIONER]);
	json_field(&buf, "claims", r.str[AUDIT_S_CLAIMS], r.len[AUDIT_S_CLAIMS]);
	json_field(&buf, "request_id", r.str[AUDIT_S_REQUEST_ID], r.len[AUDIT_S_REQUEST_ID]);
	json_field(&buf, "client_addr", r.str[AUDIT_S_CLIENT_ADDR], r.len[AUDIT_S_CLIENT_ADDR]);
	json_field(&buf, "application", r.str[AUDIT_S_APPLICATION], r.len[AUDIT_S_APPLICATION]);
	appendStringInfo(&buf, ",\"pid\":%d", r.pid);
	json_field(&buf, "query", r.str[AUDIT_S_QUERY], r.len[AUDIT_S_QUERY]);
	json_field(&buf, "relations", r.str[AUDIT_S_RELATIONS], r.len[AUDIT_S_RELATIONS]);
	appendStringInfo(&buf, ",\"rows\":" INT64_FORMAT, r.rows);
	json_array(&buf, "task_ids", r.tasks, r.ntasks);
	json_array(&buf, "patient_ids", r.patients, r.npatients);
	appendStringInfoChar(&buf, '}');
	ereport(LOG,
			(errmsg_internal("omnitask audit: %s", buf.data),
			 errhidestmt(true),
			 errhidecontext(true)));
	pfree(buf.data);
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
 * Drops a read begun with omnitask_audit_begin() that another path will
 * record (fhir.task_read hands a task it did not find to the PL/pgSQL full
 * read, which records the outcome itself): nothing is emitted, and the
 * executor hook sees the queries that follow again.
 */
void
omnitask_audit_cancel(OmniAuditRead *ar)
{
	if (ar->active)
		omnitask_audit_suppress_pop(ar->suppress_slot);
	ar->active = false;
	ar->suppress_slot = -1;
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
	rec = pack_record(ar, outcome);
	if (mode == AUDIT_LOG || mode == AUDIT_BOTH)
		omnitask_audit_log_record(rec->data, rec->len);
	if (mode == AUDIT_TABLE || mode == AUDIT_BOTH)
	{
		OmniAuditFallback why = omnitask_audit_enqueue(rec->data, rec->len);

		if (why != AUDIT_FB_NONE)
		{
			omnitask_audit_count_fallback(why);
			if (mode == AUDIT_TABLE)
				omnitask_audit_log_record(rec->data, rec->len);
		}
	}
	pfree(rec->data);
	pfree(rec);
}
