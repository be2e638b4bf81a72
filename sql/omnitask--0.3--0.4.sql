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


/* ======================================================================
 * Citus: distributed tables
 * ====================================================================== */

/*
 * The id of a new task is the column's default, computed where the INSERT
 * is planned (on Citus: the coordinator, before the row is routed to the
 * shard of that id); on a shard the BEFORE trigger keeps it (on one node it
 * assigns the id itself, as before).  Users may insert the resource column
 * only, so nobody but the table owner chooses an id.
 */
CREATE FUNCTION omnitask.task_id_default() RETURNS text
	LANGUAGE c VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_task_id_default';
COMMENT ON FUNCTION omnitask.task_id_default() IS 'Internal: the default of omnitask.task.id, a new UUID, or during import_task() the id of the imported Task (on Citus the row is routed by it).';
REVOKE ALL ON FUNCTION omnitask.task_id_default() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.task_id_default() TO omnitask_admin, omnitask_practitioner;
ALTER TABLE omnitask.task ALTER COLUMN id SET DEFAULT omnitask.task_id_default();

/*
 * Status change: the new resource is built in PL/pgSQL before the UPDATE,
 * so that the UPDATE has no CASE over non-immutable functions (Citus
 * refuses those in a distributed UPDATE).  Same behaviour as 0.3.
 */
CREATE OR REPLACE FUNCTION omnitask.set_task_status(id text, status text, reason text DEFAULT NULL, if_match integer DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	current_resource jsonb;
	current_version integer;
	next_resource jsonb;
	stored jsonb;
BEGIN
	IF set_task_status.id IS NULL OR set_task_status.status IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'task id and status must not be null';
	END IF;
	SELECT t.resource, t.version_id INTO current_resource, current_version
		FROM omnitask.task t WHERE t.id = set_task_status.id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM omnitask.not_found(set_task_status.id);
	END IF;
	PERFORM omnitask.require_version(set_task_status.id, current_version, set_task_status.if_match,
		'Read the task again and decide on its current status.');
	next_resource := (current_resource - 'statusReason')
		|| pg_catalog.jsonb_build_object('status', set_task_status.status);
	IF reason IS NOT NULL THEN
		next_resource := next_resource
			|| pg_catalog.jsonb_build_object('statusReason', pg_catalog.jsonb_build_object('text', reason));
	END IF;
	UPDATE omnitask.task t SET resource = next_resource
		WHERE t.id = set_task_status.id
		RETURNING t.resource INTO stored;
	RETURN stored;
END
$$;

/*
 * verify() in PL/pgSQL, each row handed to task_row_problem() as an
 * omnitask.task whatever relation it comes from: Citus refuses to plan a query over distributed
 * tables inside an SQL function ("parameterized queries for SQL functions
 * referencing distributed tables are not supported"); a PL/pgSQL query
 * without variables is planned as a plain query.  Same checks as 0.2.
 */
CREATE OR REPLACE FUNCTION omnitask.verify() RETURNS TABLE (task_id text, problem text)
	LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS
$$
BEGIN
	RETURN QUERY
	WITH versions AS (
		SELECT v.id, pg_catalog.count(*) AS n, pg_catalog.min(v.version_id) AS lowest,
			   pg_catalog.max(v.version_id) AS highest
		FROM omnitask.task_history v GROUP BY v.id)
	SELECT t.id, p.problem
	  FROM omnitask.task t,
		   -- on a shard a row is of the shard's type: passed as omnitask.task
		   LATERAL (SELECT omnitask.task_row_problem(t::text::omnitask.task) AS problem) p
	 WHERE p.problem IS NOT NULL
	UNION ALL
	SELECT t.id,
		   CASE WHEN v.id IS NULL THEN 'the task has no history'
				WHEN v.highest <> t.version_id THEN
					pg_catalog.format('version_id is %s but the latest history version is %s', t.version_id, v.highest)
				ELSE pg_catalog.format('the history has gaps: %s versions from %s to %s', v.n, v.lowest, v.highest)
		   END
	  FROM omnitask.task t LEFT JOIN versions v ON v.id = t.id
	 WHERE v.id IS NULL OR v.highest <> t.version_id OR v.lowest <> 1 OR v.n <> v.highest
	UNION ALL
	SELECT t.id, 'the latest history version differs from the current resource'
	  FROM omnitask.task t JOIN omnitask.task_history l ON l.id = t.id AND l.version_id = t.version_id
	 WHERE l.resource IS DISTINCT FROM t.resource OR l.status IS DISTINCT FROM t.status
		OR l.owner_id IS DISTINCT FROM t.owner_id
	UNION ALL
	SELECT v.id, 'history without a task'
	  FROM versions v LEFT JOIN omnitask.task t ON t.id = v.id
	 WHERE t.id IS NULL;
END
$$;

/*
 * One call that distributes omnitask on a Citus cluster (run once on the
 * coordinator, as a superuser, after CREATE EXTENSION citus and omnitask on
 * every node and citus_add_node() of the workers):
 *   - omnitask.practitioner and omnitask.workflow_definition become
 *     reference tables (a copy on every node, which identity and the
 *     workflow read locally);
 *   - omnitask.task is distributed by id, omnitask.task_history colocated
 *     with it (a task and its history on the same shard, so the history
 *     row the trigger appends is local to the shard);
 *   - omnitask's triggers run on the shards, which Citus allows only with
 *     citus.enable_unsafe_triggers (set for this transaction here; the
 *     cluster needs it too, see the README).
 * The coordinator must be in Citus's metadata (citus_set_coordinator_host)
 * so that it keeps a copy of the reference tables.
 */
CREATE FUNCTION omnitask.distribute(shard_count integer DEFAULT 32) RETURNS void
	LANGUAGE plpgsql PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	has_coordinator boolean;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'extension "citus" is not installed in this database',
			HINT = 'Load citus first in shared_preload_libraries, run CREATE EXTENSION citus and add the workers, then call omnitask.distribute().';
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_node WHERE groupid = 0)' INTO has_coordinator;
	IF NOT has_coordinator THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'the Citus coordinator is not in the Citus metadata',
			DETAIL = 'The coordinator must keep a copy of the reference tables omnitask reads for identity and the workflow.',
			HINT = 'Run SELECT citus_set_coordinator_host(''<host>'', <port>) on the coordinator first.';
	END IF;
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	EXECUTE 'SELECT pg_catalog.create_reference_table(''omnitask.practitioner'')';
	EXECUTE 'SELECT pg_catalog.create_reference_table(''omnitask.workflow_definition'')';
	EXECUTE pg_catalog.format('SELECT pg_catalog.create_distributed_table(''omnitask.task'', ''id'', shard_count => %s)',
		distribute.shard_count);
	EXECUTE 'SELECT pg_catalog.create_distributed_table(''omnitask.task_history'', ''id'', colocate_with => ''omnitask.task'')';
	-- the INSERT a shard receives names the id the coordinator assigned:
	-- the writers need the column there (the trigger keeps the id, checked)
	GRANT INSERT (id) ON omnitask.task TO omnitask_admin, omnitask_practitioner;
	-- the coordinator's local copies of the rows are now unused: omnitask's
	-- statement triggers refuse TRUNCATE, so they are held off for it
	PERFORM pg_catalog.set_config('session_replication_role', 'replica', true);
	EXECUTE 'SELECT pg_catalog.truncate_local_data_after_distributing_table(r) FROM pg_catalog.unnest(ARRAY[''omnitask.practitioner'', ''omnitask.workflow_definition'', ''omnitask.task_history'', ''omnitask.task'']::regclass[]) r';
	PERFORM pg_catalog.set_config('session_replication_role', 'origin', true);
END
$$;
COMMENT ON FUNCTION omnitask.distribute(integer) IS 'Citus set-up, run once on the coordinator by a superuser: practitioner and workflow_definition become reference tables, task is distributed by id into shard_count shards and task_history colocated with it. Needs the citus extension and the coordinator in the Citus metadata.';
REVOKE ALL ON FUNCTION omnitask.distribute(integer) FROM PUBLIC;



/* ======================================================================
 * Write path and migration
 * ====================================================================== */
