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


/* ======================================================================
 * Search: _elements, _summary, period and the stage view
 * ====================================================================== */

-- period (Task.executionPeriod): the range a period covers, for the search
-- parameter period (search_period.c)
CREATE FUNCTION omnitask.task_period_start(resource jsonb) RETURNS timestamptz
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_task_period_start';
COMMENT ON FUNCTION omnitask.task_period_start(jsonb) IS 'Where Task.executionPeriod begins: the start of executionPeriod.start to its precision (a date without a time: that day in UTC), -infinity when the period has no start, NULL without executionPeriod (or with a start that is not a dateTime). Used by the search parameter period.';
CREATE FUNCTION omnitask.task_period_end(resource jsonb) RETURNS timestamptz
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_task_period_end';
COMMENT ON FUNCTION omnitask.task_period_end(jsonb) IS 'Where Task.executionPeriod ends, exclusive: the end of executionPeriod.end to its precision (a date without a time: the next midnight UTC), infinity when the period has no end, NULL without executionPeriod (or with an end that is not a dateTime). Used by the search parameter period.';
REVOKE ALL ON FUNCTION omnitask.task_period_start(jsonb), omnitask.task_period_end(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.task_period_start(jsonb), omnitask.task_period_end(jsonb)
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;


-- the stage view: how long each task stayed in each businessStatus and with
-- each owner, from the history, and the time per businessStatus and owner
CREATE VIEW omnitask.task_stages WITH (security_invoker = true) AS
	SELECT h.id, h.version_id, h.status, h.business_status, h.owner_id, h.entered_at,
		   CASE WHEN h.next_version = h.version_id + 1 THEN h.next_at END AS left_at,
		   CASE WHEN h.next_version = h.version_id + 1 THEN h.next_at - h.entered_at
				WHEN h.next_version IS NULL AND h.current THEN pg_catalog.now() - h.entered_at END AS time_spent,
		   h.next_version IS NULL AND h.current AS current
	FROM (SELECT h.id, h.version_id, h.status, h.owner_id,
				 coalesce(h.resource #>> '{businessStatus,coding,0,code}', h.resource #>> '{businessStatus,text}') AS business_status,
				 h.recorded_at AS entered_at,
				 pg_catalog.lead(h.version_id) OVER w AS next_version,
				 pg_catalog.lead(h.recorded_at) OVER w AS next_at,
				 EXISTS (SELECT FROM omnitask.task t WHERE t.id = h.id AND t.version_id = h.version_id) AS current
		  FROM omnitask.task_history h
		  WINDOW w AS (PARTITION BY h.id ORDER BY h.version_id)) h;
COMMENT ON VIEW omnitask.task_stages IS 'One row per stored version of each task the caller may see: its status, business_status (the first businessStatus.coding code, else businessStatus.text) and owner_id, when the version was stored (entered_at), when the next one was (left_at) and the time in between (time_spent; until now for the current version, current = true). A version whose next version the caller may not see (a practitioner, after the task was reassigned) has left_at and time_spent NULL: unknown, not zero.';

CREATE VIEW omnitask.stage_time WITH (security_invoker = true) AS
	SELECT s.business_status, s.owner_id,
		   pg_catalog.count(DISTINCT s.id) AS tasks,
		   pg_catalog.sum(s.time_spent) AS total,
		   pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY s.time_spent) AS median_per_version,
		   pg_catalog.count(*) FILTER (WHERE s.current) AS now_in_stage,
		   pg_catalog.count(*) FILTER (WHERE s.time_spent IS NULL) AS unknown
	FROM omnitask.task_stages s
	GROUP BY s.business_status, s.owner_id;
COMMENT ON VIEW omnitask.stage_time IS 'Time spent per businessStatus and owner (either NULL: none), from task_stages: how many tasks were in it, the total time (versions whose end the caller may not see left out), the median time per version, how many tasks are in it now, and how many versions have an unknown end.';
GRANT SELECT ON omnitask.task_stages, omnitask.stage_time
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;

/* ======================================================================
 * Citus: distributed tables
 * ====================================================================== */


/* ======================================================================
 * Write path and migration
 * ====================================================================== */
