/*-------------------------------------------------------------------------
 *
 * explain_guard.h
 *	  Refuses EXPLAIN ANALYZE of omnitask's row-secured tables to callers
 *	  whom row-level security filters.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_EXPLAIN_GUARD_H
#define OMNITASK_EXPLAIN_GUARD_H

extern void omnitask_explain_guard_init(void);

#endif							/* OMNITASK_EXPLAIN_GUARD_H */
