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
 * see every row and are not filtered).  EXPLAIN ANALYZE EXECUTE of a
 * prepared statement does not pass through that hook, so a
 * ProcessUtility_hook checks the relations the prepared statement depends
 * on the same way.  Plain EXPLAIN stays allowed: its
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
#include "commands/defrem.h"
#include "commands/explain.h"
#include "commands/prepare.h"
#include "executor/instrument.h"
#include "explain_guard.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "catalog.h"
#include "identity.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/plancache.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"

static ExplainOneQuery_hook_type prev_explain_hook = NULL;
static ProcessUtility_hook_type prev_utility_hook = NULL;

/* True when relid is an omnitask relation whose rows RLS filters for us. */
static bool
is_filtered_relation(Oid relid)
{
	return get_rel_namespace(relid) == omnitask_namespace_oid() &&
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED;
}

/* Refuses EXPLAIN ANALYZE: 42501, the same for every query and caller. */
static void
refuse_explain_analyze(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to EXPLAIN ANALYZE a query on omnitask's tasks"),
			 errdetail("Row-level security filters this role's view of omnitask.task and omnitask.task_history, and the counts of EXPLAIN ANALYZE would reveal rows it hides."),
			 errhint("Use EXPLAIN without ANALYZE, or ask an omnitask admin.")));
}

/*
 * True when the guard applies in this database to this caller at all:
 * omnitask is installed, and the caller is neither an admin nor an
 * auditor (whose policies let every row through: nothing is hidden from
 * them).  Superusers act as admins.
 */
static bool
guard_applies(void)
{
	const OmniCaller *c;

	if (superuser() || !OidIsValid(get_namespace_oid("omnitask", true)))
		return false;
	c = omnitask_caller();
	return !(c->is_admin || c->is_auditor);
}

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

		return rte->rtekind == RTE_RELATION && is_filtered_relation(rte->relid);
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
	if (es->analyze && guard_applies() && reads_filtered_relation((Node *) query, NULL))
		refuse_explain_analyze();

	if (prev_explain_hook)
		prev_explain_hook(query, cursorOptions, into, es, queryString, params, queryEnv);
	else
		standard_ExplainOneQuery(query, cursorOptions, into, es, queryString, params, queryEnv);
}

/*
 * ProcessUtility_hook: EXPLAIN ANALYZE EXECUTE name explains the prepared
 * statement's cached plan directly, without ExplainOneQuery_hook; refuse it
 * when the statement depends on a row-secured omnitask relation.
 */
static void
explain_execute_guard(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					  ProcessUtilityContext context, ParamListInfo params,
					  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (parsetree && IsA(parsetree, ExplainStmt))
	{
		ExplainStmt *stmt = (ExplainStmt *) parsetree;
		Query	   *query = (Query *) stmt->query;
		bool		analyze = false;
		ListCell   *lc;

		foreach(lc, stmt->options)
		{
			DefElem    *opt = lfirst_node(DefElem, lc);

			if (strcmp(opt->defname, "analyze") == 0)
				analyze = defGetBoolean(opt);
		}
		if (analyze && IsA(query, Query) && query->commandType == CMD_UTILITY &&
			query->utilityStmt && IsA(query->utilityStmt, ExecuteStmt) && guard_applies())
		{
			PreparedStatement *ps =
				FetchPreparedStatement(((ExecuteStmt *) query->utilityStmt)->name, false);

			if (ps != NULL)
			{
				foreach(lc, ps->plansource->relationOids)
				{
					if (is_filtered_relation(lfirst_oid(lc)))
						refuse_explain_analyze();
				}
			}
		}
	}
	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

/* Installs the hooks; called once at module load. */
void
omnitask_explain_guard_init(void)
{
	prev_explain_hook = ExplainOneQuery_hook;
	ExplainOneQuery_hook = explain_guard;
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = explain_execute_guard;
}
