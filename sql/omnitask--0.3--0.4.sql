/*
 * omnitask 0.3 -> 0.4: FHIR over HTTP (the change feed), read audit, search
 * (derived columns and indexes, _elements, the stage view), Citus, and the
 * write path.  CREATE EXTENSION runs 0.1, 0.1--0.2, 0.2--0.3, then this
 * script; ALTER EXTENSION omnitask UPDATE runs the same steps.  One section
 * per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.4'" to load this file. \quit


/* ======================================================================
 * FHIR over HTTP: the change feed
 * ====================================================================== */


/* ======================================================================
 * Read audit
 * ====================================================================== */


/* ======================================================================
 * Search: derived columns and indexes
 * ====================================================================== */

/*
 * The search parameters kept in the resource (identifier, group-identifier,
 * business-status, code, performer, part-of, based-on, focus, encounter)
 * get one derived token array under one GIN index, and businessStatus a
 * text for reporting.  Both are derived by the trigger with the other
 * columns (task_columns.c) and checked by verify().  Both carry PHI: no
 * planner statistics (see 0.3, "Planner statistics").
 */
ALTER TABLE omnitask.task ADD COLUMN search_tokens text[] NOT NULL DEFAULT '{}';
ALTER TABLE omnitask.task ADD COLUMN business_status text;
ALTER TABLE omnitask.task ALTER COLUMN search_tokens SET STATISTICS 0;
ALTER TABLE omnitask.task ALTER COLUMN business_status SET STATISTICS 0;
COMMENT ON COLUMN omnitask.task.search_tokens IS 'Search tokens of the elements searched through it: per element present, the search parameter''s name (identifier, group-identifier, business-status, code, performer, part-of, based-on, focus, encounter), and per value "param:code", "param:system|code", "param:|code" (no system), "param:system|", or "param:Type/id" for a reference (| and \ inside escaped with \; a token longer than 256 bytes kept as "param#" and a hash).';
COMMENT ON COLUMN omnitask.task.business_status IS 'Task.businessStatus.text, else the display, else the code of its first coding; NULL without a businessStatus.';

CREATE FUNCTION omnitask.task_search_columns(resource jsonb, OUT search_tokens text[], OUT business_status text)
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_task_search_columns';
COMMENT ON FUNCTION omnitask.task_search_columns(jsonb) IS 'The search_tokens and business_status of a Task resource, as the trigger derives them (used by the 0.4 upgrade for the tasks stored before it).';
REVOKE ALL ON FUNCTION omnitask.task_search_columns(jsonb) FROM PUBLIC;

-- tasks stored before 0.4 (the triggers would treat the update as a write)
ALTER TABLE omnitask.task DISABLE TRIGGER USER;
UPDATE omnitask.task t SET (search_tokens, business_status) =
	(SELECT c.search_tokens, c.business_status FROM omnitask.task_search_columns(t.resource) c);
ALTER TABLE omnitask.task ENABLE TRIGGER USER;

CREATE INDEX task_search_tokens_idx ON omnitask.task USING gin (search_tokens);

CREATE OR REPLACE VIEW omnitask.tasks WITH (security_invoker = true) AS
	SELECT t.id, t.version_id, t.last_updated, t.status, t.intent, t.priority, t.owner_id,
		   t.patient_id, t.requester, t.code, t.description, t.authored_on, t.last_modified,
		   t.due_at,
		   t.status <> ALL (ARRAY(SELECT pg_catalog.unnest(omnitask.terminal_statuses()))) AS is_open,
		   t.status <> ALL (ARRAY(SELECT pg_catalog.unnest(omnitask.terminal_statuses())))
			   AND t.due_at IS NOT NULL AND t.due_at < pg_catalog.now() AS is_overdue,
		   t.business_status
	FROM omnitask.task t;
COMMENT ON VIEW omnitask.tasks IS 'One row per task the caller may see: the derived columns, is_open (not in a terminal status), is_overdue (open and past due_at) and business_status.';


/* ======================================================================
 * Search: _elements, _summary, period and the stage view
 * ====================================================================== */


/* ======================================================================
 * Citus: distributed tables
 * ====================================================================== */


/* ======================================================================
 * Write path and migration
 * ====================================================================== */
