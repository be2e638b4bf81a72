/*-------------------------------------------------------------------------
 *
 * audit.h
 *	  Read audit: one record per read of omnitask's tasks, written as a LOG
 *	  line and/or, through a queue in shared memory and a background
 *	  worker, as a row of omnitask.audit_log.
 *
 * The C entry point for any read path (SQL functions, the FHIR HTTP layer):
 *
 *		OmniAuditRead ar;
 *
 *		omnitask_audit_begin(&ar, "search", "status=ready&_count=50");
 *		... for each task returned: omnitask_audit_add_task(&ar, id, resource);
 *		omnitask_audit_end(&ar, "ok");
 *
 * begin/end also bracket the path's own queries, so that the executor hook
 * (audit_exec.c) does not record them a second time.  From SQL the same
 * entry point is omnitask.audit_read(action, task_ids, patient_ids, query).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_AUDIT_H
#define OMNITASK_AUDIT_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* omnitask.audit */
typedef enum OmniAuditMode
{
	AUDIT_OFF,
	AUDIT_LOG,					/* a LOG line, written before the read returns */
	AUDIT_TABLE,				/* a row of omnitask.audit_log, through the queue */
	AUDIT_BOTH
} OmniAuditMode;

extern int	omnitask_audit_mode;
extern int	omnitask_audit_queue_kb;

#define AUDIT_MAX_IDS	1000	/* ids kept per record; more are counted only */

/* One read being recorded (on the caller's stack). */
typedef struct OmniAuditRead
{
	bool		active;			/* auditing on when it began */
	int			suppress_slot;	/* see omnitask_audit_suppress_push() */
	const char *action;
	const char *query;
	const char *relations;		/* direct reads: "omnitask.tasks,..." or NULL */
	int64		rows;			/* rows or resources returned */
	int			ntasks;
	int			npatients;
	StringInfoData task_ids;	/* packed: (int32 length, bytes) each */
	StringInfoData patient_ids; /* packed likewise, each patient once */
} OmniAuditRead;

/*
 * A queued record (audit.c packs it, the writer and the log renderer unpack
 * it): a compact binary form, no JSON, so that the reader copies bytes and
 * the writer forms a heap tuple without parsing text.  Layout, unaligned:
 *	int64 ts, int64 rows, uint32 db, int32 pid, int32 ntasks, int32 npatients,
 *	AUDIT_NSTR strings, then ntasks task ids, then npatients patient ids,
 *	each string an int32 length (-1: NULL) followed by its bytes.
 */
enum
{
	AUDIT_S_ACTION,
	AUDIT_S_OUTCOME,
	AUDIT_S_LOGIN_ROLE,
	AUDIT_S_SESSION_ROLE,
	AUDIT_S_CURRENT_ROLE,
	AUDIT_S_PRACTITIONER,
	AUDIT_S_CLAIMS,
	AUDIT_S_REQUEST_ID,
	AUDIT_S_CLIENT_ADDR,
	AUDIT_S_APPLICATION,
	AUDIT_S_QUERY,
	AUDIT_S_RELATIONS,
	AUDIT_NSTR
};

typedef struct OmniAuditRecord
{
	int64		ts;
	int64		rows;
	Oid			db;
	int32		pid;
	int32		ntasks;
	int32		npatients;
	const char *str[AUDIT_NSTR];	/* NULL: SQL NULL; not NUL-terminated */
	int32		len[AUDIT_NSTR];
	const char *tasks;			/* ntasks packed strings */
	const char *patients;		/* npatients packed strings */
} OmniAuditRecord;

/* audit.c: building and emitting a record */
extern void omnitask_audit_init(void);
extern bool omnitask_audit_on(void);
extern void omnitask_audit_begin(OmniAuditRead *ar, const char *action, const char *query);
extern void omnitask_audit_add(OmniAuditRead *ar, const char *task_id, const char *patient_id);
extern void omnitask_audit_add_len(OmniAuditRead *ar, const char *task_id, int task_len,
								   const char *patient_id, int patient_len);
extern void omnitask_audit_add_task(OmniAuditRead *ar, const char *task_id, Jsonb *task);
extern void omnitask_audit_end(OmniAuditRead *ar, const char *outcome);
extern void omnitask_audit_end_forced(OmniAuditRead *ar, const char *outcome);
extern void omnitask_audit_cancel(OmniAuditRead *ar);
extern void omnitask_audit_log_record(const char *rec, int len);
extern bool omnitask_audit_unpack(const char *rec, int len, OmniAuditRecord *out);
extern const char *omnitask_audit_next_string(const char *p, const char **s, int32 *len);

/* audit_exec.c: direct reads of omnitask's tables and views */
extern void omnitask_audit_exec_init(void);
extern int	omnitask_audit_suppress_push(void);
extern void omnitask_audit_suppress_pop(int slot);

/* audit_queue.c: the queue in shared memory and its writer */
typedef enum OmniAuditFallback
{
	AUDIT_FB_NONE,				/* queued */
	AUDIT_FB_NOT_PRELOADED,
	AUDIT_FB_STANDBY,
	AUDIT_FB_NO_QUEUE,
	AUDIT_FB_FULL,
	AUDIT_FB_TOO_LARGE,
	AUDIT_FB_CLOSED
} OmniAuditFallback;

extern void omnitask_audit_queue_init(void);
extern OmniAuditFallback omnitask_audit_enqueue(const char *rec, int len);
extern void omnitask_audit_count_fallback(OmniAuditFallback why);
extern Datum omnitask_audit_stats_datum(FunctionCallInfo fcinfo);

#endif							/* OMNITASK_AUDIT_H */
