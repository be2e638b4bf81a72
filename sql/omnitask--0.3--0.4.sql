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
-- the default only filled the column while it was added: from now on the
-- trigger derives it (NOT NULL is checked after it).  Without a default an
-- INSERT names no column but resource (and id): on Citus the coordinator
-- writes every column that has a default into the shard's INSERT, which
-- the writers may not insert into.
ALTER TABLE omnitask.task ALTER COLUMN search_tokens DROP DEFAULT;

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

/* the parameters and result parameters as of 0.4 */
COMMENT ON FUNCTION omnitask.search_tasks_query(text, boolean) IS 'FHIR search on Task from the query string as it arrives (e.g. owner:missing=true&status=ready&_count=20, URL-encoded): a searchset Bundle of the tasks the caller may see. Parameters _id, _lastUpdated, authored-on, based-on, business-status, code, due-date, encounter, focus, group-identifier, identifier, intent, modified, owner, part-of, patient, performer, period, priority, requester, status, subject; comma = OR, repetition = AND; token system|code; date prefixes eq ne lt gt le ge sa eb over the range of the value''s precision (a date without a time is that day in UTC); modifiers :missing (every parameter) and :not (tokens); _sort, _count (1-1000, default 50), _offset, _total=none|estimate|accurate, _summary=count|true|text|data|false, _elements (mandatory elements kept, meta.tag SUBSETTED), _revinclude[:iterate]=Task:part-of (at most 1000 included). An unrecognized parameter raises 22023 naming it unless lenient (Prefer: handling=lenient), which ignores it; a bad value raises 22023 naming the parameter.';

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
 * The status change builds its new resource before the UPDATE (no CASE over
 * non-immutable functions, which Citus refuses in a distributed UPDATE):
 * set_task_status is replaced once, in "Write path and migration" below.
 */

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

/*
 * set_task_status builds the new version of the Task before its UPDATE and
 * passes it as a parameter: the UPDATE holds no non-immutable function
 * inside a CASE (Citus refuses one in a distributed UPDATE).  The BEFORE
 * trigger then validates only what the change touched (src/task_trigger.c,
 * omnitask.revalidate_unchanged).
 */
CREATE OR REPLACE FUNCTION omnitask.set_task_status(id text, status text, reason text DEFAULT NULL, if_match integer DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	current_resource jsonb;
	current_version integer;
	new_resource jsonb;
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
	new_resource := (current_resource - 'statusReason')
		|| pg_catalog.jsonb_build_object('status', set_task_status.status);
	IF reason IS NOT NULL THEN
		new_resource := new_resource
			|| pg_catalog.jsonb_build_object('statusReason', pg_catalog.jsonb_build_object('text', reason));
	END IF;
	UPDATE omnitask.task t SET resource = new_resource
		WHERE t.id = set_task_status.id
		RETURNING t.resource INTO stored;
	RETURN stored;
END
$$;

/*
 * Migration at bulk speed: import_tasks() stores its input in chunks of 100
 * Tasks (so its progress line still moves every 1,000 items), each with one INSERT ... SELECT through import_batch() (one
 * subtransaction, one set-based history append per chunk); a chunk that
 * fails is rolled back and stored again one Task at a time as before, so
 * that every good Task is kept and every problem reported, in input order.
 */
CREATE FUNCTION omnitask.import_batch(resources jsonb[]) RETURNS integer
	LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_import_batch';
COMMENT ON FUNCTION omnitask.import_batch(jsonb[]) IS 'Admin only: import_task() for every Task of the array, in order, with one INSERT; all or nothing. Returns how many were stored. Used by import_tasks().';
REVOKE ALL ON FUNCTION omnitask.import_batch(jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.import_batch(jsonb[]) TO omnitask_admin;

CREATE OR REPLACE FUNCTION omnitask.import_tasks(source text)
	RETURNS TABLE (item integer, task_id text, code text, expression text, message text)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	started timestamptz := pg_catalog.clock_timestamp();
	saved_name text := pg_catalog.current_setting('application_name');
	whole jsonb;
	doc jsonb;
	chunk_n integer[];
	chunk_t text[];
	stored boolean;
	k integer;
	done integer := 0;
	reported integer := 0;
	errors integer := 0;
	st text;
	msg text;
	det text;
BEGIN
	-- one JSON document (an array, a Bundle, one Task), else NDJSON
	IF pg_catalog.left(pg_catalog.ltrim(source, E' \t\r\n'), 1) = '[' THEN
		whole := source::jsonb;
	ELSE
		BEGIN
			whole := source::jsonb;
		EXCEPTION WHEN invalid_text_representation THEN
			whole := NULL;
		END;
	END IF;
	FOR chunk_n, chunk_t IN
		SELECT pg_catalog.array_agg(x.n ORDER BY x.n), pg_catalog.array_agg(x.t ORDER BY x.n)
		FROM (SELECT y.n, y.t, pg_catalog.row_number() OVER (ORDER BY y.n) AS pos
			  FROM (SELECT l.n::integer AS n, l.t AS t
			  FROM pg_catalog.regexp_split_to_table(source, E'\n') WITH ORDINALITY AS l(t, n)
			  WHERE whole IS NULL AND pg_catalog.btrim(l.t, E' \t\r') <> ''
			  UNION ALL
			  SELECT e.n::integer, e.v::text
			  FROM pg_catalog.jsonb_array_elements(CASE
					WHEN pg_catalog.jsonb_typeof(whole) = 'array' THEN whole
					WHEN whole ->> 'resourceType' = 'Bundle'
						THEN pg_catalog.jsonb_path_query_array(whole, '$.entry[*].resource')
					ELSE pg_catalog.jsonb_build_array(whole)
				END) WITH ORDINALITY AS e(v, n)
			  WHERE whole IS NOT NULL) AS y) AS x
		GROUP BY (x.pos - 1) / 100
		ORDER BY (x.pos - 1) / 100
	LOOP
		-- the chunk in one statement; a chunk with a bad Task, one by one
		BEGIN
			PERFORM omnitask.import_batch(ARRAY(SELECT c::jsonb FROM pg_catalog.unnest(chunk_t) WITH ORDINALITY AS u(c, i) ORDER BY i));
			stored := true;
		EXCEPTION WHEN insufficient_privilege THEN
			RAISE;				-- not the Tasks' fault: nothing is imported
		WHEN OTHERS THEN
			stored := false;
		END;
		IF stored THEN
			done := done + pg_catalog.cardinality(chunk_t);
		ELSE
			FOR k IN 1 .. pg_catalog.cardinality(chunk_t) LOOP
				item := chunk_n[k];
				task_id := NULL;
				BEGIN
					doc := chunk_t[k]::jsonb;
					task_id := doc ->> 'id';
					PERFORM omnitask.import_task(doc);
				EXCEPTION WHEN insufficient_privilege THEN
					RAISE;
				WHEN OTHERS THEN
					GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
					errors := errors + 1;
					code := st;
					IF st = '23514' AND det LIKE '{%' THEN
						-- an invalid Task: every issue of its OperationOutcome
						FOR expression, message IN
							SELECT i -> 'expression' ->> 0, i ->> 'diagnostics'
							FROM pg_catalog.jsonb_array_elements(det::jsonb -> 'issue') AS i
							WHERE i ->> 'severity' IN ('error', 'fatal')
						LOOP
							RETURN NEXT;
						END LOOP;
					ELSE
						expression := NULL;
						message := msg;
						RETURN NEXT;
					END IF;
				END;
				done := done + 1;
			END LOOP;
		END IF;
		IF done / 1000 > reported / 1000 THEN
			reported := done;
			PERFORM pg_catalog.set_config('application_name', omnitask.import_progress_text(done, errors, started), false);
		END IF;
	END LOOP;
	PERFORM pg_catalog.set_config('application_name', omnitask.import_progress_text(done, errors, started), false);
	PERFORM pg_catalog.set_config('application_name', saved_name, false);
	RETURN;
END
$$;
COMMENT ON FUNCTION omnitask.import_tasks(text) IS 'Admin only: imports many existing Tasks (NDJSON, a JSON array or a Bundle) like import_task(), in input order, 100 at a time; returns one row per problem (item number, id, SQLSTATE, FHIRPath, message) and stores every valid Task. Progress in omnitask.import_progress.';

-- (end of write path and migration)
