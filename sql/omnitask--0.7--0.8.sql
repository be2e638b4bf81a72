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

/*
 * A code with one day of authored-on ("care coordination authored today")
 * in the page's order.  The code column holds the first coding's code (for
 * reporting), not what the token search compares; the code's tokens are
 * under search_tokens' GIN index, which gives no order.  0.7 counted the
 * day's rows and walked all of them testing the code (search.c,
 * day_counted_first): when none of the day's 5,000 tasks of a million has
 * the code, every one of them was read (38M instructions, 6-10 ms).
 *
 * code_token (task_columns.c, key_column_datum) is to Task.code what
 * business_status_token (0.7) is to businessStatus, keyed by the code
 * alone: of the codings with a code (a key, the token "code:<code>" of any
 * system), none, NULL; one, its key; more, '*'.  code=c with one day of
 * authored-on matches a task exactly when the column equals c's key, or is
 * '*' and search_tokens has c's token; code=system|c and code=|c match
 * only tasks among those, their token tested on them.  Each is read from
 * task_code_token_day_idx (the key, the UTC day, then the default order)
 * in the page's order and the two are merged (search_query.c,
 * search_page_source): the first page reads about a page of entries of
 * each, an empty day none.  texteq and task_day are leakproof: index
 * conditions under row-level security too.  A code without a day (common:
 * the walk of the order finds its page), another order, every code of a
 * system (system|), a list, :not are read from search_tokens as before.
 * The index is partial: a task without a coded Task.code is not in it
 * (its write tests the predicate).  The column keeps no planner
 * statistics, like business_status_token.
 */
ALTER TABLE omnitask.task ADD COLUMN code_token text;
ALTER TABLE omnitask.task ALTER COLUMN code_token SET STATISTICS 0;
COMMENT ON COLUMN omnitask.task.code_token IS 'Of the Task.code codings with a code, the search token "code:<code>" (any system) of the one there is, * when there are more, NULL when there is none (the search''s own: a code of one day read in the page''s order).';

CREATE FUNCTION omnitask.task_code_token(resource jsonb) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_task_code_token';
COMMENT ON FUNCTION omnitask.task_code_token(jsonb) IS 'The code_token of a Task resource, as the trigger derives it (used by the 0.8 upgrade for the tasks stored before it).';
REVOKE ALL ON FUNCTION omnitask.task_code_token(jsonb) FROM PUBLIC;

-- tasks stored before 0.8 (the triggers would treat the update as a write)
ALTER TABLE omnitask.task DISABLE TRIGGER USER;
UPDATE omnitask.task t SET code_token = omnitask.task_code_token(t.resource)
	WHERE t.resource ? 'code';
ALTER TABLE omnitask.task ENABLE TRIGGER USER;

CREATE INDEX task_code_token_day_idx ON omnitask.task
	(code_token, omnitask.task_day(authored_on), priority DESC, due_at ASC NULLS LAST, authored_on, id)
	WHERE code_token IS NOT NULL;
COMMENT ON INDEX omnitask.task_code_token_day_idx IS 'The tasks with a coded Task.code, by code_token and the UTC day of authored_on, in the default order of a search: a code (code, system|code, |code) with one day of authored-on reads its first page here.';


/* ======================================================================
 * Write path (issue 19)
 * ====================================================================== */
