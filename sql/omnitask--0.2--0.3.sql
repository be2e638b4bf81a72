/*
 * omnitask 0.2 -> 0.3: hardening, validation conformance, PostgreSQL 15-18,
 * FHIR over HTTP, read audit, architecture, search, and the write path.  CREATE EXTENSION runs 0.1, then 0.1--0.2,
 * then this script; ALTER EXTENSION omnitask UPDATE runs the same steps.
 * One section per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.3'" to load this file. \quit


/* ======================================================================
 * Hardening: side channels around row-level security, parallel labels
 * ====================================================================== */

/*
 * 1. Planner statistics.  EXPLAIN's row estimates come from table-wide
 * statistics, hidden rows included: with them a practitioner could read
 * common values of other practitioners' PHI back through EXPLAIN (or
 * PostgREST's Prefer: count=planned).  The PHI-bearing columns therefore
 * keep no statistics: the planner uses its defaults for them (equality
 * 0.5%, ranges 1/3), the same for every value, present or not.  The
 * worklist and search plans do not depend on them (they are driven by
 * owner_id, status, priority and due_at, which keep theirs); the benchmark
 * shows it (README, Performance).  ANALYZE skips a column with statistics
 * target 0 but keeps what it stored before, so those rows are deleted too.
 * A future text column of task or task_history must get the same setting.
 */
ALTER TABLE omnitask.task ALTER COLUMN description SET STATISTICS 0;
ALTER TABLE omnitask.task ALTER COLUMN patient_id SET STATISTICS 0;
ALTER TABLE omnitask.task ALTER COLUMN requester SET STATISTICS 0;
ALTER TABLE omnitask.task ALTER COLUMN code SET STATISTICS 0;
ALTER TABLE omnitask.task ALTER COLUMN resource SET STATISTICS 0;
ALTER TABLE omnitask.task_history ALTER COLUMN resource SET STATISTICS 0;
DELETE FROM pg_catalog.pg_statistic s
 USING pg_catalog.pg_attribute a
 WHERE a.attrelid = s.starelid AND a.attnum = s.staattnum
   AND ((a.attrelid = 'omnitask.task'::pg_catalog.regclass
		 AND a.attname IN ('description', 'patient_id', 'requester', 'code', 'resource'))
	 OR (a.attrelid = 'omnitask.task_history'::pg_catalog.regclass AND a.attname = 'resource'));

/*
 * 2. Parallel labels: every function states what it is, with the reason.
 *
 * SAFE: pure computation, or reads with the query's snapshot only.
 *   validate_task, task_row_problem: compute on their argument.
 *   default_workflow: a constant.
 *   workflow, terminal_statuses: read omnitask.workflow_definition; in
 *     parallel mode with the query's snapshot (src/workflow.c), so they
 *     may run in workers -- which lets the reporting views (tasks,
 *     workload, overdue_tasks) use parallel plans.
 *   not_found: only raises PT404.
 * RESTRICTED: must run in the leader.
 *   current_practitioner_id: the caller's identity is one answer for the
 *     whole query, worked out once in the leader (in parallel mode from the
 *     query's snapshot, src/identity.c: it never takes a new snapshot there).
 *   read_task, task_history, search_tasks, verify: read the row-secured
 *     tables, whose practitioner policies call current_practitioner_id;
 *     search_tasks also keeps per-backend plans.
 * UNSAFE: write, or change per-backend state.
 *   create_task, update_task, set_task_status, import_task,
 *   register_practitioner, set_workflow, and the trigger functions.
 */
ALTER FUNCTION omnitask.validate_task(jsonb) PARALLEL SAFE;
ALTER FUNCTION omnitask.task_row_problem(omnitask.task) PARALLEL SAFE;
ALTER FUNCTION omnitask.default_workflow() PARALLEL SAFE;
ALTER FUNCTION omnitask.workflow() PARALLEL SAFE;
ALTER FUNCTION omnitask.terminal_statuses() PARALLEL SAFE;
ALTER FUNCTION omnitask.not_found(text) PARALLEL SAFE;
ALTER FUNCTION omnitask.current_practitioner_id() PARALLEL RESTRICTED;
ALTER FUNCTION omnitask.read_task(text) PARALLEL RESTRICTED;
ALTER FUNCTION omnitask.task_history(text) PARALLEL RESTRICTED;
ALTER FUNCTION omnitask.search_tasks(text, text, text, text, integer, integer, text) PARALLEL RESTRICTED;
ALTER FUNCTION omnitask.verify() PARALLEL RESTRICTED;
ALTER FUNCTION omnitask.create_task(jsonb) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.update_task(text, jsonb, integer) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.set_task_status(text, text, text, integer) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.import_task(jsonb) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.register_practitioner(name, text, text) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.set_workflow(json) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.task_before_trigger() PARALLEL UNSAFE;
ALTER FUNCTION omnitask.task_after_trigger() PARALLEL UNSAFE;
ALTER FUNCTION omnitask.forbid_delete() PARALLEL UNSAFE;
ALTER FUNCTION omnitask.forbid_history_update() PARALLEL UNSAFE;
ALTER FUNCTION omnitask.invalidate_caches() PARALLEL UNSAFE;
ALTER FUNCTION omnitask.workflow_check() PARALLEL UNSAFE;

COMMENT ON FUNCTION omnitask.search_tasks(text, text, text, text, integer, integer, text) IS 'FHIR search on Task: a searchset Bundle of the tasks the caller may see, with exact total and self/next links. owner Practitioner/{id} or {id}; patient Patient/{id} or {id}; status and priority comma lists (OR; a code listed twice counts once; at most 1024 bytes); _count 1-1000; _offset >= 0; _sort a comma list of priority, due, authored-on, modified, status (- for descending; each key at most once), default -priority,due,authored-on. A bad parameter raises 22023 naming it.';

-- (end of hardening)


/* ======================================================================
 * Validation conformance
 * ====================================================================== */

-- (end of validation conformance)


/* ======================================================================
 * PostgreSQL 15-18
 * ====================================================================== */

-- (end of PostgreSQL 15-18)


/* ======================================================================
 * FHIR over HTTP
 * ====================================================================== */

/*
 * The FHIR RESTful interface for PostgREST (schema fhir) and what it needs
 * in schema omnitask: settings, error mapping, conditional create over a
 * unique structure of business identifiers, JSON Patch, paged instance
 * history, a change feed, coordinator edits and the capability statement.
 * The SQL contract of 0.1/0.2 is unchanged; everything here is added.
 */

-- Settings (C, src/fhir_http.c): calling one loads the library, so a
-- placeholder set by an unprivileged session is never believed.
CREATE FUNCTION omnitask.fhir_base_url() RETURNS text
	LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_fhir_base_url_fn';
COMMENT ON FUNCTION omnitask.fhir_base_url() IS 'The setting omnitask.fhir_base_url without a trailing slash: the base of absolute URLs in Location, fullUrl and Bundle links ("" gives relative URLs).';
CREATE FUNCTION omnitask.fhir_require_if_match() RETURNS boolean
	LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_fhir_require_if_match_fn';
COMMENT ON FUNCTION omnitask.fhir_require_if_match() IS 'The setting omnitask.fhir_require_if_match: when on, FHIR updates and patches without If-Match are refused (HTTP 428).';

/*
 * Business identifiers.  The first task stored with an identifier
 * (system and value both present) holds it; the primary key makes that
 * claim atomic, so concurrent conditional creates are serialised by the
 * unique index, not by a check before the insert.  Maintained by the
 * triggers below; nobody but them writes it.
 */
CREATE TABLE omnitask.task_identifier (
	system			text NOT NULL,
	value			text NOT NULL,
	task_id			text NOT NULL,
	PRIMARY KEY (system, value)
);
COMMENT ON TABLE omnitask.task_identifier IS 'Business identifiers (Task.identifier system|value) and the task holding each: the first task stored with it. Written only by the task triggers; the unique key makes conditional create race-free.';
COMMENT ON COLUMN omnitask.task_identifier.system IS 'Task.identifier.system.';
COMMENT ON COLUMN omnitask.task_identifier.value IS 'Task.identifier.value.';
COMMENT ON COLUMN omnitask.task_identifier.task_id IS 'Task.id of the task holding this identifier.';
CREATE INDEX task_identifier_value_idx ON omnitask.task_identifier (value);
CREATE INDEX task_identifier_task_idx ON omnitask.task_identifier (task_id);
REVOKE ALL ON omnitask.task_identifier FROM PUBLIC;

CREATE FUNCTION omnitask.task_identifier_claim() RETURNS trigger
	LANGUAGE c PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_task_identifier_claim';
COMMENT ON FUNCTION omnitask.task_identifier_claim() IS 'AFTER ROW trigger of omnitask.task: claims the business identifiers of the stored version in omnitask.task_identifier (first holder keeps a claim) and releases those an update removed, with the rights of the table''s owner (users cannot write the claims).';
REVOKE ALL ON FUNCTION omnitask.task_identifier_claim() FROM PUBLIC;
CREATE TRIGGER task_identifier_insert AFTER INSERT ON omnitask.task
	FOR EACH ROW WHEN (NEW.resource ? 'identifier')
	EXECUTE FUNCTION omnitask.task_identifier_claim();
CREATE TRIGGER task_identifier_update AFTER UPDATE ON omnitask.task
	FOR EACH ROW WHEN (OLD.resource -> 'identifier' IS DISTINCT FROM NEW.resource -> 'identifier')
	EXECUTE FUNCTION omnitask.task_identifier_claim();

-- tasks stored before 0.3: the oldest task holds a shared identifier
INSERT INTO omnitask.task_identifier (system, value, task_id)
	SELECT e ->> 'system', e ->> 'value', t.id
	FROM omnitask.task t,
		 jsonb_array_elements(CASE WHEN jsonb_typeof(t.resource -> 'identifier') = 'array'
								   THEN t.resource -> 'identifier' END) e
	WHERE e ->> 'system' IS NOT NULL AND e ->> 'value' IS NOT NULL
	ORDER BY t.authored_on, t.id
	ON CONFLICT DO NOTHING;

-- A caller sees the claims of the tasks it can see (the policy's subquery
-- reads omnitask.task under the caller's own policies).
ALTER TABLE omnitask.task_identifier ENABLE ROW LEVEL SECURITY;
CREATE POLICY task_identifier_select ON omnitask.task_identifier FOR SELECT
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor
	USING (EXISTS (SELECT FROM omnitask.task t WHERE t.id = task_identifier.task_id));
GRANT SELECT ON omnitask.task_identifier TO omnitask_admin, omnitask_practitioner, omnitask_auditor;

/*
 * Conditional create from SQL.  if_none_exist is FHIR's If-None-Exist
 * query: identifier=system|value or identifier=value (URL-encoded or not),
 * naming an identifier the Task carries (that is what makes it race-free).
 * No match: the Task is stored (created = true).  One match the caller can
 * see: it is returned and nothing is written (created = false).  One match
 * the caller cannot see: 23505 without any detail of it.  Several: PT412.
 */
CREATE FUNCTION omnitask.parse_if_none_exist(if_none_exist text, OUT system text, OUT value text)
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
	token text;
BEGIN
	IF if_none_exist IS NULL OR if_none_exist !~ '^identifier=[^&]+$' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('unsupported If-None-Exist "%s"', pg_catalog.left(if_none_exist, 128)),
			HINT = 'Conditional create takes one search parameter: identifier=system|value or identifier=value.';
	END IF;
	token := pg_catalog.substr(if_none_exist, 12);
	-- URL-decoded: %7C, %3A, %2F, ... (no other decoding is needed for FHIR tokens)
	IF token ~ '%' THEN
		BEGIN
			token := pg_catalog.convert_from(
				(SELECT pg_catalog.string_agg(CASE WHEN m[1] IS NOT NULL THEN pg_catalog.decode(pg_catalog.substr(m[1], 2), 'hex')
												   ELSE pg_catalog.convert_to(m[2], 'UTF8') END, ''::bytea ORDER BY n)
				 FROM pg_catalog.regexp_matches(token, '(%[0-9A-Fa-f]{2})|([^%]+|%)', 'g') WITH ORDINALITY AS r(m, n)),
				'UTF8');
		EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = pg_catalog.format('invalid If-None-Exist "%s"', pg_catalog.left(if_none_exist, 128)),
				DETAIL = 'It is not valid UTF-8 once URL-decoded.';
		END;
	END IF;
	IF pg_catalog.strpos(token, '|') > 0 THEN
		system := pg_catalog.split_part(token, '|', 1);
		value := pg_catalog.substr(token, pg_catalog.strpos(token, '|') + 1);
		IF system = '' THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = pg_catalog.format('If-None-Exist "%s" names no identifier system', pg_catalog.left(if_none_exist, 128)),
				DETAIL = 'A condition on the value alone cannot be made race-free.',
				HINT = 'Name the identifier with its system: identifier=system|value.';
		END IF;
	ELSE
		value := token;
	END IF;
	IF value = '' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('If-None-Exist "%s" names an empty identifier value', pg_catalog.left(if_none_exist, 128));
	END IF;
END
$$;
COMMENT ON FUNCTION omnitask.parse_if_none_exist(text) IS 'Parses an If-None-Exist query (identifier=system|value or identifier=value, URL-encoded or not); 22023 for anything else.';

CREATE FUNCTION omnitask.create_task_if_none_exist(resource jsonb, if_none_exist text,
												   OUT task jsonb, OUT created boolean)
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	cond record;
	by_value boolean;
	lost boolean := false;
	holder text;
	n integer;
	new_id text;
	stored jsonb;
BEGIN
	IF resource IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'argument "resource" must not be null';
	END IF;
	cond := omnitask.parse_if_none_exist(if_none_exist);
	by_value := cond.system IS NULL;
	-- the condition must name an identifier of this Task: its claim is what
	-- serialises concurrent creates
	SELECT e ->> 'system' INTO cond.system
		FROM jsonb_array_elements(CASE WHEN jsonb_typeof(resource -> 'identifier') = 'array'
									   THEN resource -> 'identifier' END) e
		WHERE e ->> 'value' = cond.value AND e ->> 'system' IS NOT NULL
		  AND (cond.system IS NULL OR e ->> 'system' = cond.system)
		ORDER BY e ->> 'system' LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('If-None-Exist "%s" names no identifier of the Task', pg_catalog.left(if_none_exist, 128)),
			DETAIL = 'Conditional create must name an identifier, with its system, that the Task being created carries.';
	END IF;
	FOR attempt IN 1 .. 3 LOOP
		-- the holders the caller can see (the policy of task_identifier)
		SELECT pg_catalog.count(*)::integer, pg_catalog.min(ti.task_id) INTO n, holder
			FROM omnitask.task_identifier ti
			WHERE ti.value = cond.value AND (by_value OR ti.system = cond.system);
		IF n > 1 THEN
			RAISE EXCEPTION USING ERRCODE = 'PT412',
				MESSAGE = pg_catalog.format('If-None-Exist "%s" matches more than one task', pg_catalog.left(if_none_exist, 128)),
				HINT = 'Name the identifier with its system.';
		ELSIF n = 1 THEN
			SELECT t.resource INTO task FROM omnitask.task t WHERE t.id = holder;
			IF FOUND THEN
				created := false;
				RETURN;
			END IF;
		ELSIF lost THEN
			-- the claim is held by a task the caller cannot see: refused
			-- without a trace of it
			RAISE EXCEPTION USING ERRCODE = 'unique_violation',
				MESSAGE = pg_catalog.format('identifier "%s|%s" is already in use', pg_catalog.left(cond.system, 128), pg_catalog.left(cond.value, 128)),
				HINT = 'Another task holds this business identifier.';
		END IF;
		BEGIN
			INSERT INTO omnitask.task AS t (resource) VALUES (create_task_if_none_exist.resource)
				RETURNING t.id, t.resource INTO new_id, stored;
			-- the trigger claimed the identifier, or waited for the
			-- transaction that did and left the claim to it (a claim of
			-- this new task is visible to its creator)
			SELECT ti.task_id INTO holder FROM omnitask.task_identifier ti
				WHERE ti.system = cond.system AND ti.value = cond.value;
			IF holder IS DISTINCT FROM new_id THEN
				RAISE EXCEPTION USING ERRCODE = 'PT0CL', MESSAGE = 'claim lost';
			END IF;
			task := stored;
			created := true;
			RETURN;
		EXCEPTION WHEN SQLSTATE 'PT0CL' THEN
			lost := true;		-- the insert is undone; answer with the holder
		END;
	END LOOP;
	RAISE EXCEPTION USING ERRCODE = 'serialization_failure',
		MESSAGE = pg_catalog.format('identifier "%s|%s" changed hands during the create', pg_catalog.left(cond.system, 128), pg_catalog.left(cond.value, 128)),
		HINT = 'Retry the request.';
END
$$;
COMMENT ON FUNCTION omnitask.create_task_if_none_exist(jsonb, text) IS 'FHIR conditional create from SQL: if_none_exist is identifier=system|value or identifier=value naming an identifier of the Task. No task holds it: stores the Task (created true). One visible holder: returns it, writes nothing (created false). A holder the caller cannot see: 23505. Several holders: PT412. Race-free: the identifier''s unique claim decides.';

/*
 * Conditional update from SQL (FHIR PUT /Task?identifier=system|value),
 * over the same claims.  No task holds the identifier: the Task is created
 * through create_task_if_none_exist, so concurrent conditional updates of
 * a new identifier create one task (the losers update it).  One holder the
 * caller can see: it is updated with the usual rules (update_task:
 * if_match, workflow, validation, access).  Several: PT412.
 */
CREATE FUNCTION omnitask.update_task_by_identifier(resource jsonb, condition text, if_match integer DEFAULT NULL,
												   OUT task jsonb, OUT created boolean)
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	cond record;
	n integer;
	holder text;
BEGIN
	IF resource IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'argument "resource" must not be null';
	END IF;
	IF condition IS NULL OR condition !~ '^identifier=[^&]+$' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('unsupported conditional update "%s"', pg_catalog.left(condition, 128)),
			HINT = 'Conditional update takes one search parameter: identifier=system|value or identifier=value.';
	END IF;
	cond := omnitask.parse_if_none_exist(condition);
	SELECT pg_catalog.count(*)::integer, pg_catalog.min(ti.task_id) INTO n, holder
		FROM omnitask.task_identifier ti
		WHERE ti.value = cond.value AND (cond.system IS NULL OR ti.system = cond.system);
	IF n > 1 THEN
		RAISE EXCEPTION USING ERRCODE = 'PT412',
			MESSAGE = pg_catalog.format('conditional update "%s" matches more than one task', pg_catalog.left(condition, 128)),
			HINT = 'Name the identifier with its system.';
	ELSIF n = 0 THEN
		IF if_match IS NOT NULL THEN
			RAISE EXCEPTION USING ERRCODE = 'PT412',
				MESSAGE = pg_catalog.format('conditional update "%s" matches no task', pg_catalog.left(condition, 128)),
				DETAIL = pg_catalog.format('If-Match names version %s of a task that does not exist.', if_match),
				HINT = 'Send it without If-Match to create the task.';
		END IF;
		IF resource ? 'id' THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = pg_catalog.format('conditional update "%s" matches no task', pg_catalog.left(condition, 128)),
				DETAIL = pg_catalog.format('The Task has the id "%s".', pg_catalog.left(resource ->> 'id', 64)),
				HINT = 'This server assigns task ids: send the Task without an id to create it.';
		END IF;
		SELECT c.task, c.created INTO task, created
			FROM omnitask.create_task_if_none_exist(resource, condition) c;
		IF created THEN
			RETURN;
		END IF;
		-- a concurrent request created it first: update that task
		holder := task ->> 'id';
	END IF;
	IF resource ? 'id' AND (resource ->> 'id') IS DISTINCT FROM holder THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('Task id "%s" does not match conditional update "%s"',
										pg_catalog.left(resource ->> 'id', 64), pg_catalog.left(condition, 128)),
			DETAIL = pg_catalog.format('The condition matches task "%s".', holder),
			HINT = 'Send the Task without an id, or with the id of the matching task.';
	END IF;
	task := omnitask.update_task(holder, resource || jsonb_build_object('id', holder), if_match);
	created := false;
END
$$;
COMMENT ON FUNCTION omnitask.update_task_by_identifier(jsonb, text, integer) IS 'FHIR conditional update from SQL: condition is identifier=system|value or identifier=value. No task holds it: the Task (without an id, naming that identifier) is created race-free as by create_task_if_none_exist (created true; PT412 when if_match is given). One holder the caller can see: updated as by update_task (created false; the Task''s id, if any, must be the holder''s). A holder the caller cannot see: 23505. Several: PT412. Malformed condition: 22023.';

/*
 * JSON Patch (RFC 6902) on jsonb, with JSON Pointers (RFC 6901).
 * A malformed patch document: 22023.  An operation that cannot be applied
 * (missing path, bad index, ...): PT422.  A failed test: PT412.
 */
CREATE FUNCTION omnitask.json_pointer(pointer text) RETURNS text[]
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
BEGIN
	IF pointer IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = 'JSON Pointer must not be null';
	ELSIF pointer = '' THEN
		RETURN '{}';
	ELSIF pg_catalog.left(pointer, 1) <> '/' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('invalid JSON Pointer "%s"', pg_catalog.left(pointer, 128)),
			DETAIL = 'A JSON Pointer is either empty or starts with "/".';
	ELSIF pointer ~ '~([^01]|$)' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('invalid JSON Pointer "%s"', pg_catalog.left(pointer, 128)),
			DETAIL = 'In a JSON Pointer "~" is followed by 0 or 1.';
	END IF;
	-- ~1 first, then ~0 (RFC 6901 section 4)
	RETURN ARRAY(SELECT pg_catalog.replace(pg_catalog.replace(tok, '~1', '/'), '~0', '~')
				 FROM pg_catalog.unnest(pg_catalog.string_to_array(pg_catalog.substr(pointer, 2), '/')) WITH ORDINALITY AS u(tok, n)
				 ORDER BY n);
END
$$;
COMMENT ON FUNCTION omnitask.json_pointer(text) IS 'Parses a JSON Pointer (RFC 6901) into its unescaped reference tokens; 22023 when malformed.';

-- The value at path, or an error naming the pointer (PT422).
CREATE FUNCTION omnitask.json_patch_get(document jsonb, path text[], pointer text) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
	cur jsonb := document;
	tok text;
BEGIN
	FOREACH tok IN ARRAY path LOOP
		IF jsonb_typeof(cur) = 'object' AND cur ? tok THEN
			cur := cur -> tok;
		ELSIF jsonb_typeof(cur) = 'array' AND tok ~ '^(0|[1-9][0-9]{0,8})$' AND tok::integer < jsonb_array_length(cur) THEN
			cur := cur -> tok::integer;
		ELSE
			RAISE EXCEPTION USING ERRCODE = 'PT422',
				MESSAGE = pg_catalog.format('JSON Patch path "%s" does not exist', pg_catalog.left(pointer, 128));
		END IF;
	END LOOP;
	RETURN cur;
END
$$;
COMMENT ON FUNCTION omnitask.json_patch_get(jsonb, text[], text) IS 'Internal to json_patch: the value a parsed JSON Pointer designates; PT422 when there is none.';

-- RFC 6902 "add": a member is added or replaced, an array element inserted.
CREATE FUNCTION omnitask.json_patch_add(document jsonb, path text[], value jsonb, pointer text) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
	n integer := pg_catalog.cardinality(path);
	parent jsonb;
	tok text;
BEGIN
	IF n = 0 THEN
		RETURN value;
	END IF;
	parent := omnitask.json_patch_get(document, path[1:n - 1], pointer);
	tok := path[n];
	IF jsonb_typeof(parent) = 'object' THEN
		RETURN jsonb_set(document, path, value, true);
	ELSIF jsonb_typeof(parent) = 'array' THEN
		IF tok = '-' THEN
			tok := jsonb_array_length(parent)::text;
		ELSIF tok !~ '^(0|[1-9][0-9]{0,8})$' OR tok::integer > jsonb_array_length(parent) THEN
			RAISE EXCEPTION USING ERRCODE = 'PT422',
				MESSAGE = pg_catalog.format('JSON Patch path "%s" is not a valid array position', pg_catalog.left(pointer, 128));
		END IF;
		IF tok::integer = jsonb_array_length(parent) THEN
			IF n = 1 THEN
				RETURN document || jsonb_build_array(value);
			END IF;
			RETURN jsonb_set(document, path[1:n - 1], parent || jsonb_build_array(value), false);
		END IF;
		path[n] := tok;
		RETURN jsonb_insert(document, path, value, false);
	END IF;
	RAISE EXCEPTION USING ERRCODE = 'PT422',
		MESSAGE = pg_catalog.format('JSON Patch path "%s" has no object or array to add to', pg_catalog.left(pointer, 128));
END
$$;
COMMENT ON FUNCTION omnitask.json_patch_add(jsonb, text[], jsonb, text) IS 'Internal to json_patch: the RFC 6902 add operation.';

-- RFC 6902 "remove": the target must exist.
CREATE FUNCTION omnitask.json_patch_remove(document jsonb, path text[], pointer text) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
BEGIN
	IF pg_catalog.cardinality(path) = 0 THEN
		RAISE EXCEPTION USING ERRCODE = 'PT422', MESSAGE = 'JSON Patch cannot remove the whole document';
	END IF;
	PERFORM omnitask.json_patch_get(document, path, pointer);
	RETURN document #- path;
END
$$;
COMMENT ON FUNCTION omnitask.json_patch_remove(jsonb, text[], text) IS 'Internal to json_patch: the RFC 6902 remove operation.';

CREATE FUNCTION omnitask.json_patch(document jsonb, patch jsonb) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
	op jsonb;
	i integer := 0;
	kind text;
	path text[];
	from_path text[];
	v jsonb;
BEGIN
	IF jsonb_typeof(patch) IS DISTINCT FROM 'array' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'JSON Patch document is not an array',
			DETAIL = 'A JSON Patch document is an array of operations.';
	END IF;
	FOR op IN SELECT e FROM jsonb_array_elements(patch) e LOOP
		IF jsonb_typeof(op) <> 'object' OR jsonb_typeof(op -> 'op') IS DISTINCT FROM 'string'
		   OR jsonb_typeof(op -> 'path') IS DISTINCT FROM 'string' THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = pg_catalog.format('JSON Patch operation %s has no "op" or no "path" string', i);
		END IF;
		kind := op ->> 'op';
		path := omnitask.json_pointer(op ->> 'path');
		IF kind IN ('add', 'replace', 'test') AND NOT op ? 'value' THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = pg_catalog.format('JSON Patch operation %s ("%s") has no "value"', i, kind);
		END IF;
		IF kind IN ('move', 'copy') THEN
			IF jsonb_typeof(op -> 'from') IS DISTINCT FROM 'string' THEN
				RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
					MESSAGE = pg_catalog.format('JSON Patch operation %s ("%s") has no "from" string', i, kind);
			END IF;
			from_path := omnitask.json_pointer(op ->> 'from');
			v := omnitask.json_patch_get(document, from_path, op ->> 'from');
		END IF;
		CASE kind
			WHEN 'add' THEN
				document := omnitask.json_patch_add(document, path, op -> 'value', op ->> 'path');
			WHEN 'remove' THEN
				document := omnitask.json_patch_remove(document, path, op ->> 'path');
			WHEN 'replace' THEN
				PERFORM omnitask.json_patch_get(document, path, op ->> 'path');
				IF pg_catalog.cardinality(path) = 0 THEN
					document := op -> 'value';
				ELSE
					document := jsonb_set(document, path, op -> 'value', false);
				END IF;
			WHEN 'move' THEN
				IF pg_catalog.cardinality(from_path) < pg_catalog.cardinality(path)
				   AND path[1:pg_catalog.cardinality(from_path)] = from_path THEN
					RAISE EXCEPTION USING ERRCODE = 'PT422',
						MESSAGE = pg_catalog.format('JSON Patch cannot move "%s" into its own child "%s"',
													pg_catalog.left(op ->> 'from', 128), pg_catalog.left(op ->> 'path', 128));
				END IF;
				IF from_path IS DISTINCT FROM path THEN
					document := omnitask.json_patch_remove(document, from_path, op ->> 'from');
					document := omnitask.json_patch_add(document, path, v, op ->> 'path');
				END IF;
			WHEN 'copy' THEN
				document := omnitask.json_patch_add(document, path, v, op ->> 'path');
			WHEN 'test' THEN
				IF omnitask.json_patch_get(document, path, op ->> 'path') IS DISTINCT FROM op -> 'value' THEN
					RAISE EXCEPTION USING ERRCODE = 'PT412',
						MESSAGE = pg_catalog.format('JSON Patch test failed at "%s"', pg_catalog.left(op ->> 'path', 128)),
						DETAIL = pg_catalog.format('Operation %s expected %s.', i, pg_catalog.left((op -> 'value')::text, 128));
				END IF;
			ELSE
				RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
					MESSAGE = pg_catalog.format('unrecognized JSON Patch operation "%s"', pg_catalog.left(kind, 64)),
					DETAIL = pg_catalog.format('Operation %s of the patch is "%s"; RFC 6902 defines add, remove, replace, move, copy and test.', i, pg_catalog.left(kind, 64));
		END CASE;
		i := i + 1;
	END LOOP;
	RETURN document;
END
$$;
COMMENT ON FUNCTION omnitask.json_patch(jsonb, jsonb) IS 'Applies a JSON Patch (RFC 6902: add, remove, replace, move, copy, test) to a jsonb document. Malformed patch: 22023; an operation that cannot be applied: PT422; a failed test: PT412. Members other than op, path, from, value are ignored.';

/*
 * Edits: patch and the coordinators' everyday changes.  Each goes through
 * update_task, so validation, workflow, access and if_match apply.
 */
CREATE FUNCTION omnitask.patch_task(id text, patch jsonb, if_match integer DEFAULT NULL) RETURNS jsonb
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	current_resource jsonb;
	current_version integer;
BEGIN
	IF patch_task.id IS NULL OR patch_task.patch IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed', MESSAGE = 'arguments "id" and "patch" must not be null';
	END IF;
	SELECT t.resource, t.version_id INTO current_resource, current_version
		FROM omnitask.task t WHERE t.id = patch_task.id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM omnitask.not_found(patch_task.id);
	END IF;
	-- the if_match rule of update_task (omnitask.require_version, in the
	-- architecture section below; resolved when the function runs)
	PERFORM omnitask.require_version(patch_task.id, current_version, patch_task.if_match,
		'Read the task again and reapply your change.');
	RETURN omnitask.update_task(patch_task.id, omnitask.json_patch(current_resource, patch));
END
$$;
COMMENT ON FUNCTION omnitask.patch_task(text, jsonb, integer) IS 'FHIR patch with a JSON Patch document (RFC 6902) on the current version; the result is stored as an update (validation, workflow, access). if_match: PT412 when it is not the current version; a failed test: PT412; an inapplicable operation: PT422.';

CREATE FUNCTION omnitask.add_task_note(id text, note text, if_match integer DEFAULT NULL) RETURNS jsonb
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	who text := omnitask.current_practitioner_id();
BEGIN
	IF add_task_note.note IS NULL OR add_task_note.note = '' THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed', MESSAGE = 'argument "note" must not be null';
	END IF;
	RETURN omnitask.patch_task(add_task_note.id,
		jsonb_build_array(jsonb_build_object('op', 'add', 'path', '/note/-', 'value',
			jsonb_strip_nulls(jsonb_build_object(
				'authorReference', CASE WHEN who IS NOT NULL THEN jsonb_build_object('reference', 'Practitioner/' || who) END,
				'time', pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
				'text', add_task_note.note)))),
		if_match)
		-- a task without notes has no /note to append to
		;
EXCEPTION WHEN SQLSTATE 'PT422' THEN
	RETURN omnitask.patch_task(add_task_note.id,
		jsonb_build_array(jsonb_build_object('op', 'add', 'path', '/note', 'value',
			jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
				'authorReference', CASE WHEN who IS NOT NULL THEN jsonb_build_object('reference', 'Practitioner/' || who) END,
				'time', pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
				'text', add_task_note.note))))),
		if_match);
END
$$;
COMMENT ON FUNCTION omnitask.add_task_note(text, text, integer) IS 'Appends a Task.note (text, time, the caller as authorReference); allowed on terminal tasks. if_match as for update_task.';

CREATE FUNCTION omnitask.set_task_business_status(id text, business_status text, if_match integer DEFAULT NULL) RETURNS jsonb
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
BEGIN
	RETURN omnitask.patch_task(set_task_business_status.id,
		CASE WHEN business_status IS NULL
			 THEN jsonb_build_array(jsonb_build_object('op', 'remove', 'path', '/businessStatus'))
			 ELSE jsonb_build_array(jsonb_build_object('op', 'add', 'path', '/businessStatus',
				'value', jsonb_build_object('text', business_status))) END,
		if_match);
EXCEPTION WHEN SQLSTATE 'PT422' THEN
	-- removing a businessStatus the task does not have: nothing to do
	RETURN omnitask.read_task(set_task_business_status.id);
END
$$;
COMMENT ON FUNCTION omnitask.set_task_business_status(text, text, integer) IS 'Sets Task.businessStatus to {"text": business_status} (NULL removes it); a change like any update (refused on a terminal task). if_match as for update_task.';

CREATE FUNCTION omnitask.set_task_due(id text, due timestamptz, if_match integer DEFAULT NULL) RETURNS jsonb
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	current_resource jsonb;
	period jsonb;
	restriction jsonb;
BEGIN
	SELECT t.resource INTO current_resource FROM omnitask.task t WHERE t.id = set_task_due.id;
	IF NOT FOUND THEN
		PERFORM omnitask.not_found(set_task_due.id);
	END IF;
	period := COALESCE(current_resource #> '{restriction,period}', '{}') - 'end';
	IF due IS NOT NULL THEN
		period := period || jsonb_build_object('end', pg_catalog.to_char(due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
	END IF;
	restriction := COALESCE(current_resource -> 'restriction', '{}') - 'period';
	IF period <> '{}' THEN
		restriction := restriction || jsonb_build_object('period', period);
	END IF;
	RETURN omnitask.patch_task(set_task_due.id,
		CASE WHEN restriction <> '{}'
			 THEN jsonb_build_array(jsonb_build_object('op', 'add', 'path', '/restriction', 'value', restriction))
			 WHEN current_resource ? 'restriction'
			 THEN jsonb_build_array(jsonb_build_object('op', 'remove', 'path', '/restriction'))
			 ELSE '[]' END,
		if_match);
END
$$;
COMMENT ON FUNCTION omnitask.set_task_due(text, timestamptz, integer) IS 'Sets the due date: Task.restriction.period.end (NULL removes it; the period start and the other restriction elements are kept). if_match as for update_task.';

/*
 * Instance history, paged, and the change feed.
 */
-- the transaction that wrote each version: the change feed's order
ALTER TABLE omnitask.task_history ADD COLUMN xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id();
COMMENT ON COLUMN omnitask.task_history.xid IS 'The (top-level) transaction that stored this version: the change feed reads versions in (xid, id, version_id) order below the snapshot''s xmin.';
CREATE INDEX task_history_feed_idx ON omnitask.task_history (xid, id, version_id);

/*
 * The feed after a dump and restore.  Restored history rows keep the xid
 * they were dumped with, so a cursor handed out before the dump still
 * compares correctly with them (nothing read twice).  A fresh node's
 * transaction ids may be far below the restored ones, so new versions
 * would sort before them and a reader past them would never see the new
 * versions.  A shift fixes that: a version's position is its transaction's
 * xid plus omnitask.feed_shift.shift, and a restored row at or above the
 * positions now being handed out raises the shift past it (with a margin
 * of 2^32, so one raise covers a whole restore).  The feed reads positions
 * below xmin + shift: for the rows written here that is xid < xmin, the
 * same proof as before.  The shift only grows, and only while a restore
 * inserts history rows.  Not dumped: the restore recomputes it.
 */
CREATE TABLE omnitask.feed_shift (
	one				boolean PRIMARY KEY DEFAULT true CHECK (one),
	shift			bigint NOT NULL DEFAULT 0 CHECK (shift >= 0)
);
COMMENT ON TABLE omnitask.feed_shift IS 'One row: what the change feed adds to a transaction id to make the position of the versions it stores (raised by a restore whose history rows are above the local transaction ids).';
COMMENT ON COLUMN omnitask.feed_shift.one IS 'Always true: the table has one row.';
COMMENT ON COLUMN omnitask.feed_shift.shift IS 'Added to pg_current_xact_id() for the position (task_history.xid) of a new version.';
INSERT INTO omnitask.feed_shift DEFAULT VALUES;
REVOKE ALL ON omnitask.feed_shift FROM PUBLIC;
GRANT SELECT ON omnitask.feed_shift TO omnitask_admin, omnitask_practitioner, omnitask_auditor;

CREATE FUNCTION omnitask.feed_position() RETURNS xid8
	-- VOLATILE PARALLEL UNSAFE: pg_current_xact_id() assigns a transaction id
	LANGUAGE sql VOLATILE PARALLEL UNSAFE AS
$$ SELECT (pg_catalog.pg_current_xact_id()::text::numeric + s.shift)::text::xid8 FROM omnitask.feed_shift s $$;
COMMENT ON FUNCTION omnitask.feed_position() IS 'The change-feed position of the versions this transaction stores: its xid plus omnitask.feed_shift.shift (the default of task_history.xid).';
REVOKE ALL ON FUNCTION omnitask.feed_position() FROM PUBLIC;
ALTER TABLE omnitask.task_history ALTER COLUMN xid SET DEFAULT omnitask.feed_position();

CREATE FUNCTION omnitask.feed_restored_row() RETURNS trigger
	-- runs as the inserting role: the history trigger (table owner) or the
	-- restoring superuser; nobody else can insert history rows
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	here xid8 := omnitask.feed_position();
BEGIN
	-- a row stored here has exactly this position; a restored row may sit
	-- at or above it: move the positions handed out from now on past it
	IF NEW.xid <> here AND NEW.xid >= here THEN
		UPDATE omnitask.feed_shift
			SET shift = shift + (NEW.xid::text::numeric - here::text::numeric + 4294967296)::bigint;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION omnitask.feed_restored_row() IS 'BEFORE INSERT row trigger of omnitask.task_history for rows that carry their own xid (a restore): raises omnitask.feed_shift so that every version stored afterwards sorts after the restored ones in the change feed.';
REVOKE ALL ON FUNCTION omnitask.feed_restored_row() FROM PUBLIC;
-- fires only for rows whose xid is not this transaction's (no shift yet)
-- position: restored rows, or every row once a restore raised the shift
CREATE TRIGGER task_history_feed_restore BEFORE INSERT ON omnitask.task_history
	FOR EACH ROW WHEN (NEW.xid <> pg_catalog.pg_current_xact_id())
	EXECUTE FUNCTION omnitask.feed_restored_row();

CREATE FUNCTION omnitask.history_entry(h omnitask.task_history, base text) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE AS
$$
	SELECT jsonb_build_object(
		'fullUrl', base || 'Task/' || h.id,
		'resource', h.resource,
		'request', jsonb_build_object(
			'method', CASE WHEN h.operation = 'update' THEN 'PUT' ELSE 'POST' END,
			'url', CASE WHEN h.operation = 'update' THEN 'Task/' || h.id ELSE 'Task' END),
		'response', jsonb_build_object(
			'status', CASE WHEN h.operation = 'update' THEN '200' ELSE '201' END,
			'etag', 'W/"' || h.version_id || '"',
			-- recorded_at is meta.lastUpdated (reading it from the resource would detoast it twice)
			'lastModified', pg_catalog.to_char(h.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
$$;
COMMENT ON FUNCTION omnitask.history_entry(omnitask.task_history, text) IS 'Internal: one entry of a history Bundle (base is the URL prefix, "" or ending in "/").';

CREATE FUNCTION omnitask.task_history_page(id text, _count integer DEFAULT 50, _since timestamptz DEFAULT NULL,
										   _at timestamptz DEFAULT NULL, _before integer DEFAULT NULL) RETURNS jsonb
	-- RESTRICTED: the policies of the tables it reads call current_practitioner_id()
	LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS
$$
DECLARE
	base text := omnitask.fhir_base_url();
	prefix text;
	bundle jsonb;
	last_vid integer;
	more boolean;
	q text;
BEGIN
	IF id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed', MESSAGE = 'argument "id" must not be null';
	END IF;
	IF _count IS NULL OR _count < 1 OR _count > 1000 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('invalid _count "%s"', _count), HINT = 'The value of "_count" must be between 1 and 1000.';
	END IF;
	IF _since IS NOT NULL AND _at IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = 'parameters "_since" and "_at" cannot be combined';
	END IF;
	PERFORM FROM omnitask.task t WHERE t.id = task_history_page.id;
	IF NOT FOUND THEN
		PERFORM omnitask.not_found(task_history_page.id);
	END IF;
	prefix := CASE WHEN base = '' THEN '' ELSE base || '/' END;
	SELECT COALESCE(jsonb_agg(omnitask.history_entry(s.h, prefix) ORDER BY (s.h).version_id DESC), '[]'),
		   pg_catalog.min((s.h).version_id)
		INTO bundle, last_vid
		FROM (SELECT h FROM omnitask.task_history h
			  WHERE h.id = task_history_page.id
				AND (_before IS NULL OR h.version_id < _before)
				AND (_since IS NULL OR h.recorded_at >= _since)
				-- _at: the version current at that instant
				AND (_at IS NULL OR h.version_id = (SELECT pg_catalog.max(h2.version_id) FROM omnitask.task_history h2
													WHERE h2.id = task_history_page.id AND h2.recorded_at <= _at))
			  ORDER BY h.version_id DESC
			  LIMIT _count) s;
	more := last_vid IS NOT NULL AND _at IS NULL AND EXISTS (
		SELECT FROM omnitask.task_history h
		WHERE h.id = task_history_page.id AND h.version_id < last_vid
		  AND (_since IS NULL OR h.recorded_at >= _since));
	q := pg_catalog.format('_count=%s', _count)
		|| CASE WHEN _since IS NOT NULL THEN '&_since=' || pg_catalog.replace(pg_catalog.to_char(_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ':', '%3A') ELSE '' END
		|| CASE WHEN _at IS NOT NULL THEN '&_at=' || pg_catalog.replace(pg_catalog.to_char(_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ':', '%3A') ELSE '' END;
	RETURN jsonb_build_object(
		'resourceType', 'Bundle',
		'type', 'history',
		'link', jsonb_build_array(
				jsonb_build_object('relation', 'self', 'url', prefix || 'Task/' || id || '/_history?' || q
					|| CASE WHEN _before IS NOT NULL THEN '&_before=' || _before ELSE '' END),
				jsonb_build_object('relation', 'first', 'url', prefix || 'Task/' || id || '/_history?' || q))
			|| CASE WHEN more THEN jsonb_build_array(jsonb_build_object('relation', 'next',
					'url', prefix || 'Task/' || id || '/_history?' || q || '&_before=' || last_vid)) ELSE '[]' END,
		'entry', bundle);
END
$$;
COMMENT ON FUNCTION omnitask.task_history_page(text, integer, timestamptz, timestamptz, integer) IS 'FHIR instance history, newest first, one page of _count (1-1000) versions: _since = versions stored at or after it, _at = the version current at that instant, _before = versions older than this versionId (the next link carries it). Links self, first, next are absolute under omnitask.fhir_base_url. PT404 when the task does not exist or is not visible.';

/*
 * The change feed: every visible stored version, in (xid, id, version_id)
 * order, and only below the xmin of the reader's snapshot.  Every
 * transaction with an xid below xmin has ended, so no version can still
 * appear below a position already handed out: a transaction that commits
 * late has an xid at or above the xmin of every page read while it ran,
 * and is read once it has ended.  The cursor is that position, opaque
 * (hex).  A transaction left open holds the feed back (it waits, it does
 * not skip).  Works on a physical standby (its snapshots carry the
 * primary's xids).
 */
CREATE FUNCTION omnitask.feed_cursor(xid xid8, id text, version_id integer) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS
$$ SELECT pg_catalog.encode(pg_catalog.convert_to($1::text || '.' || $3 || '.' || $2, 'UTF8'), 'hex') $$;
COMMENT ON FUNCTION omnitask.feed_cursor(xid8, text, integer) IS 'Internal: the opaque change-feed cursor of a position.';

CREATE FUNCTION omnitask.task_changes(_cursor text DEFAULT NULL, _count integer DEFAULT 100) RETURNS jsonb
	-- RESTRICTED: the policies of task_history call current_practitioner_id().
	-- C (src/fhir_feed.c): the page's Bundle is assembled and serialised once.
	LANGUAGE c STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_task_changes';
COMMENT ON FUNCTION omnitask.task_changes(text, integer) IS 'The change feed: the next _count (1-1000) stored versions the caller may see, oldest first, after the opaque _cursor (none: from the beginning), as a history Bundle whose next link carries the cursor to poll with (the same cursor while nothing new has committed). Never skips a version committed late, never repeats one; an open transaction holds the feed back until it ends. LISTEN omnitask_task is the wake-up.';

/*
 * HTTP helpers: errors as OperationOutcome with the FHIR status, dates,
 * ETags and the response settings PostgREST reads.
 */
CREATE FUNCTION omnitask.fhir_http_status(sqlstate text) RETURNS integer
	LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
	SELECT CASE
		WHEN $1 ~ '^PT[0-9]{3}$' THEN pg_catalog.substr($1, 3)::integer
		WHEN $1 = '23514' THEN 422
		WHEN $1 = '23505' THEN 409
		WHEN $1 = '42501' THEN 403
		WHEN $1 IN ('22P02', '22023', '22007', '22008', '22003', '22004', '23502', '22P05', '22021') THEN 400
		ELSE NULL END
$$;
COMMENT ON FUNCTION omnitask.fhir_http_status(text) IS 'The FHIR HTTP status of an SQLSTATE omnitask raises (PTnnn -> nnn, 23514 -> 422, 23505 -> 409, 42501 -> 403, bad input -> 400); NULL for anything else, which is re-raised.';

CREATE FUNCTION omnitask.fhir_outcome(status integer, sqlstate text, message text, detail text, hint text) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
	oo jsonb;
BEGIN
	-- an invalid Task carries the validator's OperationOutcome in the detail
	IF sqlstate = '23514' AND detail LIKE '{%' THEN
		BEGIN
			oo := detail::jsonb;
			IF oo ->> 'resourceType' = 'OperationOutcome' THEN
				RETURN oo;
			END IF;
		EXCEPTION WHEN invalid_text_representation THEN
			NULL;
		END;
	END IF;
	RETURN jsonb_build_object('resourceType', 'OperationOutcome', 'issue', jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
		'severity', 'error',
		'code', CASE status WHEN 400 THEN 'invalid' WHEN 403 THEN 'forbidden' WHEN 404 THEN 'not-found'
							WHEN 409 THEN CASE WHEN sqlstate = '23505' THEN 'duplicate' ELSE 'business-rule' END
							WHEN 412 THEN CASE WHEN message LIKE '%more than one%' THEN 'multiple-matches' ELSE 'conflict' END
							WHEN 422 THEN 'processing' WHEN 428 THEN 'required' ELSE 'exception' END,
		'diagnostics', message || COALESCE(' ' || NULLIF(detail, ''), '') || COALESCE(' ' || NULLIF(hint, ''), ''),
		'details', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
			'system', 'https://omnitask.dev/fhir/CodeSystem/sqlstate', 'code', sqlstate))))))) ;
END
$$;
COMMENT ON FUNCTION omnitask.fhir_outcome(integer, text, text, text, text) IS 'Internal: the OperationOutcome an HTTP client receives for an error (the validator''s own for an invalid Task; the SQLSTATE in issue.details).';

CREATE FUNCTION omnitask.fhir_http_date(ts timestamptz) RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE STRICT AS
$$ SELECT pg_catalog.to_char($1 AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS "GMT"') $$;
COMMENT ON FUNCTION omnitask.fhir_http_date(timestamptz) IS 'An HTTP-date (RFC 7231 IMF-fixdate), for Last-Modified.';

-- The version an If-Match / If-None-Match entity tag names: W/"3" or "3".
CREATE FUNCTION omnitask.fhir_etag_version(etag text) RETURNS integer
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
	m text[] := pg_catalog.regexp_match(pg_catalog.btrim(etag), '^(W/)?"([0-9]{1,9})"$');
BEGIN
	IF etag IS NULL THEN
		RETURN NULL;
	ELSIF m IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('invalid entity tag "%s"', pg_catalog.left(etag, 64)),
			HINT = 'Use the ETag the server gave, e.g. W/"3".';
	END IF;
	RETURN m[2]::integer;
END
$$;
COMMENT ON FUNCTION omnitask.fhir_etag_version(text) IS 'The meta.versionId an entity tag W/"n" (or "n") names; 22023 when malformed.';

CREATE FUNCTION omnitask.fhir_respond(status integer, headers jsonb) RETURNS void
	-- C (src/fhir_http.c): an SQL body of two set_config() calls cannot be
	-- inlined and was planned again in every transaction
	LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_fhir_respond';
COMMENT ON FUNCTION omnitask.fhir_respond(integer, jsonb) IS 'Sets PostgREST''s response.status and response.headers (an array of one-key objects) for this transaction. PARALLEL UNSAFE: set_config() is.';

-- The answer with a stored version: status, ETag, Last-Modified, Location
-- (on writes), in C: from the task's columns, not its resource.
CREATE FUNCTION omnitask.fhir_respond_task(status integer, id text, version_id integer, last_updated timestamptz,
										   with_location boolean) RETURNS void
	LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_fhir_respond_task';
COMMENT ON FUNCTION omnitask.fhir_respond_task(integer, text, integer, timestamptz, boolean) IS 'Internal: sets PostgREST''s response.status and the headers of a stored task version (ETag, Last-Modified and, for writes, Location) for this transaction. PARALLEL UNSAFE: it sets settings.';

-- The body a write answers with, per Prefer: return=minimal |
-- representation (the default) | OperationOutcome.
CREATE FUNCTION omnitask.fhir_write_body(task jsonb, prefer text, message text) RETURNS jsonb
	-- STABLE, as jsonb_build_object is: an IMMUTABLE SQL function calling a
	-- stable one is not inlined, and was parsed and planned on every write
	LANGUAGE sql STABLE PARALLEL SAFE AS
$$
	SELECT CASE pg_catalog.substring($2, 'return=([A-Za-z]+)')
		WHEN 'minimal' THEN NULL
		WHEN 'OperationOutcome' THEN jsonb_build_object('resourceType', 'OperationOutcome', 'issue', jsonb_build_array(
			jsonb_build_object('severity', 'information', 'code', 'informational', 'diagnostics', $3)))
		ELSE $1 END
$$;
COMMENT ON FUNCTION omnitask.fhir_write_body(jsonb, text, text) IS 'Internal: the body of a write answer for a Prefer header (return=minimal: none; return=OperationOutcome: an informational outcome; otherwise the Task).';

/*
 * Schema fhir: the endpoints PostgREST exposes (db-schemas = "fhir").
 * Each reads request.headers, answers with response.status and
 * response.headers, and returns the body.  An error becomes an
 * OperationOutcome with its FHIR status: PostgREST commits a transaction
 * whose function returned (a 4xx response.status does not roll back), so
 * every write runs in a subtransaction that the error undoes first.
 */
CREATE SCHEMA fhir;
COMMENT ON SCHEMA fhir IS 'omnitask''s FHIR RESTful API for PostgREST: Task read, vread, create (conditional), update, patch, search, history, the change feed and the capability statement.';
GRANT USAGE ON SCHEMA fhir TO omnitask_admin, omnitask_practitioner, omnitask_auditor;

CREATE DOMAIN fhir."application/fhir+json" AS jsonb;
COMMENT ON DOMAIN fhir."application/fhir+json" IS 'PostgREST media type handler: functions returning it answer Accept: application/fhir+json with Content-Type application/fhir+json.';

CREATE FUNCTION omnitask.fhir_headers() RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT COALESCE(NULLIF(pg_catalog.current_setting('request.headers', true), '')::jsonb, '{}') $$;
COMMENT ON FUNCTION omnitask.fhir_headers() IS 'Internal: PostgREST''s request.headers (lower-case names) as jsonb; {} outside a request.';

CREATE FUNCTION omnitask.fhir_task_read_full(id text) RETURNS jsonb
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	h jsonb := omnitask.fhir_headers();
	r record;
	inm text := h ->> 'if-none-match';
	ims timestamptz;
BEGIN
	SELECT t.resource, t.version_id, t.last_updated INTO r FROM omnitask.task t WHERE t.id = fhir_task_read_full.id;
	IF NOT FOUND THEN
		PERFORM omnitask.fhir_respond(404, '[]');
		RETURN omnitask.fhir_outcome(404, 'PT404', pg_catalog.format('Task/%s not found', pg_catalog.left(id, 64)),
									 NULL, 'No task has this id, or it is not visible to you.');
	END IF;
	IF inm IS NOT NULL THEN
		IF pg_catalog.btrim(inm) = '*' OR ('W/"' || r.version_id || '"') = ANY (
				SELECT pg_catalog.regexp_replace(pg_catalog.btrim(e), '^"', 'W/"')
				FROM pg_catalog.unnest(pg_catalog.string_to_array(inm, ',')) e) THEN
			PERFORM omnitask.fhir_respond_task(304, fhir_task_read_full.id, r.version_id, r.last_updated, false);
			RETURN NULL;
		END IF;
	ELSIF h ? 'if-modified-since' THEN
		BEGIN
			ims := (h ->> 'if-modified-since')::timestamptz;
		EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
			ims := NULL;		-- RFC 7232: an invalid date is ignored
		END;
		IF ims IS NOT NULL AND pg_catalog.date_trunc('second', r.last_updated) <= ims THEN
			PERFORM omnitask.fhir_respond_task(304, fhir_task_read_full.id, r.version_id, r.last_updated, false);
			RETURN NULL;
		END IF;
	END IF;
	PERFORM omnitask.fhir_respond_task(200, fhir_task_read_full.id, r.version_id, r.last_updated, false);
	RETURN r.resource;
END
$$;
COMMENT ON FUNCTION omnitask.fhir_task_read_full(text) IS 'Internal: GET /Task/{id} in full (conditional reads, 404); fhir.task_read answers the common unconditional read itself and leaves the rest to this.';

-- GET /Task/{id}: the common read in C (src/fhir_http.c), the rest above
CREATE FUNCTION fhir.task_read(id text) RETURNS fhir."application/fhir+json"
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_fhir_task_read';
COMMENT ON FUNCTION fhir.task_read(text) IS 'GET /Task/{id}: 200 with ETag and Last-Modified; 304 for a matching If-None-Match or an If-Modified-Since not older than the version; 404 OperationOutcome when the task does not exist or is not visible.';

CREATE FUNCTION fhir.task_vread(id text, vid text) RETURNS fhir."application/fhir+json"
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	found_resource jsonb;
BEGIN
	IF vid !~ '^[0-9]{1,9}$' THEN
		PERFORM omnitask.fhir_respond(400, '[]');
		RETURN omnitask.fhir_outcome(400, '22023', pg_catalog.format('invalid version id "%s"', pg_catalog.left(vid, 64)), NULL, NULL);
	END IF;
	-- as task_history: only for a task visible now, and a version the caller may see
	SELECT hv.resource INTO found_resource
		FROM omnitask.task t JOIN omnitask.task_history hv ON hv.id = t.id
		WHERE t.id = task_vread.id AND hv.version_id = vid::integer;
	IF NOT FOUND THEN
		PERFORM omnitask.fhir_respond(404, '[]');
		RETURN omnitask.fhir_outcome(404, 'PT404', pg_catalog.format('Task/%s/_history/%s not found', pg_catalog.left(id, 64), vid),
									 NULL, 'No such version, or it is not visible to you.');
	END IF;
	PERFORM omnitask.fhir_respond_task(200, task_vread.id, vid::integer, (found_resource -> 'meta' ->> 'lastUpdated')::timestamptz, false);
	RETURN found_resource;
END
$$;
COMMENT ON FUNCTION fhir.task_vread(text, text) IS 'GET /Task/{id}/_history/{vid}: that version with its ETag and Last-Modified; 404 OperationOutcome when the task or version does not exist or is not visible; 400 for a malformed vid.';

CREATE FUNCTION fhir.task_create(text) RETURNS fhir."application/fhir+json"
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	h jsonb := omnitask.fhir_headers();
	body jsonb;
	task jsonb;
	created boolean := true;
	st integer;
	e_state text; e_msg text; e_detail text; e_hint text;
BEGIN
	BEGIN
		-- the raw request body (text/plain from the proxy): one that is not
		-- JSON is answered here, 400 with an OperationOutcome, not by PostgREST
		body := $1::jsonb;
		IF h ? 'if-none-exist' THEN
			SELECT c.task, c.created INTO task, created
				FROM omnitask.create_task_if_none_exist(body, h ->> 'if-none-exist') c;
		ELSE
			task := omnitask.create_task(body);
		END IF;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT,
			e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
		st := omnitask.fhir_http_status(e_state);
		IF st IS NULL THEN
			RAISE;
		END IF;
		PERFORM omnitask.fhir_respond(st, '[]');
		RETURN omnitask.fhir_outcome(st, e_state, e_msg, e_detail, e_hint);
	END;
	PERFORM omnitask.fhir_respond_task(CASE WHEN created THEN 201 ELSE 200 END, task ->> 'id',
		(task -> 'meta' ->> 'versionId')::integer, (task -> 'meta' ->> 'lastUpdated')::timestamptz, true);
	RETURN omnitask.fhir_write_body(task, h ->> 'prefer',
		CASE WHEN created THEN 'Created Task/' ELSE 'Found Task/' END || (task ->> 'id')
		|| ' version ' || (task -> 'meta' ->> 'versionId'));
END
$$;
COMMENT ON FUNCTION fhir.task_create(text) IS 'POST /Task (the body is the Task): 201 with Location, ETag, Last-Modified; with If-None-Exist (identifier=system|value) 200 and the existing task when one matches, nothing written; errors as OperationOutcome (400, 403, 409, 412, 422). Prefer return=minimal|representation|OperationOutcome.';

-- The task id of a PUT or PATCH: the front proxy passes the URL's id in
-- the X-FHIR-Id header (PostgREST has no PUT/PATCH on functions).
CREATE FUNCTION omnitask.fhir_url_id(headers jsonb) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
BEGIN
	IF NULLIF(headers ->> 'x-fhir-id', '') IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'request names no task id',
			HINT = 'Send PUT and PATCH to /Task/{id} (the front proxy passes the id as X-FHIR-Id).';
	END IF;
	RETURN headers ->> 'x-fhir-id';
END
$$;
COMMENT ON FUNCTION omnitask.fhir_url_id(jsonb) IS 'Internal: the task id of the URL of a PUT or PATCH, from the X-FHIR-Id header the front proxy sets.';

-- If-Match as a version, and the 428 rule.
CREATE FUNCTION omnitask.fhir_if_match(headers jsonb) RETURNS integer
	LANGUAGE plpgsql STABLE PARALLEL SAFE AS
$$
BEGIN
	IF NOT headers ? 'if-match' AND omnitask.fhir_require_if_match() THEN
		RAISE EXCEPTION USING ERRCODE = 'PT428',
			MESSAGE = 'this server requires If-Match on updates',
			HINT = 'Read the task and send its ETag as If-Match.';
	END IF;
	RETURN omnitask.fhir_etag_version(headers ->> 'if-match');
END
$$;
COMMENT ON FUNCTION omnitask.fhir_if_match(jsonb) IS 'Internal: the version If-Match names (NULL without one); PT428 without one when omnitask.fhir_require_if_match is on.';

CREATE FUNCTION fhir.task_update(text) RETURNS fhir."application/fhir+json"
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	h jsonb := omnitask.fhir_headers();
	body jsonb;
	task_id text;
	stored jsonb;
	created boolean := false;
	st integer;
	e_state text; e_msg text; e_detail text; e_hint text;
BEGIN
	BEGIN
		-- the raw request body (text/plain from the proxy): one that is not
		-- JSON is answered here, 400 with an OperationOutcome, not by PostgREST
		body := $1::jsonb;
		IF NOT h ? 'x-fhir-id' AND h ? 'x-fhir-condition' THEN
			-- PUT /Task?identifier=...: conditional update
			SELECT c.task, c.created INTO stored, created
				FROM omnitask.update_task_by_identifier(body, h ->> 'x-fhir-condition', omnitask.fhir_if_match(h)) c;
			task_id := stored ->> 'id';
		ELSE
			task_id := omnitask.fhir_url_id(h);
			IF jsonb_typeof(body) IS DISTINCT FROM 'object' OR (body ->> 'id') IS DISTINCT FROM task_id THEN
				RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
					MESSAGE = pg_catalog.format('Task id does not match the URL''s "%s"', pg_catalog.left(task_id, 64)),
					HINT = 'An update carries the id of the task it replaces.';
			END IF;
			stored := omnitask.update_task(task_id, body, omnitask.fhir_if_match(h));
		END IF;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT,
			e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
		st := omnitask.fhir_http_status(e_state);
		IF st IS NULL THEN
			RAISE;
		END IF;
		PERFORM omnitask.fhir_respond(st, '[]');
		RETURN omnitask.fhir_outcome(st, e_state, e_msg, e_detail, e_hint);
	END;
	PERFORM omnitask.fhir_respond_task(CASE WHEN created THEN 201 ELSE 200 END, stored ->> 'id',
		(stored -> 'meta' ->> 'versionId')::integer, (stored -> 'meta' ->> 'lastUpdated')::timestamptz, true);
	RETURN omnitask.fhir_write_body(stored, h ->> 'prefer',
		CASE WHEN created THEN 'Created Task/' || task_id || ' version ' ELSE 'Updated Task/' || task_id || ' to version ' END
		|| (stored -> 'meta' ->> 'versionId'));
END
$$;
COMMENT ON FUNCTION fhir.task_update(text) IS 'PUT /Task/{id} (id in X-FHIR-Id, the Task as body, its id equal to the URL''s): 200 with Location, ETag, Last-Modified; If-Match W/"n" -> 412 on mismatch; 428 without If-Match when omnitask.fhir_require_if_match is on. PUT /Task?identifier=system|value (the query in X-FHIR-Condition, no X-FHIR-Id): conditional update by update_task_by_identifier, 201 when it created the task, 200 when it updated the one match, 412 for several. Errors as OperationOutcome (400, 403, 404, 409, 412, 422, 428).';

CREATE FUNCTION fhir.task_patch(text) RETURNS fhir."application/fhir+json"
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	h jsonb := omnitask.fhir_headers();
	body jsonb;
	task_id text;
	stored jsonb;
	st integer;
	e_state text; e_msg text; e_detail text; e_hint text;
BEGIN
	BEGIN
		-- the raw request body (text/plain from the proxy): one that is not
		-- JSON is answered here, 400 with an OperationOutcome, not by PostgREST
		body := $1::jsonb;
		task_id := omnitask.fhir_url_id(h);
		stored := omnitask.patch_task(task_id, body, omnitask.fhir_if_match(h));
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT,
			e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
		st := omnitask.fhir_http_status(e_state);
		IF st IS NULL THEN
			RAISE;
		END IF;
		PERFORM omnitask.fhir_respond(st, '[]');
		RETURN omnitask.fhir_outcome(st, e_state, e_msg, e_detail, e_hint);
	END;
	PERFORM omnitask.fhir_respond_task(200, stored ->> 'id',
		(stored -> 'meta' ->> 'versionId')::integer, (stored -> 'meta' ->> 'lastUpdated')::timestamptz, true);
	RETURN omnitask.fhir_write_body(stored, h ->> 'prefer',
		'Patched Task/' || task_id || ' to version ' || (stored -> 'meta' ->> 'versionId'));
END
$$;
COMMENT ON FUNCTION fhir.task_patch(text) IS 'PATCH /Task/{id} with a JSON Patch (id in X-FHIR-Id): applied to the current version and stored as an update (validation, workflow, access); 200 with ETag; a failed test (e.g. on /meta/versionId) or If-Match mismatch 412; an inapplicable operation 422; a malformed patch 400; 428 as for update.';

-- An error of a read endpoint as an answer (reads write nothing, so no
-- subtransaction is needed to undo anything).
CREATE FUNCTION omnitask.fhir_error_answer(e_state text, e_msg text, e_detail text, e_hint text) RETURNS jsonb
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	st integer := omnitask.fhir_http_status(e_state);
BEGIN
	IF st IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM omnitask.fhir_respond(st, '[]');
	RETURN omnitask.fhir_outcome(st, e_state, e_msg, e_detail, e_hint);
END
$$;
COMMENT ON FUNCTION omnitask.fhir_error_answer(text, text, text, text) IS 'Internal: sets the FHIR status of an error and returns its OperationOutcome; NULL for an error with no FHIR status (to be re-raised).';

CREATE FUNCTION fhir.task_search(owner text DEFAULT NULL, status text DEFAULT NULL, priority text DEFAULT NULL,
								 patient text DEFAULT NULL, _count integer DEFAULT 50, _offset integer DEFAULT 0,
								 _sort text DEFAULT NULL) RETURNS fhir."application/fhir+json"
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	base text := omnitask.fhir_base_url();
	b jsonb;
	answer jsonb;
	e_state text; e_msg text; e_detail text; e_hint text;
BEGIN
	-- the proxy passes the query string unchanged as X-FHIR-Query
	IF omnitask.fhir_headers() ? 'x-fhir-query' THEN
		b := omnitask.search_tasks_query(omnitask.fhir_headers() ->> 'x-fhir-query',
			COALESCE(omnitask.fhir_headers() ->> 'prefer', '') ~* 'handling\s*=\s*lenient');
	ELSE
		b := omnitask.search_tasks(owner, status, priority, patient, _count, _offset, _sort);
	END IF;
	IF base <> '' THEN
		-- absolute fullUrl and links
		b := b || jsonb_build_object(
			'link', (SELECT jsonb_agg(l || jsonb_build_object('url', base || '/' || (l ->> 'url')) ORDER BY n)
					 FROM jsonb_array_elements(b -> 'link') WITH ORDINALITY AS x(l, n)),
			'entry', COALESCE((SELECT jsonb_agg(e || jsonb_build_object('fullUrl', base || '/' || (e ->> 'fullUrl')) ORDER BY n)
							   FROM jsonb_array_elements(b -> 'entry') WITH ORDINALITY AS x(e, n)), '[]'));
	END IF;
	PERFORM omnitask.fhir_respond(200, '[]');
	RETURN b;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT,
		e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
	answer := omnitask.fhir_error_answer(e_state, e_msg, e_detail, e_hint);
	IF answer IS NULL THEN
		RAISE;
	END IF;
	RETURN answer;
END
$$;
COMMENT ON FUNCTION fhir.task_search(text, text, text, text, integer, integer, text) IS 'GET /Task?...: with the X-FHIR-Query header (the query string, set by the proxy) search_tasks_query (Prefer: handling=lenient ignores unrecognized parameters), else search_tasks with owner=&status=&priority=&patient=&_count=&_offset=&_sort=; a searchset Bundle with absolute fullUrl and links; a bad parameter 400 OperationOutcome.';

CREATE FUNCTION fhir.task_history(id text, _count integer DEFAULT 50, _since timestamptz DEFAULT NULL,
								  _at timestamptz DEFAULT NULL, _before integer DEFAULT NULL) RETURNS fhir."application/fhir+json"
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	b jsonb;
	answer jsonb;
	e_state text; e_msg text; e_detail text; e_hint text;
BEGIN
	b := omnitask.task_history_page(id, _count, _since, _at, _before);
	PERFORM omnitask.fhir_respond(200, '[]');
	RETURN b;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT,
		e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
	answer := omnitask.fhir_error_answer(e_state, e_msg, e_detail, e_hint);
	IF answer IS NULL THEN
		RAISE;
	END IF;
	RETURN answer;
END
$$;
COMMENT ON FUNCTION fhir.task_history(text, integer, timestamptz, timestamptz, integer) IS 'GET /Task/{id}/_history?_count=&_since=&_at=: task_history_page as a history Bundle with self/first/next links; 404 and 400 as OperationOutcome.';

CREATE FUNCTION fhir.task_changes(_cursor text DEFAULT NULL, _count integer DEFAULT 100) RETURNS fhir."application/fhir+json"
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	b jsonb;
	answer jsonb;
	e_state text; e_msg text; e_detail text; e_hint text;
BEGIN
	b := omnitask.task_changes(_cursor, _count);
	PERFORM omnitask.fhir_respond(200, '[]');
	RETURN b;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT,
		e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
	answer := omnitask.fhir_error_answer(e_state, e_msg, e_detail, e_hint);
	IF answer IS NULL THEN
		RAISE;
	END IF;
	RETURN answer;
END
$$;
COMMENT ON FUNCTION fhir.task_changes(text, integer) IS 'GET /Task/_history?_cursor=&_count=: the change feed (omnitask.task_changes), oldest first, polled with the next link''s cursor; a bad cursor 400 OperationOutcome.';

/*
 * The capability statement, generated from the catalog: an interaction is
 * listed when its endpoint exists in schema fhir and the caller may
 * execute it; the search parameters are the arguments of fhir.task_search.
 */
CREATE FUNCTION fhir.metadata() RETURNS fhir."application/fhir+json"
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	interactions jsonb;
	params jsonb;
	base text := omnitask.fhir_base_url();
BEGIN
	SELECT COALESCE(jsonb_agg(jsonb_build_object('code', i.code) ORDER BY i.ord), '[]') INTO interactions
		FROM (VALUES (1, 'read', 'task_read'), (2, 'vread', 'task_vread'), (3, 'update', 'task_update'),
					 (4, 'patch', 'task_patch'), (5, 'history-instance', 'task_history'),
					 (6, 'history-type', 'task_changes'), (7, 'create', 'task_create'),
					 (8, 'search-type', 'task_search')) AS i(ord, code, fn)
		WHERE EXISTS (SELECT FROM pg_catalog.pg_proc p
					  WHERE p.pronamespace = 'fhir'::regnamespace AND p.proname = i.fn
						AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE'));
	-- the parameters the query string takes (search.c's table)
	params := omnitask.search_parameters();
	PERFORM omnitask.fhir_respond(200, '[]');
	RETURN jsonb_build_object(
		'resourceType', 'CapabilityStatement',
		'status', 'active',
		'date', pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
		'kind', 'instance',
		'software', jsonb_build_object('name', 'omnitask', 'version',
			(SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'omnitask')),
		'implementation', jsonb_strip_nulls(jsonb_build_object('description', 'omnitask FHIR Task endpoint', 'url', NULLIF(base, ''))),
		'fhirVersion', '4.0.1',
		'format', jsonb_build_array('application/fhir+json'),
		'patchFormat', jsonb_build_array('application/json-patch+json'),
		'rest', jsonb_build_array(jsonb_build_object(
			'mode', 'server',
			'resource', jsonb_build_array(jsonb_build_object(
				'type', 'Task',
				'interaction', interactions,
				'versioning', 'versioned-update',
				'readHistory', true,
				'updateCreate', false,
				'conditionalCreate', true,
				'conditionalRead', 'full-support',
				'conditionalUpdate', true,
				'conditionalDelete', 'not-supported',
				'searchParam', params)))));
END
$$;
COMMENT ON FUNCTION fhir.metadata() IS 'GET /metadata: the CapabilityStatement, generated from the endpoints of schema fhir the caller may execute and the parameters of omnitask.search_parameters().';

/*
 * Privileges.
 */
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA fhir FROM PUBLIC;
REVOKE ALL ON FUNCTION omnitask.fhir_base_url(), omnitask.fhir_require_if_match(),
	omnitask.parse_if_none_exist(text), omnitask.create_task_if_none_exist(jsonb, text),
	omnitask.update_task_by_identifier(jsonb, text, integer),
	omnitask.json_pointer(text), omnitask.json_patch_get(jsonb, text[], text),
	omnitask.json_patch_add(jsonb, text[], jsonb, text), omnitask.json_patch_remove(jsonb, text[], text),
	omnitask.json_patch(jsonb, jsonb), omnitask.patch_task(text, jsonb, integer),
	omnitask.add_task_note(text, text, integer), omnitask.set_task_business_status(text, text, integer),
	omnitask.set_task_due(text, timestamptz, integer),
	omnitask.history_entry(omnitask.task_history, text),
	omnitask.task_history_page(text, integer, timestamptz, timestamptz, integer),
	omnitask.feed_cursor(xid8, text, integer), omnitask.task_changes(text, integer),
	omnitask.fhir_http_status(text), omnitask.fhir_outcome(integer, text, text, text, text),
	omnitask.fhir_http_date(timestamptz), omnitask.fhir_etag_version(text), omnitask.fhir_respond(integer, jsonb),
	omnitask.fhir_respond_task(integer, text, integer, timestamptz, boolean), omnitask.fhir_write_body(jsonb, text, text),
	omnitask.fhir_headers(), omnitask.fhir_url_id(jsonb), omnitask.fhir_if_match(jsonb),
	omnitask.fhir_error_answer(text, text, text, text), omnitask.fhir_task_read_full(text)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.fhir_base_url(), omnitask.fhir_require_if_match(),
	omnitask.parse_if_none_exist(text),
	omnitask.json_pointer(text), omnitask.json_patch_get(jsonb, text[], text),
	omnitask.json_patch_add(jsonb, text[], jsonb, text), omnitask.json_patch_remove(jsonb, text[], text),
	omnitask.json_patch(jsonb, jsonb),
	omnitask.history_entry(omnitask.task_history, text),
	omnitask.task_history_page(text, integer, timestamptz, timestamptz, integer),
	omnitask.feed_cursor(xid8, text, integer), omnitask.task_changes(text, integer),
	omnitask.fhir_http_status(text), omnitask.fhir_outcome(integer, text, text, text, text),
	omnitask.fhir_http_date(timestamptz), omnitask.fhir_etag_version(text), omnitask.fhir_respond(integer, jsonb),
	omnitask.fhir_respond_task(integer, text, integer, timestamptz, boolean), omnitask.fhir_write_body(jsonb, text, text),
	omnitask.fhir_headers(), omnitask.fhir_url_id(jsonb), omnitask.fhir_if_match(jsonb),
	omnitask.fhir_error_answer(text, text, text, text), omnitask.fhir_task_read_full(text),
	fhir.task_read(text), fhir.task_vread(text, text), fhir.task_search(text, text, text, text, integer, integer, text),
	fhir.task_history(text, integer, timestamptz, timestamptz, integer), fhir.task_changes(text, integer),
	fhir.metadata(),
	-- the write endpoints too: an auditor gets the 403 OperationOutcome of
	-- the rules (omnitask.create_task etc. stay closed to them)
	fhir.task_create(text), fhir.task_update(text), fhir.task_patch(text)
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;
GRANT EXECUTE ON FUNCTION omnitask.create_task_if_none_exist(jsonb, text),
	omnitask.update_task_by_identifier(jsonb, text, integer),
	omnitask.patch_task(text, jsonb, integer), omnitask.add_task_note(text, text, integer),
	omnitask.set_task_business_status(text, text, integer), omnitask.set_task_due(text, timestamptz, integer)
	TO omnitask_admin, omnitask_practitioner;

-- (end of FHIR over HTTP)


/* ======================================================================
 * Read audit
 * ====================================================================== */

/*
 * The access log.  Appended by the audit writer (a background worker, as
 * superuser) or by audit_purge(); no role is granted INSERT, UPDATE, DELETE
 * or TRUNCATE, and a trigger refuses UPDATE, DELETE and TRUNCATE to every
 * role but a superuser able to disable it.  Admins and auditors read it.
 */
CREATE TABLE omnitask.audit_log (
	event_id		bigint GENERATED ALWAYS AS IDENTITY (CACHE 1000),
	recorded_at		timestamptz NOT NULL,
	written_at		timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	action			text NOT NULL,
	outcome			text NOT NULL,
	login_role		name,
	session_role	name,
	acting_role		name,
	practitioner_id	text,
	claims			text,
	request_id		text,
	client_addr		text,
	application_name text,
	backend_pid		integer,
	query			text,
	relations		text[],
	row_count		bigint NOT NULL,
	task_ids		text[] NOT NULL,
	patient_ids		text[] NOT NULL
);
COMMENT ON TABLE omnitask.audit_log IS 'Read audit: one row per read of tasks (read_task, search_tasks, task_history, audit_read, and statements reading omnitask.task or task_history directly or through the views), written by the omnitask audit writer when omnitask.audit is table or both. Append-only; admins and auditors read it.';
COMMENT ON COLUMN omnitask.audit_log.event_id IS 'Order of insertion (unique: an identity, cached by the writer, so with gaps; no index).';
COMMENT ON COLUMN omnitask.audit_log.recorded_at IS 'When the read happened (before it returned).';
COMMENT ON COLUMN omnitask.audit_log.written_at IS 'When the audit writer inserted the row.';
COMMENT ON COLUMN omnitask.audit_log.action IS 'read, vread, search, history, changes, report (a reporting view), direct (a statement on omnitask.task or task_history), export, or purge.';
COMMENT ON COLUMN omnitask.audit_log.outcome IS 'ok, or not-found (PT404: the id does not exist or is not visible).';
COMMENT ON COLUMN omnitask.audit_log.login_role IS 'The role that logged in (for PostgREST: the authenticator).';
COMMENT ON COLUMN omnitask.audit_log.session_role IS 'session_user at the read.';
COMMENT ON COLUMN omnitask.audit_log.acting_role IS 'current_user at the read.';
COMMENT ON COLUMN omnitask.audit_log.practitioner_id IS 'The caller''s practitioner id as omnitask resolved it (registry or trusted JWT claim), or NULL.';
COMMENT ON COLUMN omnitask.audit_log.claims IS 'request.jwt.claims when set (first 2000 bytes).';
COMMENT ON COLUMN omnitask.audit_log.request_id IS 'x-request-id of request.headers (set by PostgREST), when present.';
COMMENT ON COLUMN omnitask.audit_log.client_addr IS 'The client''s IP address; NULL over a Unix-domain socket.';
COMMENT ON COLUMN omnitask.audit_log.query IS 'The read''s parameters (id=..., the search query string) or, for report/direct, the statement text (first 4000 bytes).';
COMMENT ON COLUMN omnitask.audit_log.relations IS 'report/direct: the omnitask tables and views the statement read.';
COMMENT ON COLUMN omnitask.audit_log.row_count IS 'Resources or rows returned.';
COMMENT ON COLUMN omnitask.audit_log.task_ids IS 'Ids of the tasks returned (at most 1000; for report/direct, from a text result column named id).';
COMMENT ON COLUMN omnitask.audit_log.patient_ids IS 'Ids of the patients of the tasks returned, each once (for report/direct, from a text result column named patient_id).';
-- No index: the writer pays for each one per read audited.  Measured by
-- test/bench/audit_callgrind.sh on 15, a BRIN index on (recorded_at,
-- event_id) cost the writer ~9,500 instructions per row (brininsert reads
-- the index's metapage and revmap for every row), 6 % of a read_task; the
-- identity's sequence, uncached, ~2,400 (hence CACHE 1000: event_id keeps
-- the order of insertion, with gaps when a writer exits).  Purges and
-- auditors' queries scan the table; add an index where lookups are frequent.
SELECT pg_catalog.pg_extension_config_dump('omnitask.audit_log', '');

ALTER TABLE omnitask.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE omnitask.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_admin_select ON omnitask.audit_log FOR SELECT TO omnitask_admin USING (true);
CREATE POLICY audit_auditor_select ON omnitask.audit_log FOR SELECT TO omnitask_auditor USING (true);

CREATE FUNCTION omnitask.audit_log_guard() RETURNS trigger
	LANGUAGE c PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_audit_log_guard';
COMMENT ON FUNCTION omnitask.audit_log_guard() IS 'Statement trigger that keeps omnitask.audit_log append-only (only audit_purge() deletes).';
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON omnitask.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION omnitask.audit_log_guard();

-- the writer inserts in C (audit_queue.c: table_multi_insert through a
-- ResultRelInfo, constraints, defaults and the index applied), from a
-- compact binary record: no SQL function, no JSON to parse per record

/*
 * The audited reads.  read_task and task_history are C now (same contract,
 * same errors): each records one event with the task and patient ids.
 * PARALLEL RESTRICTED: the record carries the session's identity and
 * client address, which only the leader has.
 */
CREATE OR REPLACE FUNCTION omnitask.read_task(id text) RETURNS jsonb
	LANGUAGE c STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_read_task';
COMMENT ON FUNCTION omnitask.read_task(text) IS 'The current version of a task (FHIR read); PT404 when it does not exist or is not visible to the caller. Recorded by the read audit (action read).';
CREATE OR REPLACE FUNCTION omnitask.task_history(id text) RETURNS jsonb
	LANGUAGE c STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_task_history';
COMMENT ON FUNCTION omnitask.task_history(text) IS 'Every stored version of a task as a FHIR history Bundle, newest first; PT404 when the task does not exist or is not visible. Recorded by the read audit (action history).';
ALTER FUNCTION omnitask.search_tasks(text, text, text, text, integer, integer, text) PARALLEL RESTRICTED;

CREATE FUNCTION omnitask.audit_read(action text, task_ids text[] DEFAULT NULL,
									patient_ids text[] DEFAULT NULL, query text DEFAULT NULL)
	RETURNS void
	LANGUAGE c VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_audit_read';
COMMENT ON FUNCTION omnitask.audit_read(text, text[], text[], text) IS 'Records one read made outside omnitask''s own functions (e.g. the FHIR HTTP layer) with the caller''s identity, as omnitask.audit says: action read, vread, search, history, changes, report or export (22023 otherwise); the task and patient ids returned; the query parameters. Works in read-only transactions.';

CREATE FUNCTION omnitask.audit_stats(OUT preloaded boolean, OUT queued bigint, OUT written bigint,
	OUT logged_not_preloaded bigint, OUT logged_standby bigint, OUT logged_no_queue bigint,
	OUT logged_queue_full bigint, OUT logged_too_large bigint, OUT logged_postmaster_gone bigint,
	OUT logged_from_queue bigint, OUT failed_batches bigint, OUT pending_bytes bigint)
	LANGUAGE c VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_audit_stats';
COMMENT ON FUNCTION omnitask.audit_stats() IS 'The read audit''s queue since server start: records queued and written to audit_log; records written to the server log instead, by reason (standby, no queue free, queue full for 200 ms, too large, postmaster gone); records logged from the queue (crash, stop, failed insert); bytes still queued. NULLs when omnitask is not preloaded.';

-- admins delete only through audit_purge(): the trigger refuses any other DELETE
CREATE POLICY audit_admin_purge ON omnitask.audit_log FOR DELETE TO omnitask_admin USING (true);
CREATE FUNCTION omnitask.audit_purge(older_than timestamptz) RETURNS bigint
	LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_audit_purge';
COMMENT ON FUNCTION omnitask.audit_purge(timestamptz) IS 'Admin only: deletes the audit records older than older_than (at least a day ago; 22023 otherwise) and records the purge (who, cut-off, how many) as an audit event, in the server log and in audit_log, whatever omnitask.audit says.';

/*
 * The log as FHIR R4 AuditEvent resources (IHE BALP-style): type rest,
 * subtype the FHIR interaction, the caller as agent, each Task and Patient
 * returned as an entity, the query and the request id as entities.
 */
CREATE VIEW omnitask.audit_events WITH (security_invoker = true) AS
	SELECT a.event_id, a.recorded_at, a.task_ids, a.patient_ids,
		pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
			'resourceType', 'AuditEvent',
			'id', a.event_id::text,
			'type', pg_catalog.jsonb_build_object(
				'system', 'http://terminology.hl7.org/CodeSystem/audit-event-type',
				'code', 'rest', 'display', 'RESTful Operation'),
			'subtype', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
				'system', 'http://hl7.org/fhir/restful-interaction',
				'code', CASE a.action WHEN 'read' THEN 'read' WHEN 'vread' THEN 'vread'
					WHEN 'history' THEN 'history-instance' WHEN 'purge' THEN 'delete'
					ELSE 'search-type' END)),
			'action', CASE WHEN a.action IN ('read', 'vread', 'history') THEN 'R'
				WHEN a.action = 'purge' THEN 'D' ELSE 'E' END,
			'recorded', pg_catalog.to_char(a.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
			'outcome', CASE a.outcome WHEN 'ok' THEN '0' ELSE '4' END,
			'outcomeDesc', CASE WHEN a.outcome <> 'ok' THEN a.outcome END,
			'agent', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
				'type', pg_catalog.jsonb_build_object('coding', pg_catalog.jsonb_build_array(
					pg_catalog.jsonb_build_object(
						'system', 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
						'code', 'IRCP', 'display', 'information recipient'))),
				'who', CASE WHEN a.practitioner_id IS NOT NULL
					THEN pg_catalog.jsonb_build_object('reference', 'Practitioner/' || a.practitioner_id)
					ELSE pg_catalog.jsonb_build_object('display', a.acting_role::text) END,
				'altId', a.login_role::text,
				'name', a.session_role::text,
				'requestor', true,
				'network', CASE WHEN a.client_addr IS NOT NULL
					THEN pg_catalog.jsonb_build_object('address', a.client_addr, 'type', '2') END)),
			'source', pg_catalog.jsonb_build_object(
				'observer', pg_catalog.jsonb_build_object('display', 'omnitask'),
				'type', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
					'system', 'http://terminology.hl7.org/CodeSystem/security-source-type',
					'code', '4', 'display', 'Application Server'))),
			'entity', (SELECT pg_catalog.jsonb_agg(x.e ORDER BY x.k, x.n) FROM (
				SELECT 1 AS k, t.n, pg_catalog.jsonb_build_object(
						'what', pg_catalog.jsonb_build_object('reference', 'Task/' || t.v),
						'type', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type', 'code', '2', 'display', 'System Object'),
						'role', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/object-role', 'code', '4', 'display', 'Domain Resource')) AS e
					FROM pg_catalog.unnest(a.task_ids) WITH ORDINALITY AS t(v, n)
				UNION ALL
				SELECT 2, p.n, pg_catalog.jsonb_build_object(
						'what', pg_catalog.jsonb_build_object('reference', 'Patient/' || p.v),
						'type', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type', 'code', '1', 'display', 'Person'),
						'role', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/object-role', 'code', '1', 'display', 'Patient'))
					FROM pg_catalog.unnest(a.patient_ids) WITH ORDINALITY AS p(v, n)
				UNION ALL
				SELECT 3, 1, pg_catalog.jsonb_build_object(
						'type', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type', 'code', '2', 'display', 'System Object'),
						'role', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/object-role', 'code', '24', 'display', 'Query'),
						'query', pg_catalog.translate(pg_catalog.encode(pg_catalog.convert_to(a.query, 'UTF8'), 'base64'), E'\n', ''))
					WHERE a.query IS NOT NULL
				UNION ALL
				SELECT 4, 1, pg_catalog.jsonb_build_object(
						'what', pg_catalog.jsonb_build_object('identifier', pg_catalog.jsonb_build_object('value', a.request_id)),
						'type', pg_catalog.jsonb_build_object('system', 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType', 'code', 'XrequestId'))
					WHERE a.request_id IS NOT NULL) x))) AS resource
	FROM omnitask.audit_log a;
COMMENT ON VIEW omnitask.audit_events IS 'omnitask.audit_log as FHIR R4 AuditEvent resources (type rest; subtype read, vread, history-instance or search-type; the caller as agent; each Task and Patient returned, the query and the x-request-id as entities). Admins and auditors only.';

REVOKE ALL ON omnitask.audit_log, omnitask.audit_events FROM PUBLIC;
GRANT SELECT ON omnitask.audit_log, omnitask.audit_events TO omnitask_admin, omnitask_auditor;
GRANT DELETE ON omnitask.audit_log TO omnitask_admin;
REVOKE ALL ON FUNCTION omnitask.audit_log_guard(),
	omnitask.audit_read(text, text[], text[], text), omnitask.audit_stats(),
	omnitask.audit_purge(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.audit_read(text, text[], text[], text)
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;
GRANT EXECUTE ON FUNCTION omnitask.audit_stats() TO omnitask_admin, omnitask_auditor;
GRANT EXECUTE ON FUNCTION omnitask.audit_purge(timestamptz) TO omnitask_admin;

-- (end of read audit)


/* ======================================================================
 * Architecture: messages in PostgreSQL's style, one helper per rule
 * ====================================================================== */

/*
 * The messages of the 0.1 functions in PostgreSQL's style (values in double
 * quotes, a short primary message, the rest in detail and hint).  Bodies are
 * otherwise those of 0.1; CREATE OR REPLACE keeps grants and comments, and
 * each keeps the PARALLEL label the hardening section gave it.
 */
CREATE OR REPLACE FUNCTION omnitask.forbid_delete() RETURNS trigger
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
BEGIN
	RAISE EXCEPTION USING
		ERRCODE = 'insufficient_privilege',
		MESSAGE = pg_catalog.format('cannot delete rows from table "%s"', TG_TABLE_NAME),
		DETAIL = 'omnitask never deletes tasks or their history.',
		HINT = 'Retract a task by setting its status to entered-in-error.';
END
$$;

CREATE OR REPLACE FUNCTION omnitask.forbid_history_update() RETURNS trigger
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
BEGIN
	RAISE EXCEPTION USING
		ERRCODE = 'insufficient_privilege',
		MESSAGE = pg_catalog.format('cannot update rows of table "%s"', TG_TABLE_NAME),
		DETAIL = 'The history of a task is append-only.';
END
$$;

CREATE OR REPLACE FUNCTION omnitask.not_found(task_id text) RETURNS void
	LANGUAGE plpgsql PARALLEL SAFE AS
$$
BEGIN
	RAISE EXCEPTION USING
		ERRCODE = 'PT404',
		MESSAGE = pg_catalog.format('task "%s" does not exist', pg_catalog.left(task_id, 64)),
		HINT = 'No task has this id, or it is not visible to you.';
END
$$;

-- The if_match rule of every versioned write (PT412), in one place.
CREATE FUNCTION omnitask.require_version(task_id text, current_version integer, if_match integer, hint text)
	RETURNS void
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
BEGIN
	IF require_version.if_match IS NOT NULL AND require_version.if_match <> require_version.current_version THEN
		RAISE EXCEPTION USING
			ERRCODE = 'PT412',
			MESSAGE = pg_catalog.format('task "%s" is at version %s, not %s', require_version.task_id,
				require_version.current_version, require_version.if_match),
			HINT = require_version.hint;
	END IF;
END
$$;
COMMENT ON FUNCTION omnitask.require_version(text, integer, integer, text) IS 'Internal: raises PT412 (with the given hint) when if_match is given and differs from the task''s current version; the if_match rule of update_task and set_task_status.';

CREATE OR REPLACE FUNCTION omnitask.update_task(id text, resource jsonb, if_match integer DEFAULT NULL) RETURNS jsonb
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	current_version integer;
	stored jsonb;
BEGIN
	IF update_task.id IS NULL OR update_task.resource IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'task id and resource must not be null';
	END IF;
	SELECT t.version_id INTO current_version FROM omnitask.task t
		WHERE t.id = update_task.id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM omnitask.not_found(update_task.id);
	END IF;
	PERFORM omnitask.require_version(update_task.id, current_version, update_task.if_match,
		'Read the task again and reapply your change.');
	UPDATE omnitask.task t SET resource = update_task.resource
		WHERE t.id = update_task.id
		RETURNING t.resource INTO stored;
	RETURN stored;
END
$$;

CREATE OR REPLACE FUNCTION omnitask.set_task_status(id text, status text, reason text DEFAULT NULL, if_match integer DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	current_resource jsonb;
	current_version integer;
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
	UPDATE omnitask.task t
		SET resource = (current_resource - 'statusReason')
			|| pg_catalog.jsonb_build_object('status', set_task_status.status)
			|| CASE WHEN reason IS NULL THEN '{}'::jsonb
					ELSE pg_catalog.jsonb_build_object('statusReason', pg_catalog.jsonb_build_object('text', reason)) END
		WHERE t.id = set_task_status.id
		RETURNING t.resource INTO stored;
	RETURN stored;
END
$$;

CREATE OR REPLACE FUNCTION omnitask.register_practitioner(role_name name, id text, display text DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = register_practitioner.role_name) THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = pg_catalog.format('role "%s" does not exist', register_practitioner.role_name),
			HINT = 'Create the login role first, then register it.';
	END IF;
	IF register_practitioner.role_name = pg_catalog.current_setting('omnitask.jwt_authenticator', true) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('role "%s" is the JWT authenticator', register_practitioner.role_name),
			DETAIL = 'Every PostgREST request logs in as the authenticator; its practitioner comes from the token.';
	END IF;
	IF register_practitioner.role_name IN ('omnitask_admin', 'omnitask_practitioner', 'omnitask_auditor')
	   OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
				  WHERE r.rolname = register_practitioner.role_name) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('role "%s" is a group role', register_practitioner.role_name),
			DETAIL = 'A practitioner is registered by their own role; a role with members is shared by many users.',
			HINT = 'Practitioners reaching omnitask through PostgREST need no role of their own: their token names their id.';
	END IF;
	INSERT INTO omnitask.practitioner AS p (id, role_name, display, active)
		VALUES (register_practitioner.id, register_practitioner.role_name, register_practitioner.display, true)
		ON CONFLICT ON CONSTRAINT practitioner_pkey DO UPDATE
			SET display = EXCLUDED.display, active = true
			WHERE p.role_name = EXCLUDED.role_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'unique_violation',
			MESSAGE = pg_catalog.format('practitioner "%s" is already registered for another role', register_practitioner.id);
	END IF;
END
$$;

REVOKE ALL ON FUNCTION omnitask.require_version(text, integer, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.require_version(text, integer, integer, text)
	TO omnitask_admin, omnitask_practitioner;

-- (end of architecture)


/* ======================================================================
 * Search: the R4 Task search parameters
 * ====================================================================== */

CREATE FUNCTION omnitask.search_tasks_query(query text, lenient boolean DEFAULT false)
	RETURNS jsonb
	-- STABLE PARALLEL RESTRICTED: reads the row-secured table as the caller,
	-- keeps per-backend plans and writes the read audit, like search_tasks
	LANGUAGE c STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_search_tasks_query';
COMMENT ON FUNCTION omnitask.search_tasks_query(text, boolean) IS 'FHIR search on Task from the query string as it arrives (e.g. owner:missing=true&status=ready&_count=20, URL-encoded): a searchset Bundle of the tasks the caller may see. Parameters _id, _lastUpdated, authored-on, based-on, business-status, code, due-date, encounter, focus, group-identifier, identifier, intent, modified, owner, part-of, patient, performer, priority, requester, status, subject; comma = OR, repetition = AND; token system|code; date prefixes eq ne lt gt le ge sa eb over the range of the value''s precision (a date without a time is that day in UTC); modifiers :missing (every parameter) and :not (tokens); _sort, _count (1-1000, default 50), _offset, _total=none|estimate|accurate, _summary=count, _revinclude[:iterate]=Task:part-of (at most 1000 included). An unrecognized parameter raises 22023 naming it unless lenient (Prefer: handling=lenient), which ignores it; a bad value raises 22023 naming the parameter.';
CREATE FUNCTION omnitask.search_parameters() RETURNS jsonb
	LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_search_parameters';
COMMENT ON FUNCTION omnitask.search_parameters() IS 'The search parameters search_tasks_query takes, as a jsonb array of {name, type[, documentation]} (the CapabilityStatement''s searchParam).';
REVOKE ALL ON FUNCTION omnitask.search_tasks_query(text, boolean), omnitask.search_parameters() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.search_parameters()
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;
GRANT EXECUTE ON FUNCTION omnitask.search_tasks_query(text, boolean)
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;

-- (end of search)


/* ======================================================================
 * Write path and migration
 * ====================================================================== */

/*
 * History set-based: the AFTER trigger of omnitask.task gains the
 * statement's transition table (a trigger with one fires for one event
 * only, hence two triggers), and the first row event of a statement appends
 * every version it stored with one INSERT ... SELECT, instead of one
 * executor start-up per row (src/task_trigger.c says why row events and
 * not a statement trigger or a kept ResultRelInfo).  The rows, their order,
 * the owner's rights and the transaction they are written in are unchanged.
 */
DROP TRIGGER task_after ON omnitask.task;
CREATE TRIGGER task_history_insert AFTER INSERT ON omnitask.task
	REFERENCING NEW TABLE AS stored_rows
	FOR EACH ROW EXECUTE FUNCTION omnitask.task_after_trigger();
CREATE TRIGGER task_history_update AFTER UPDATE ON omnitask.task
	REFERENCING NEW TABLE AS stored_rows
	FOR EACH ROW EXECUTE FUNCTION omnitask.task_after_trigger();
COMMENT ON FUNCTION omnitask.task_after_trigger() IS 'AFTER ROW trigger of omnitask.task (INSERT, UPDATE; transition table stored_rows): the first row event of a statement appends every version it stored to omnitask.task_history, with the rights of the table''s owner, and queues their NOTIFY.';

/*
 * Migration: import_tasks() stores many existing Tasks at once, from FHIR
 * Bulk Data NDJSON (one Task per line), a JSON array of Tasks or a Bundle
 * (entry[].resource), each like import_task() (id, status and times kept,
 * validated in full, recorded as import), in input order.  A Task that is
 * refused does not stop the others: each is stored in a subtransaction of
 * its own, and every problem comes back as a row -- item (line of the
 * NDJSON, position in the array or Bundle, from 1), the Task's id when it
 * has one, its SQLSTATE (code), the FHIRPath and the message (one row per issue
 * of an invalid Task).  Progress is visible from other sessions while it
 * runs: pg_stat_activity.application_name of the importing backend reads
 * "omnitask import: N done, E errors, R/s" (omnitask.import_progress),
 * updated every 1,000 items and at the end.
 */
CREATE FUNCTION omnitask.import_tasks(source text)
	RETURNS TABLE (item integer, task_id text, code text, expression text, message text)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	started timestamptz := pg_catalog.clock_timestamp();
	saved_name text := pg_catalog.current_setting('application_name');
	whole jsonb;
	doc jsonb;
	r record;
	done integer := 0;
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
	FOR r IN
		SELECT l.n::integer AS n, l.t AS t
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
		WHERE whole IS NOT NULL
		ORDER BY 1
	LOOP
		item := r.n;
		task_id := NULL;
		BEGIN
			doc := r.t::jsonb;
			task_id := doc ->> 'id';
			PERFORM omnitask.import_task(doc);
		EXCEPTION WHEN insufficient_privilege THEN
			RAISE;				-- not the Task's fault: nothing is imported
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
		IF done % 1000 = 0 THEN
			PERFORM pg_catalog.set_config('application_name', omnitask.import_progress_text(done, errors, started), false);
		END IF;
	END LOOP;
	PERFORM pg_catalog.set_config('application_name', omnitask.import_progress_text(done, errors, started), false);
	PERFORM pg_catalog.set_config('application_name', saved_name, false);
	RETURN;
END
$$;
COMMENT ON FUNCTION omnitask.import_tasks(text) IS 'Admin only: imports many existing Tasks (NDJSON, a JSON array or a Bundle) like import_task(), in input order; returns one row per problem (item number, id, SQLSTATE, FHIRPath, message) and stores every valid Task. Progress in omnitask.import_progress.';
REVOKE ALL ON FUNCTION omnitask.import_tasks(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.import_tasks(text) TO omnitask_admin;

CREATE FUNCTION omnitask.import_progress_text(done integer, errors integer, started timestamptz) RETURNS text
	LANGUAGE sql VOLATILE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp AS
$$ SELECT pg_catalog.format('omnitask import: %s done, %s errors, %s/s', done, errors,
		pg_catalog.round(done / GREATEST(extract(epoch FROM pg_catalog.clock_timestamp() - started), 0.001))) $$;
COMMENT ON FUNCTION omnitask.import_progress_text(integer, integer, timestamptz) IS 'The progress line import_tasks() shows as its application_name.';
REVOKE ALL ON FUNCTION omnitask.import_progress_text(integer, integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.import_progress_text(integer, integer, timestamptz) TO omnitask_admin;

CREATE VIEW omnitask.import_progress WITH (security_invoker = true) AS
SELECT a.pid, a.usename, a.query_start AS started, a.application_name AS progress
FROM pg_catalog.pg_stat_activity a
WHERE a.application_name LIKE 'omnitask import: %';
COMMENT ON VIEW omnitask.import_progress IS 'import_tasks() running now: its backend, who runs it, since when, and its progress (items done, errors so far, rate).';
REVOKE ALL ON omnitask.import_progress FROM PUBLIC;
GRANT SELECT ON omnitask.import_progress TO omnitask_admin;

-- (end of write path and migration)
