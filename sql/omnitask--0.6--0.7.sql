/*
 * omnitask 0.6 -> 0.7: search (the first page of the searches still over
 * 2 ms at a million tasks: tokens of 0.1-5% of the tasks and a day's dates)
 * and the write path.  CREATE EXTENSION runs 0.1, 0.1--0.2, 0.2--0.3,
 * 0.3--0.4, 0.4--0.5, 0.5--0.6, then this script; ALTER EXTENSION omnitask
 * UPDATE runs the same steps.  One section per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.7'" to load this file. \quit


/* ======================================================================
 * Search: tokens in the page's order (issue 17)
 * ====================================================================== */


/* ======================================================================
 * Search: dates (issue 17)
 * ====================================================================== */

/*
 * One day of authored-on in the page's order.  authored-on=<a day> is the
 * UTC day (search_query.c, date_item); as a range of task_authored_idx,
 * all of the day's rows (5,000 of a million tasks, near the end of the
 * default order) were read and sorted for a page of 20.  As an equality on
 * the first column of task_authored_day_idx, whose next columns are the
 * default order, the index gives the page in order and the LIMIT stops
 * after it; with a code, the walk of the code's page reads the day's rows
 * in order (search.c, SP_WALK).  task_day is LEAKPROOF (it divides an
 * integer, cannot fail and reveals nothing else), so under row-level
 * security the day is an index condition and estimated from the index's
 * statistics.
 */
CREATE FUNCTION omnitask.task_day(timestamptz) RETURNS date
	LANGUAGE c IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_task_day';
COMMENT ON FUNCTION omnitask.task_day(timestamptz) IS 'The day in UTC of an instant, whatever the session''s TimeZone (infinity for an infinite instant), LEAKPROOF: it divides an integer, cannot fail and reveals nothing else about its argument, so under row-level security a search for one day of authored-on (task_day(authored_on) = the day) is an index condition of task_authored_day_idx and is estimated from its statistics.';
-- a search runs as its caller, who executes it
REVOKE ALL ON FUNCTION omnitask.task_day(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.task_day(timestamptz) TO omnitask_admin, omnitask_practitioner, omnitask_auditor;
CREATE INDEX task_authored_day_idx ON omnitask.task
	(omnitask.task_day(authored_on), priority DESC, due_at ASC NULLS LAST, authored_on, id);
COMMENT ON INDEX omnitask.task_authored_day_idx IS 'A search for one day of authored-on in the default order (priority DESC, due_at, authored_on, id): the first rows of the day''s entries are the page.';


/* ======================================================================
 * Write path (issue 19)
 * ====================================================================== */
