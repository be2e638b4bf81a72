/*
 * omnitask 0.7 -> 0.8: search (the first pages still over 2 ms at a million
 * tasks: date ranges across days, a code with a day, the practitioner's
 * plans) and the write path.  CREATE EXTENSION runs 0.1, 0.1--0.2, ...,
 * 0.6--0.7, then this script; ALTER EXTENSION omnitask UPDATE runs the same
 * steps.  One section per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.8'" to load this file. \quit


/* ======================================================================
 * Search: date ranges in the page's order (issue 17)
 * ====================================================================== */

/*
 * A range of modified or _lastUpdated of at most 62 days read day by day
 * in the page's order (search_query.c, days_finish and
 * search_days_source), as a range of authored-on reads
 * task_authored_day_idx: for each day, "task_day(column) = the day", the
 * first entries of the day in the default order, then those sorted for
 * the page.  modified=ge today read the day's 5,000 entries of
 * task_modified_idx and sorted them for a page of 20 (20 million
 * instructions at 1M; 1.8 million day by day).  Each index ends with its
 * column, so that a range's edge within a day ("since 10:00") is an index
 * condition of its first day.  One day of either (modified=2026-11-30) is
 * an equality on the day too (search_query.c, day_condition).  No backfill:
 * CREATE INDEX reads the rows there are.
 */
CREATE INDEX task_modified_day_idx ON omnitask.task
	(omnitask.task_day(last_modified), priority DESC, due_at ASC NULLS LAST, authored_on, id, last_modified);
COMMENT ON INDEX omnitask.task_modified_day_idx IS 'A search for a range of modified of at most two months in the default order (priority DESC, due_at, authored_on, id), one day at a time: the first rows of each day''s entries, merged, are the page.';
CREATE INDEX task_last_updated_day_idx ON omnitask.task
	(omnitask.task_day(last_updated), priority DESC, due_at ASC NULLS LAST, authored_on, id, last_updated);
COMMENT ON INDEX omnitask.task_last_updated_day_idx IS 'A search for a range of _lastUpdated of at most two months in the default order (priority DESC, due_at, authored_on, id), one day at a time: the first rows of each day''s entries, merged, are the page.';


/* ======================================================================
 * Search: codes, days and the practitioner's plans (issue 17)
 * ====================================================================== */


/* ======================================================================
 * Write path (issue 19)
 * ====================================================================== */
