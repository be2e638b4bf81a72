/* omnitask 0.1 -> 0.2: omnitask.verify(), the consistency check for operators. */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.2'" to load this file. \quit

/*
 * Consistency check for operators (after a crash, a restore, a replica).
 */
CREATE FUNCTION omnitask.task_row_problem(task_row omnitask.task) RETURNS text
	LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'omnitask_task_row_problem';
COMMENT ON FUNCTION omnitask.task_row_problem(omnitask.task) IS 'NULL when the row''s resource is a valid stored Task and every derived column agrees with it; otherwise what is wrong.';

CREATE FUNCTION omnitask.verify() RETURNS TABLE (task_id text, problem text)
	LANGUAGE sql STABLE AS
$$
	WITH h AS (
		SELECT h.id, pg_catalog.count(*) AS versions, pg_catalog.min(h.version_id) AS first_version,
			   pg_catalog.max(h.version_id) AS last_version
		FROM omnitask.task_history h GROUP BY h.id)
	SELECT t.id, omnitask.task_row_problem(t)
	FROM omnitask.task t
	WHERE omnitask.task_row_problem(t) IS NOT NULL
	UNION ALL
	SELECT t.id, CASE
			WHEN h.id IS NULL THEN 'the task has no history'
			WHEN h.last_version <> t.version_id THEN
				pg_catalog.format('version_id is %s but the latest history version is %s', t.version_id, h.last_version)
			ELSE pg_catalog.format('the history has gaps: %s versions from %s to %s', h.versions, h.first_version, h.last_version)
		END
	FROM omnitask.task t LEFT JOIN h ON h.id = t.id
	WHERE h.id IS NULL OR h.last_version <> t.version_id OR h.first_version <> 1 OR h.versions <> h.last_version
	UNION ALL
	SELECT t.id, 'the latest history version differs from the current resource'
	FROM omnitask.task t JOIN omnitask.task_history v ON v.id = t.id AND v.version_id = t.version_id
	WHERE v.resource IS DISTINCT FROM t.resource OR v.status IS DISTINCT FROM t.status
	   OR v.owner_id IS DISTINCT FROM t.owner_id
	UNION ALL
	SELECT h.id, 'history without a task'
	FROM h LEFT JOIN omnitask.task t ON t.id = h.id
	WHERE t.id IS NULL
$$;
COMMENT ON FUNCTION omnitask.verify() IS 'Inconsistencies found (none when healthy): derived columns that disagree with the resource, invalid stored resources, version_id not the latest history version, gaps in the history, history without a task. For admins and auditors (it reads every row).';

REVOKE ALL ON FUNCTION omnitask.verify(), omnitask.task_row_problem(omnitask.task) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.verify(), omnitask.task_row_problem(omnitask.task)
	TO omnitask_admin, omnitask_auditor;
