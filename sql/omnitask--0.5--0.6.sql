/*
 * omnitask 0.5 -> 0.6: FHIR over HTTP (the change feed's cost), search (plans
 * and indexes for the parameters still slow at a million tasks) and the write
 * path (validation cost, the history insert).  CREATE EXTENSION runs 0.1,
 * 0.1--0.2, 0.2--0.3, 0.3--0.4, 0.4--0.5, then this script; ALTER EXTENSION
 * omnitask UPDATE runs the same steps.  One section per piece of work, in
 * this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.6'" to load this file. \quit


/* ======================================================================
 * FHIR over HTTP: the change feed (issue 15)
 * ====================================================================== */


/* ======================================================================
 * Search: columns, dates and statuses (issue 17)
 * ====================================================================== */

-- requester=Type/id reads the requester's tasks in the page's default
-- order (a worklist: "the tasks I asked for"), as owner does
CREATE INDEX task_requester_worklist_idx ON omnitask.task
	(requester, priority DESC, due_at ASC NULLS LAST, authored_on, id);
-- owner:missing=true: "owner_id IS NULL" is no equality, so
-- task_owner_worklist_idx cannot give the order; the unassigned tasks in
-- the default order, and per status (a status list is read per status)
CREATE INDEX task_unowned_worklist_idx ON omnitask.task
	(priority DESC, due_at ASC NULLS LAST, authored_on, id) WHERE owner_id IS NULL;
CREATE INDEX task_unowned_status_idx ON omnitask.task
	(status, priority DESC, due_at ASC NULLS LAST, authored_on, id) WHERE owner_id IS NULL;
-- a status list is read per status in the default order (search.c).  Under
-- row-level security a status comparison cannot be an index condition
-- (enum_eq is not leakproof), so task_status_priority_idx serves only
-- callers without it; a partial index per status serves every caller (the
-- condition proves the predicate).  Each task is in one of them.
DO $$
DECLARE
	s omnitask.task_status;
BEGIN
	FOREACH s IN ARRAY enum_range(NULL::omnitask.task_status) LOOP
		EXECUTE format('CREATE INDEX %I ON omnitask.task (priority DESC, due_at ASC NULLS LAST, authored_on, id) WHERE status = %L',
					   'task_status_' || replace(s::text, '-', '_') || '_idx', s);
	END LOOP;
END
$$;
-- a range of _lastUpdated ("changed since"), authored-on or modified: the
-- page's ids and sort keys are read from the range's index alone (an
-- index-only scan), then the page's documents (search.c); _lastUpdated's
-- index also gives _sort=_lastUpdated
CREATE INDEX task_last_updated_idx ON omnitask.task (last_updated) INCLUDE (priority, due_at, authored_on, id);
DROP INDEX omnitask.task_authored_idx;
CREATE INDEX task_authored_idx ON omnitask.task (authored_on) INCLUDE (priority, due_at, id);
DROP INDEX omnitask.task_modified_idx;
CREATE INDEX task_modified_idx ON omnitask.task (last_modified) INCLUDE (priority, due_at, authored_on, id);


/* ======================================================================
 * Search: tokens and row-level security (issue 17)
 * ====================================================================== */


/* ======================================================================
 * Write path: validation (issue 19)
 * ====================================================================== */


/* ======================================================================
 * Write path: history insert and durable timings (issue 19)
 * ====================================================================== */
