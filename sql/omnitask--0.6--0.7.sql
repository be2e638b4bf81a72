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

/*
 * part-of:missing=false (the subtasks) in the page's order: a partial index
 * on the tasks that have a partOf, in the default order (search_query.c,
 * presence_ordered).  Without it, 5,000 subtasks of a million tasks were
 * found by a walk of task_priority_idx that gave up, then a bitmap scan of
 * all of them and a sort.  Its cost on writes: the predicate, tested on
 * every written row (search_tokens is already indexed, so no update that was
 * HOT stops being HOT), and one entry for a task with a partOf.
 */
CREATE INDEX task_part_of_priority_idx ON omnitask.task
	(priority DESC, due_at ASC NULLS LAST, authored_on, id) WHERE search_tokens @> '{part-of}';
COMMENT ON INDEX omnitask.task_part_of_priority_idx IS 'The tasks with a partOf (subtasks) in the default order of a search: part-of:missing=false reads its first page here.';


/* ======================================================================
 * Search: dates (issue 17)
 * ====================================================================== */


/* ======================================================================
 * Write path (issue 19)
 * ====================================================================== */
