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


/* ======================================================================
 * Citus: distributed tables
 * ====================================================================== */


/* ======================================================================
 * Write path and migration
 * ====================================================================== */
