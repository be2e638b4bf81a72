/*-------------------------------------------------------------------------
 *
 * pg_compat.h
 *	  The differences between the PostgreSQL major versions omnitask builds
 *	  against (15 through 18), each behind one small macro, so that the rest
 *	  of the code is written once.  Each entry names the version that changed
 *	  and why.  Include it after "postgres.h".
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_PG_COMPAT_H
#define OMNITASK_PG_COMPAT_H

#include "nodes/plannodes.h"
#include "storage/proc.h"

/*
 * MyProcLxid: this backend's local transaction id (what tells one
 * transaction from the next in per-transaction caches).
 *
 * PostgreSQL 17 moved PGPROC.lxid into PGPROC.vxid (a struct of procNumber
 * and lxid) when it made the virtual transaction id a field of its own;
 * 15 and 16 have PGPROC.lxid.
 */
#if PG_VERSION_NUM >= 170000
#define MyProcLxid	(MyProc->vxid.lxid)
#else
#define MyProcLxid	(MyProc->lxid)
#endif

/*
 * pg_noreturn: marks a function that never returns, written before the
 * declaration (pg_noreturn static void f(void);).
 *
 * PostgreSQL 18 removed pg_attribute_noreturn(), which followed the
 * declarator, in favour of pg_noreturn (C11 _Noreturn where available),
 * which precedes it; 15 to 17 have only the former.  On those, the GCC
 * attribute placed first has the same meaning.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * EXECUTOR_RUN_PARAMS / EXECUTOR_RUN_ARGS: the parameter list of an
 * ExecutorRun hook, and the arguments that pass it on.
 *
 * PostgreSQL 18 removed ExecutorRun's execute_once argument (a plan may now
 * always be run again); 15 to 17 have it.
 */
#if PG_VERSION_NUM >= 180000
#define EXECUTOR_RUN_PARAMS(qd, dir, count, once) \
	QueryDesc *qd, ScanDirection dir, uint64 count
#define EXECUTOR_RUN_ARGS(qd, dir, count, once) qd, dir, count
#else
#define EXECUTOR_RUN_PARAMS(qd, dir, count, once) \
	QueryDesc *qd, ScanDirection dir, uint64 count, bool once
#define EXECUTOR_RUN_ARGS(qd, dir, count, once) qd, dir, count, once
#endif

/*
 * rte_required_perms: the permissions a statement needs on a relation of
 * its range table (ACL_SELECT, ...).
 *
 * PostgreSQL 16 moved RangeTblEntry.requiredPerms into a separate list of
 * RTEPermissionInfo (PlannedStmt.permInfos, found through perminfoindex);
 * 15 keeps it in the range table entry.
 */
#if PG_VERSION_NUM >= 160000
#include "parser/parse_relation.h"
static inline AclMode
rte_required_perms(PlannedStmt *stmt, RangeTblEntry *rte)
{
	if (rte->perminfoindex == 0)
		return 0;
	return getRTEPermissionInfo(stmt->permInfos, rte)->requiredPerms;
}
#else
static inline AclMode
rte_required_perms(PlannedStmt *stmt, RangeTblEntry *rte)
{
	return rte->requiredPerms;
}
#endif

/*
 * exec_init_range_table: ExecInitRangeTable for a range table built by hand
 * (no permission checks, every entry unpruned).
 *
 * PostgreSQL 16 added the list of RTEPermissionInfo, 18 the set of range
 * table indexes that survived initial partition pruning; 15 takes the range
 * table alone.
 */
#if PG_VERSION_NUM >= 180000
#define exec_init_range_table(estate, rtable) \
	ExecInitRangeTable((estate), (rtable), NIL, \
					   bms_add_range(NULL, 1, list_length(rtable)))
#elif PG_VERSION_NUM >= 160000
#define exec_init_range_table(estate, rtable) \
	ExecInitRangeTable((estate), (rtable), NIL)
#else
#define exec_init_range_table(estate, rtable) \
	ExecInitRangeTable((estate), (rtable))
#endif

/*
 * exec_insert_index_tuples: ExecInsertIndexTuples for a plain insert (every
 * index, no arbiter, duplicates are errors).
 *
 * PostgreSQL 16 added the onlySummarizing argument (for HOT updates that
 * touch only summarizing indexes); 15 has none.
 */
#if PG_VERSION_NUM >= 160000
#define exec_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, false)
#else
#define exec_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

#endif							/* OMNITASK_PG_COMPAT_H */
