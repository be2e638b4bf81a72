/*-------------------------------------------------------------------------
 *
 * audit_exec.c
 *	  Read audit of statements that read omnitask.task or
 *	  omnitask.task_history themselves: a direct SELECT on the tables, the
 *	  reporting and worklist views (omnitask.tasks, workload, ...), or a
 *	  function of the caller's own that does.
 *
 * An executor hook records one event per such statement, when it ends:
 * action "report" when it goes through one of omnitask's views, "direct"
 * otherwise, with the relations read, the rows returned and, when the
 * result has text columns named id and patient_id, their values.  It does
 * not record:
 *	- the queries of omnitask's API functions that record their own event
 *	  (read_task, search_tasks, task_history, audit_read: bracketed by
 *	  omnitask_audit_suppress_push/pop), nor those of omnitask's PL/pgSQL
 *	  functions (writes, which the history records, and verify()); these are
 *	  recognised through the fmgr hook, which is asked only for PL/pgSQL
 *	  functions of the omnitask schema, so SQL functions still inline;
 *	- statements that are only planned (EXPLAIN without ANALYZE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "audit.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_language.h"
#include "catalog/pg_type.h"
#include "catalog/pg_proc.h"
#include "commands/extension.h"
#include "commands/proclang.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pg_compat.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#define MAX_SUPPRESS	64
#define MAX_SCANS		32

/* Reads being recorded by an API function: their subtransaction levels. */
static int	suppress_level[MAX_SUPPRESS];
static int	nsuppress = 0;

/* Depth of calls of omnitask's PL/pgSQL functions (fmgr hook). */
static int	omni_fn_depth = 0;

/* One statement being recorded. */
typedef struct AuditScan
{
	QueryDesc  *qd;
	int			level;			/* transaction nesting level */
	OmniAuditRead *ar;			/* in the statement's memory */
	MemoryContext cxt;
	int			id_att;			/* result column "id" (0: none) */
	int			patient_att;	/* result column "patient_id" (0: none) */
} AuditScan;

static AuditScan scans[MAX_SCANS];
static int	nscans = 0;

/* A DestReceiver that notes ids, then passes each row on. */
typedef struct AuditDest
{
	DestReceiver pub;
	DestReceiver *inner;
	AuditScan  *scan;
} AuditDest;

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static needs_fmgr_hook_type prev_needs_fmgr_hook = NULL;
static fmgr_hook_type prev_fmgr_hook = NULL;

/*
 * Marks the start of an API read that records itself: the executor hook
 * leaves its queries alone until omnitask_audit_suppress_pop().  Returns
 * the slot to pass to pop (-1: too deep, nothing suppressed).
 */
int
omnitask_audit_suppress_push(void)
{
	if (nsuppress >= MAX_SUPPRESS)
		return -1;
	suppress_level[nsuppress] = GetCurrentTransactionNestLevel();
	return nsuppress++;
}

/* Ends the suppression begun at slot (and any begun after it). */
void
omnitask_audit_suppress_pop(int slot)
{
	if (slot >= 0 && slot < nsuppress)
		nsuppress = slot;
}

/*
 * True for a PL/pgSQL function of the omnitask schema (not set-returning).
 * Functions in the built-in languages (internal, C, SQL: nearly every call)
 * are told apart by their language's fixed OID, without looking up the
 * schema's and the language's names.
 */
static bool
is_omnitask_plpgsql(Oid fn_oid)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	bool		result = false;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(tup))
		return false;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (!proc->proretset &&
		proc->prolang != INTERNALlanguageId && proc->prolang != ClanguageId &&
		proc->prolang != SQLlanguageId &&
		proc->pronamespace == get_namespace_oid("omnitask", true) &&
		proc->prolang == get_language_oid("plpgsql", true))
		result = true;
	ReleaseSysCache(tup);
	return result;
}

/* fmgr hook: which functions we want to see called. */
static bool
audit_needs_fmgr_hook(Oid fn_oid)
{
	if (prev_needs_fmgr_hook && prev_needs_fmgr_hook(fn_oid))
		return true;
	/* with auditing off, nothing to tell apart: keep calls direct */
	return omnitask_audit_on() && is_omnitask_plpgsql(fn_oid);
}

/*
 * fmgr hook: counts the calls of omnitask's PL/pgSQL functions under way.
 * Whether the function is one of them is looked up once per FmgrInfo and
 * kept in *private (1: no, 2: yes) when no other hook shares it.
 */
static void
audit_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	bool		ours;

	if (prev_fmgr_hook)
	{
		prev_fmgr_hook(event, flinfo, private);
		ours = is_omnitask_plpgsql(flinfo->fn_oid);
	}
	else
	{
		if (*private == (Datum) 0)
			*private = is_omnitask_plpgsql(flinfo->fn_oid) ? 2 : 1;
		ours = (*private == 2);
	}
	if (!ours)
		return;
	if (event == FHET_START)
		omni_fn_depth++;
	else if (omni_fn_depth > 0)
		omni_fn_depth--;
}

/*
 * The omnitask relations a statement reads, as "omnitask.a,omnitask.b",
 * or NULL when it reads neither omnitask.task nor omnitask.task_history.
 * *via_view: one of them is a view.
 */
static char *
omnitask_relations_read(PlannedStmt *stmt, bool *via_view)
{
	Oid			nsp = InvalidOid;
	bool		reads_task = false;
	StringInfoData names;
	ListCell   *lc;

	*via_view = false;
	initStringInfo(&names);
	foreach(lc, stmt->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		char	   *relname;

		/*
		 * A relation, or a view: since PostgreSQL 16 the rewriter turns a
		 * view's entry into a subquery that keeps the view's relid (for the
		 * permission check); 15 keeps it as a relation entry.
		 */
		if (!(rte->rtekind == RTE_RELATION ||
			  (rte->rtekind == RTE_SUBQUERY && OidIsValid(rte->relid))) ||
			!(rte_required_perms(stmt, rte) & ACL_SELECT))
			continue;
		if (!OidIsValid(nsp))
		{
			nsp = get_namespace_oid("omnitask", true);
			if (!OidIsValid(nsp))
				return NULL;
		}
		if (get_rel_namespace(rte->relid) != nsp)
			continue;
		relname = get_rel_name(rte->relid);
		if (relname == NULL)
			continue;
		if (strcmp(relname, "task") == 0 || strcmp(relname, "task_history") == 0)
			reads_task = true;
		if (rte->relkind == RELKIND_VIEW)
			*via_view = true;
		appendStringInfo(&names, "%somnitask.%s", names.len ? "," : "", relname);
	}
	return reads_task ? names.data : NULL;
}

/* The 1-based number of a text result column named name, or 0. */
static int
text_column(TupleDesc desc, const char *name)
{
	int			i;

	if (desc == NULL)
		return 0;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && att->atttypid == TEXTOID &&
			strcmp(NameStr(att->attname), name) == 0)
			return i + 1;
	}
	return 0;
}

/* The scan of a QueryDesc, or NULL. */
static AuditScan *
scan_of(QueryDesc *qd)
{
	int			i;

	for (i = 0; i < nscans; i++)
		if (scans[i].qd == qd)
			return &scans[i];
	return NULL;
}

/* ExecutorStart: decides whether this statement is to be recorded. */
static void
audit_ExecutorStart(QueryDesc *qd, int eflags)
{
	char	   *relations;
	bool		via_view;
	MemoryContext old;
	AuditScan  *s;

	if (prev_ExecutorStart)
		prev_ExecutorStart(qd, eflags);
	else
		standard_ExecutorStart(qd, eflags);

	/*
	 * Not recorded: an extension script's statements (CREATE or ALTER
	 * EXTENSION's backfills read omnitask.task; they are the installer's
	 * DDL, not a read, and audit_log may not exist yet or not be committed,
	 * so the writer could not insert the record).
	 */
	if (!omnitask_audit_on() || nsuppress > 0 || omni_fn_depth > 0 ||
		nscans >= MAX_SCANS || (eflags & EXEC_FLAG_EXPLAIN_ONLY) ||
		MyBackendType == B_BG_WORKER || creating_extension)
		return;
	old = MemoryContextSwitchTo(qd->estate->es_query_cxt);
	relations = omnitask_relations_read(qd->plannedstmt, &via_view);
	if (relations == NULL)
	{
		MemoryContextSwitchTo(old);
		return;
	}
	s = &scans[nscans++];
	s->qd = qd;
	s->level = GetCurrentTransactionNestLevel();
	s->cxt = qd->estate->es_query_cxt;
	s->ar = palloc(sizeof(OmniAuditRead));
	omnitask_audit_begin(s->ar, via_view ? "report" : "direct",
						 qd->sourceText ? pnstrdup(qd->sourceText, Min(strlen(qd->sourceText), 4000)) : NULL);
	/* a statement's own functions stay audited: no suppression here */
	omnitask_audit_suppress_pop(s->ar->suppress_slot);
	s->ar->suppress_slot = -1;
	s->ar->relations = relations;
	s->id_att = text_column(qd->tupDesc, "id");
	s->patient_att = text_column(qd->tupDesc, "patient_id");
	MemoryContextSwitchTo(old);
}

/*
 * AuditDest: notes the ids of a row and passes it on.  Per row it only
 * copies the bytes of the id (and patient_id) datums into the record's
 * packed buffer: no C string, no JSON escaping, no allocation but the
 * buffer's own growth (and a detoast, for an out-of-line value).
 */
static bool
audit_receive(TupleTableSlot *slot, DestReceiver *self)
{
	AuditDest  *d = (AuditDest *) self;
	AuditScan  *s = d->scan;
	OmniAuditRead *ar = s->ar;
	MemoryContext old = MemoryContextSwitchTo(s->cxt);
	const char *id = NULL;
	const char *patient = NULL;
	int			idlen = 0;
	int			patientlen = 0;
	bool		isnull;
	Datum		v;

	if (s->id_att && ar->ntasks < AUDIT_MAX_IDS)
	{
		v = slot_getattr(slot, s->id_att, &isnull);
		if (!isnull)
		{
			text	   *t = DatumGetTextPP(v);

			id = VARDATA_ANY(t);
			idlen = VARSIZE_ANY_EXHDR(t);
		}
	}
	if (s->patient_att && ar->npatients < AUDIT_MAX_IDS)
	{
		v = slot_getattr(slot, s->patient_att, &isnull);
		if (!isnull)
		{
			text	   *t = DatumGetTextPP(v);

			patient = VARDATA_ANY(t);
			patientlen = VARSIZE_ANY_EXHDR(t);
		}
	}
	omnitask_audit_add_len(ar, id, idlen, patient, patientlen);
	MemoryContextSwitchTo(old);
	return d->inner->receiveSlot(slot, d->inner);
}

static void
audit_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	AuditDest  *d = (AuditDest *) self;

	d->inner->rStartup(d->inner, operation, typeinfo);
}

static void
audit_shutdown(DestReceiver *self)
{
	AuditDest  *d = (AuditDest *) self;

	d->inner->rShutdown(d->inner);
}

static void
audit_destroy(DestReceiver *self)
{
	/* the inner receiver belongs to the caller, which destroys it */
}

/* Runs the executor (the previous hook or the standard one). */
static void
run_executor(EXECUTOR_RUN_PARAMS(qd, direction, count, execute_once))
{
	if (prev_ExecutorRun)
		prev_ExecutorRun(EXECUTOR_RUN_ARGS(qd, direction, count, execute_once));
	else
		standard_ExecutorRun(EXECUTOR_RUN_ARGS(qd, direction, count, execute_once));
}

/* ExecutorRun: for a recorded statement, looks at the rows it returns. */
static void
audit_ExecutorRun(EXECUTOR_RUN_PARAMS(qd, direction, count, execute_once))
{
	AuditScan  *s = nscans > 0 ? scan_of(qd) : NULL;
	DestReceiver *volatile inner = qd->dest;
	AuditDest	d;

	if (s == NULL || !(s->id_att || s->patient_att) || qd->operation != CMD_SELECT)
	{
		run_executor(EXECUTOR_RUN_ARGS(qd, direction, count, execute_once));
		return;
	}
	memset(&d, 0, sizeof(d));
	d.pub.receiveSlot = audit_receive;
	d.pub.rStartup = audit_startup;
	d.pub.rShutdown = audit_shutdown;
	d.pub.rDestroy = audit_destroy;
	d.pub.mydest = inner->mydest;
	d.inner = inner;
	d.scan = s;
	qd->dest = &d.pub;
	PG_TRY();
	{
		run_executor(EXECUTOR_RUN_ARGS(qd, direction, count, execute_once));
	}
	PG_FINALLY();
	{
		qd->dest = inner;
	}
	PG_END_TRY();
}

/* ExecutorEnd: emits the record of a recorded statement. */
static void
audit_ExecutorEnd(QueryDesc *qd)
{
	AuditScan  *s = nscans > 0 ? scan_of(qd) : NULL;

	if (s)
	{
		MemoryContext old = MemoryContextSwitchTo(s->cxt);
		OmniAuditRead *ar = s->ar;
		int			i = s - scans;

		/* the rows returned, or (no id column) processed */
		if (!(s->id_att || s->patient_att) || qd->operation != CMD_SELECT)
			ar->rows = qd->estate->es_processed;
		memmove(&scans[i], &scans[i + 1], sizeof(AuditScan) * (nscans - i - 1));
		nscans--;
		omnitask_audit_end(ar, "ok");
		MemoryContextSwitchTo(old);
	}
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(qd);
	else
		standard_ExecutorEnd(qd);
}

/* Transaction end: nothing is being recorded any more. */
static void
audit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			nsuppress = 0;
			nscans = 0;
			break;
		default:
			break;
	}
}

/*
 * Rolled-back savepoint: forgets the suppressions and statements begun in
 * it, so that an error caught inside an API read cannot leave the hook
 * switched off for the rest of the transaction.
 */
static void
audit_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	while (nsuppress > 0 && suppress_level[nsuppress - 1] >= level)
		nsuppress--;
	while (nscans > 0 && scans[nscans - 1].level >= level)
		nscans--;
}

/* Installs the hooks (any load, preloaded or not). */
void
omnitask_audit_exec_init(void)
{
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = audit_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = audit_ExecutorRun;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = audit_ExecutorEnd;
	prev_needs_fmgr_hook = needs_fmgr_hook;
	needs_fmgr_hook = audit_needs_fmgr_hook;
	prev_fmgr_hook = fmgr_hook;
	fmgr_hook = audit_fmgr_hook;
	RegisterXactCallback(audit_xact_callback, NULL);
	RegisterSubXactCallback(audit_subxact_callback, NULL);
}
