/*-------------------------------------------------------------------------
 *
 * history_checks.c
 *	  The CHECK constraints of omnitask.task_history, prepared once per
 *	  backend and handed to the executor of each history insert the AFTER
 *	  trigger makes.
 *
 * The executor prepares a relation's CHECK constraints for every new
 * executor state: ExecRelCheck() reads each one back from its catalog text
 * (stringToNode), plans and compiles it, the first time a statement checks
 * a row.  The trigger's history insert (task_trigger.c) is a new executor
 * state per statement -- for a single-row create or status change, per
 * row -- so that was about 33,000 instructions of each status change.
 *
 * Here the same expressions, prepared the same way (expression_planner,
 * ExecInitExpr without a parent), are kept in a memory context of their own
 * and put into the insert's ResultRelInfo right after ExecutorStart, before
 * the first row is checked; ExecRelCheck() then finds them prepared and
 * evaluates them as it always does, for every row.  Nothing is skipped:
 * the executor still checks every constraint of every row, with its own
 * error message; only the re-reading is saved.  Every other insert into
 * the history (a superuser's, a restore's COPY) is untouched.
 *
 * The prepared expressions follow the relation's definition: a relcache
 * invalidation of the history table (ALTER TABLE ... ADD/DROP CONSTRAINT,
 * a re-created extension) marks them stale, and the next insert prepares
 * them again from the relation it opened.  An invalidation can arrive while
 * an executor evaluates them (catalog access during the statement), so a
 * stale set is freed only when no executor holds it; while one does, other
 * inserts get none and the executor prepares its own, as without this file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "history_checks.h"
#include "nodes/execnodes.h"
#include "optimizer/optimizer.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#if PG_VERSION_NUM >= 180000
#include "rewrite/rewriteHandler.h"
#endif

/* ResultRelInfo's prepared CHECK constraints (renamed in PostgreSQL 18). */
#if PG_VERSION_NUM >= 180000
#define RRI_CHECK_EXPRS(rri) ((rri)->ri_CheckConstraintExprs)
#else
#define RRI_CHECK_EXPRS(rri) ((rri)->ri_ConstraintExprs)
#endif

/* The prepared constraints of one relation. */
typedef struct HistoryChecks
{
	MemoryContext cxt;			/* holds this struct and the expressions */
	Oid			relid;
	int			ncheck;
	ExprState **exprs;
	bool		stale;			/* the relation changed since */
	bool		busy;			/* an executor holds the expressions */
	int			holder;			/* the nesting level of the insert holding them */
} HistoryChecks;

static HistoryChecks *checks = NULL;

/*
 * The trigger's insert is starting: the next ExecutorStart is its.  nest:
 * how many trigger inserts are running (one inside another when a trigger
 * on the history writes tasks).
 */
static bool armed = false;
static int	nest = 0;

static ExecutorStart_hook_type prev_ExecutorStart = NULL;

/* Marks the prepared constraints stale when the history table changes. */
static void
history_checks_relcache_callback(Datum arg, Oid relid)
{
	if (checks != NULL && (relid == InvalidOid || relid == checks->relid))
		checks->stale = true;
}

/* Frees the prepared constraints, unless an executor holds them. */
static void
drop_checks(void)
{
	if (checks != NULL && !checks->busy)
	{
		MemoryContextDelete(checks->cxt);
		checks = NULL;
	}
}

/*
 * Prepares rel's CHECK constraints as ExecRelCheck() does, in a context of
 * their own.  NULL when rel has none.
 */
static HistoryChecks *
prepare_checks(Relation rel)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	int			ncheck = constr ? constr->num_check : 0;
	MemoryContext cxt;
	MemoryContext old;
	HistoryChecks *hc;

	if (ncheck == 0)
		return NULL;
	cxt = AllocSetContextCreate(CacheMemoryContext, "omnitask history checks",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	hc = palloc0(sizeof(HistoryChecks));
	hc->cxt = cxt;
	hc->relid = RelationGetRelid(rel);
	hc->ncheck = ncheck;
	hc->exprs = palloc0(ncheck * sizeof(ExprState *));
	PG_TRY();
	{
		for (int i = 0; i < ncheck; i++)
		{
			Expr	   *expr;

#if PG_VERSION_NUM >= 180000
			if (!constr->check[i].ccenforced)
				continue;
#endif
			expr = stringToNode(constr->check[i].ccbin);
#if PG_VERSION_NUM >= 180000
			expr = (Expr *) expand_generated_columns_in_expr((Node *) expr, rel, 1);
#endif
			hc->exprs[i] = ExecInitExpr(expression_planner(expr), NULL);
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	return hc;
}

/*
 * Gives the armed insert's ResultRelInfo the prepared constraints of its
 * relation (preparing them first if they are stale or of another one).
 */
static void
attach_checks(EState *estate)
{
	ResultRelInfo *rri;
	Relation	rel;

	if (list_length(estate->es_opened_result_relations) != 1)
		return;
	rri = linitial(estate->es_opened_result_relations);
	rel = rri->ri_RelationDesc;
	if (RRI_CHECK_EXPRS(rri) != NULL)
		return;
	if (checks != NULL && (checks->stale || checks->relid != RelationGetRelid(rel)))
		drop_checks();
	if (checks == NULL)
		checks = prepare_checks(rel);
	if (checks == NULL || checks->busy || checks->stale ||
		checks->ncheck != RelationGetDescr(rel)->constr->num_check)
		return;
	RRI_CHECK_EXPRS(rri) = checks->exprs;
	checks->busy = true;
	checks->holder = nest;
}

/* ExecutorStart: the armed insert gets the prepared constraints. */
static void
history_checks_ExecutorStart(QueryDesc *qd, int eflags)
{
	bool		mine = armed;

	armed = false;
	if (prev_ExecutorStart)
		prev_ExecutorStart(qd, eflags);
	else
		standard_ExecutorStart(qd, eflags);
	if (mine && qd->operation == CMD_INSERT && !(eflags & EXEC_FLAG_EXPLAIN_ONLY))
		attach_checks(qd->estate);
}

/*
 * Called by the trigger right before it executes its history insert: the
 * next executor to start is that insert's.
 */
void
omnitask_history_checks_arm(void)
{
	nest++;
	armed = true;
}

/*
 * Called after the insert armed last, whether it succeeded or failed: its
 * executor no longer holds the prepared constraints (an insert nested in
 * another leaves the outer one's hold alone).
 */
void
omnitask_history_checks_disarm(void)
{
	armed = false;
	if (checks != NULL && checks->busy && checks->holder == nest)
	{
		checks->busy = false;
		if (checks->stale)
			drop_checks();
	}
	nest--;
}

/* Installs the executor hook and the relcache callback (from _PG_init). */
void
omnitask_history_checks_init(void)
{
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = history_checks_ExecutorStart;
	CacheRegisterRelcacheCallback(history_checks_relcache_callback, (Datum) 0);
}
