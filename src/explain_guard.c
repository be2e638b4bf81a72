/*-------------------------------------------------------------------------
 *
 * explain_guard.c
 *	  EXPLAIN ANALYZE must not count the rows row-level security hides.
 *
 * A caller's own leakproof condition (patient_id = ..., id = ..., ranges)
 * runs below the policy's owner filter, so EXPLAIN ANALYZE of a query on
 * omnitask.task or omnitask.task_history shows "Rows Removed by Filter: 1"
 * for a hidden row and nothing for a missing one: an existence oracle.
 * This module's ExplainOneQuery_hook refuses EXPLAIN ANALYZE (42501) of
 * any query that reads a relation of the omnitask schema on which row
 * security is active for the caller (practitioners; admins and auditors
 * see every row and are not filtered).  Plain EXPLAIN stays allowed: its
 * estimates reveal nothing once the PHI columns carry no statistics (see
 * the hardening section of omnitask--0.2--0.3.sql).
 *
 * A hook works only in a backend that has loaded the library: with
 * omnitask in shared_preload_libraries (or session_preload_libraries),
 * always; otherwise only after the session's first omnitask call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/explain.h"
#include "executor/instrument.h"
#include "explain_guard.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "omnitask.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"

static ExplainOneQuery_hook_type prev_explain_hook = NULL;

/*
 * Walker: true when the query tree reads a relation of the omnitask
 * schema on which row security filters the current user (views are
 * already expanded into subqueries; sublinks and CTEs are walked too).
 */
static bool
reads_filtered_relation(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION &&
			get_rel_namespace(rte->relid) == omnitask_namespace_oid() &&
			check_enable_rls(rte->relid, InvalidOid, true) == RLS_ENABLED)
			return true;
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, reads_filtered_relation, context,
								 QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, reads_filtered_relation, context);
}

#if PG_VERSION_NUM < 170000
/*
 * What EXPLAIN does for one query when no hook is set (PostgreSQL 15-16
 * do not export it): plan it, then explain the plan with the planning time
 * and, for BUFFERS, the planner's buffer use.
 */
static void
standard_ExplainOneQuery(Query *query, int cursorOptions, IntoClause *into,
						 ExplainState *es, const char *queryString, ParamListInfo params,
						 QueryEnvironment *queryEnv)
{
	PlannedStmt *plan;
	instr_time	planstart,
				planduration;
	BufferUsage bufusage_start,
				bufusage;

	if (es->buffers)
		bufusage_start = pgBufferUsage;
	INSTR_TIME_SET_CURRENT(planstart);
	plan = pg_plan_query(query, queryString, cursorOptions, params);
	INSTR_TIME_SET_CURRENT(planduration);
	INSTR_TIME_SUBTRACT(planduration, planstart);
	if (es->buffers)
	{
		memset(&bufusage, 0, sizeof(BufferUsage));
		BufferUsageAccumDiff(&bufusage, &pgBufferUsage, &bufusage_start);
	}
	ExplainOnePlan(plan, into, es, queryString, params, queryEnv,
				   &planduration, (es->buffers ? &bufusage : NULL));
}
#endif

/*
 * ExplainOneQuery_hook: refuses EXPLAIN ANALYZE of a query that reads a
 * row-secured omnitask relation as a caller whom the policies filter;
 * otherwise explains as PostgreSQL (or the previous hook) would.
 */
static void
explain_guard(Query *query, int cursorOptions, IntoClause *into,
			  ExplainState *es, const char *queryString, ParamListInfo params,
			  QueryEnvironment *queryEnv)
{
	if (es->analyze && !superuser() &&
		get_namespace_oid("omnitask", true) != InvalidOid &&
		reads_filtered_relation((Node *) query, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to EXPLAIN ANALYZE a query on omnitask's tasks"),
				 errdetail("Row-level security filters this role's view of omnitask.task and omnitask.task_history, and the counts of EXPLAIN ANALYZE would reveal rows it hides."),
				 errhint("Use EXPLAIN without ANALYZE, or ask an omnitask admin.")));

	if (prev_explain_hook)
		prev_explain_hook(query, cursorOptions, into, es, queryString, params, queryEnv);
	else
		standard_ExplainOneQuery(query, cursorOptions, into, es, queryString, params, queryEnv);
}

/* Installs the hook; called once at module load. */
void
omnitask_explain_guard_init(void)
{
	prev_explain_hook = ExplainOneQuery_hook;
	ExplainOneQuery_hook = explain_guard;
}
