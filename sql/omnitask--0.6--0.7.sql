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

/*
 * business-status=system|code (the tasks at a stage of a workflow) in the
 * page's order.  search_tokens keeps a business status's tokens under the
 * GIN index, which gives no order: 1,667 tasks of a million at one stage
 * were a walk of task_priority_idx that gave up, then a bitmap scan of all
 * of them and a sort (3.8 ms).  business_status (0.4) cannot answer it: it
 * holds the text, else the display, else the first code, without the
 * system, for reporting.
 *
 * business_status_token (task_columns.c) holds, of the codings with a
 * system and a code (a key, their search token): none, NULL; one, its key;
 * more, '*'.  A search for one system|code matches a task exactly when the
 * column equals that key, or is '*' and search_tokens has the key; it reads
 * both from task_business_status_token_idx in the page's order and merges
 * them (search_query.c, search_page_source).  The equality is texteq,
 * leakproof: an index condition under row-level security too.  The index
 * is partial: a task without a coded businessStatus is not in it (its
 * write tests the predicate); one with a coded businessStatus adds an
 * entry.  Other forms (code, |code, system|, a list, :not) are read from
 * search_tokens as before.  The column keeps no planner statistics, like
 * business_status.
 */
ALTER TABLE omnitask.task ADD COLUMN business_status_token text;
ALTER TABLE omnitask.task ALTER COLUMN business_status_token SET STATISTICS 0;
COMMENT ON COLUMN omnitask.task.business_status_token IS 'Of the Task.businessStatus codings with a system and a code, the search token "business-status:system|code" of the one there is, * when there are more, NULL when there is none (the search''s own: a stage read in the page''s order).';

CREATE FUNCTION omnitask.task_business_status_token(resource jsonb) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_task_business_status_token';
COMMENT ON FUNCTION omnitask.task_business_status_token(jsonb) IS 'The business_status_token of a Task resource, as the trigger derives it (used by the 0.7 upgrade for the tasks stored before it).';
REVOKE ALL ON FUNCTION omnitask.task_business_status_token(jsonb) FROM PUBLIC;

-- tasks stored before 0.7 (the triggers would treat the update as a write)
ALTER TABLE omnitask.task DISABLE TRIGGER USER;
UPDATE omnitask.task t SET business_status_token = omnitask.task_business_status_token(t.resource)
	WHERE t.resource ? 'businessStatus';
ALTER TABLE omnitask.task ENABLE TRIGGER USER;

CREATE INDEX task_business_status_token_idx ON omnitask.task
	(business_status_token, priority DESC, due_at ASC NULLS LAST, authored_on, id)
	WHERE business_status_token IS NOT NULL;
COMMENT ON INDEX omnitask.task_business_status_token_idx IS 'The tasks with a coded businessStatus, by business_status_token, in the default order of a search: business-status=system|code reads its first page here.';


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
