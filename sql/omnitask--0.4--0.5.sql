/*
 * omnitask 0.4 -> 0.5: FHIR over HTTP (the change feed's text form), search
 * (plan choice for common tokens), Citus (identity, notifications, ids-first
 * search, imports), and the write path (validation cost, import speed,
 * progress reporting).  CREATE EXTENSION runs 0.1, 0.1--0.2, 0.2--0.3,
 * 0.3--0.4, then this script; ALTER EXTENSION omnitask UPDATE runs the same
 * steps.  One section per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.5'" to load this file. \quit


/* ======================================================================
 * FHIR over HTTP: the change feed
 * ====================================================================== */

/*
 * The answers of schema fhir become json (text) instead of jsonb.
 *
 * PostgREST reads every result in the binary protocol and sends the bytes
 * of the body column as they come.  A jsonb value's binary form is a
 * version byte (0x01) and then its text, so a media-type domain over jsonb
 * answered every request with a stray byte in front of the JSON (PostgREST's
 * own test suite records this for its jsonb domains); a json value's binary
 * form is its text.  And a json answer is not printed again: the change
 * feed's page of 100 (about 200 kB) cost 8.2 of its 12.8 million
 * instructions in jsonb_out.  The feed now prints its Bundle straight to
 * text (omnitask.task_changes_json) and the other endpoints print their
 * jsonb answer with omnitask.fhir_json, both byte for byte the text
 * jsonb_out gives (src/jsonb_print.c), so clients see the same body.
 *
 * A domain's base type cannot be altered: the jsonb domain moves to schema
 * omnitask with the endpoints that return it, which become the internal
 * implementations (under fhir_*_jsonb names, their grants kept), and schema
 * fhir gets the json domain and a one-line SQL function per endpoint, which
 * the planner inlines into PostgREST's query.
 */
CREATE FUNCTION omnitask.fhir_json(jsonb) RETURNS json
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_fhir_json';
COMMENT ON FUNCTION omnitask.fhir_json(jsonb) IS 'Internal: a jsonb value as json, the same text jsonb_out gives (printed in C without escaping character by character); what the endpoints of schema fhir answer with.';

CREATE FUNCTION omnitask.task_changes_json(_cursor text DEFAULT NULL, _count integer DEFAULT 100) RETURNS json
	LANGUAGE c STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_task_changes_json';
COMMENT ON FUNCTION omnitask.task_changes_json(text, integer) IS 'The change feed (omnitask.task_changes) as json: the same page, byte for byte the text of task_changes'' jsonb, printed straight from the stored versions (no jsonb built and printed again). For clients that pass the page on as text.';

ALTER DOMAIN fhir."application/fhir+json" SET SCHEMA omnitask;
ALTER DOMAIN omnitask."application/fhir+json" RENAME TO fhir_jsonb_answer;
COMMENT ON DOMAIN omnitask.fhir_jsonb_answer IS 'Internal: the answer of the jsonb implementations of the endpoints of schema fhir (the media-type domain of 0.3-0.4).';
CREATE DOMAIN fhir."application/fhir+json" AS json;
COMMENT ON DOMAIN fhir."application/fhir+json" IS 'PostgREST media type handler: functions returning it answer Accept: application/fhir+json with Content-Type application/fhir+json. Over json, whose binary form (what PostgREST reads) is the text itself.';

-- the implementations: renamed fhir_<name>_jsonb, then moved (task_changes is replaced below)
DO $$
DECLARE
	f record;
BEGIN
	FOR f IN SELECT * FROM (VALUES ('task_read', 'text'), ('task_vread', 'text, text'), ('task_create', 'text'),
								   ('task_update', 'text'), ('task_patch', 'text'),
								   ('task_search', 'text, text, text, text, integer, integer, text'),
								   ('task_history', 'text, integer, timestamptz, timestamptz, integer'),
								   ('metadata', '')) AS v(name, args)
	LOOP
		EXECUTE pg_catalog.format('ALTER FUNCTION fhir.%I(%s) RENAME TO %I', f.name, f.args, 'fhir_' || f.name || '_jsonb');
		EXECUTE pg_catalog.format('ALTER FUNCTION fhir.%I(%s) SET SCHEMA omnitask', 'fhir_' || f.name || '_jsonb', f.args);
	END LOOP;
END
$$;
DROP FUNCTION fhir.task_changes(text, integer);
-- vread's body named its parameters by its old name (task_vread.id)
CREATE OR REPLACE FUNCTION omnitask.fhir_task_vread_jsonb(id text, vid text) RETURNS omnitask.fhir_jsonb_answer
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
		WHERE t.id = fhir_task_vread_jsonb.id AND hv.version_id = vid::integer;
	IF NOT FOUND THEN
		PERFORM omnitask.fhir_respond(404, '[]');
		RETURN omnitask.fhir_outcome(404, 'PT404', pg_catalog.format('Task/%s/_history/%s not found', pg_catalog.left(id, 64), vid),
									 NULL, 'No such version, or it is not visible to you.');
	END IF;
	PERFORM omnitask.fhir_respond_task(200, fhir_task_vread_jsonb.id, vid::integer, (found_resource -> 'meta' ->> 'lastUpdated')::timestamptz, false);
	RETURN found_resource;
END
$$;
COMMENT ON FUNCTION omnitask.fhir_task_read_jsonb(text) IS 'Internal: fhir.task_read''s answer as jsonb (GET /Task/{id}).';
COMMENT ON FUNCTION omnitask.fhir_task_vread_jsonb(text, text) IS 'Internal: fhir.task_vread''s answer as jsonb (GET /Task/{id}/_history/{vid}).';
COMMENT ON FUNCTION omnitask.fhir_task_create_jsonb(text) IS 'Internal: fhir.task_create''s answer as jsonb (POST /Task).';
COMMENT ON FUNCTION omnitask.fhir_task_update_jsonb(text) IS 'Internal: fhir.task_update''s answer as jsonb (PUT /Task/{id}).';
COMMENT ON FUNCTION omnitask.fhir_task_patch_jsonb(text) IS 'Internal: fhir.task_patch''s answer as jsonb (PATCH /Task/{id}).';
COMMENT ON FUNCTION omnitask.fhir_task_search_jsonb(text, text, text, text, integer, integer, text) IS 'Internal: fhir.task_search''s answer as jsonb (GET /Task?...).';
COMMENT ON FUNCTION omnitask.fhir_task_history_jsonb(text, integer, timestamptz, timestamptz, integer) IS 'Internal: fhir.task_history''s answer as jsonb (GET /Task/{id}/_history).';
COMMENT ON FUNCTION omnitask.fhir_metadata_jsonb() IS 'Internal: fhir.metadata''s answer as jsonb (GET /metadata).';

-- the endpoints (VOLATILE PARALLEL UNSAFE: they set response.status / response.headers)
CREATE FUNCTION fhir.task_read(id text) RETURNS fhir."application/fhir+json"
	LANGUAGE sql VOLATILE PARALLEL UNSAFE
	AS $$ SELECT omnitask.fhir_json(omnitask.fhir_task_read_jsonb(id))::fhir."application/fhir+json" $$;
CREATE FUNCTION fhir.task_vread(id text, vid text) RETURNS fhir."application/fhir+json"
	LANGUAGE sql VOLATILE PARALLEL UNSAFE
	AS $$ SELECT omnitask.fhir_json(omnitask.fhir_task_vread_jsonb(id, vid))::fhir."application/fhir+json" $$;
CREATE FUNCTION fhir.task_create(text) RETURNS fhir."application/fhir+json"
	LANGUAGE sql VOLATILE PARALLEL UNSAFE
	AS $$ SELECT omnitask.fhir_json(omnitask.fhir_task_create_jsonb($1))::fhir."application/fhir+json" $$;
CREATE FUNCTION fhir.task_update(text) RETURNS fhir."application/fhir+json"
	LANGUAGE sql VOLATILE PARALLEL UNSAFE
	AS $$ SELECT omnitask.fhir_json(omnitask.fhir_task_update_jsonb($1))::fhir."application/fhir+json" $$;
CREATE FUNCTION fhir.task_patch(text) RETURNS fhir."application/fhir+json"
	LANGUAGE sql VOLATILE PARALLEL UNSAFE
	AS $$ SELECT omnitask.fhir_json(omnitask.fhir_task_patch_jsonb($1))::fhir."application/fhir+json" $$;
CREATE FUNCTION fhir.task_search(owner text DEFAULT NULL, status text DEFAULT NULL, priority text DEFAULT NULL,
								 patient text DEFAULT NULL, _count integer DEFAULT 50, _offset integer DEFAULT 0,
								 _sort text DEFAULT NULL) RETURNS fhir."application/fhir+json"
	LANGUAGE sql VOLATILE PARALLEL UNSAFE
	AS $$ SELECT omnitask.fhir_json(omnitask.fhir_task_search_jsonb(owner, status, priority, patient, _count, _offset, _sort))::fhir."application/fhir+json" $$;
CREATE FUNCTION fhir.task_history(id text, _count integer DEFAULT 50, _since timestamptz DEFAULT NULL,
								  _at timestamptz DEFAULT NULL, _before integer DEFAULT NULL) RETURNS fhir."application/fhir+json"
	LANGUAGE sql VOLATILE PARALLEL UNSAFE
	AS $$ SELECT omnitask.fhir_json(omnitask.fhir_task_history_jsonb(id, _count, _since, _at, _before))::fhir."application/fhir+json" $$;
CREATE FUNCTION fhir.metadata() RETURNS fhir."application/fhir+json"
	LANGUAGE sql VOLATILE PARALLEL UNSAFE
	AS $$ SELECT omnitask.fhir_json(omnitask.fhir_metadata_jsonb())::fhir."application/fhir+json" $$;

-- the feed prints its page itself; its errors as the other endpoints' do
CREATE FUNCTION fhir.task_changes(_cursor text DEFAULT NULL, _count integer DEFAULT 100) RETURNS fhir."application/fhir+json"
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	b json;
	e_state text; e_msg text; e_detail text; e_hint text;
BEGIN
	b := omnitask.task_changes_json(_cursor, _count);
	PERFORM omnitask.fhir_respond(200, '[]');
	RETURN b;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT,
		e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
	b := omnitask.fhir_json(omnitask.fhir_error_answer(e_state, e_msg, e_detail, e_hint));
	IF b IS NULL THEN
		RAISE;
	END IF;
	RETURN b;
END
$$;
COMMENT ON FUNCTION fhir.task_read(text) IS 'GET /Task/{id}: 200 with ETag and Last-Modified; 304 for a matching If-None-Match or an If-Modified-Since not older than the version; 404 OperationOutcome when the task does not exist or is not visible.';
COMMENT ON FUNCTION fhir.task_vread(text, text) IS 'GET /Task/{id}/_history/{vid}: that version with its ETag and Last-Modified; 404 OperationOutcome when the task or version does not exist or is not visible; 400 for a malformed vid.';
COMMENT ON FUNCTION fhir.task_create(text) IS 'POST /Task (the body is the Task): 201 with Location, ETag, Last-Modified; with If-None-Exist (identifier=system|value) 200 and the existing task when one matches, nothing written; errors as OperationOutcome (400, 403, 409, 412, 422). Prefer return=minimal|representation|OperationOutcome.';
COMMENT ON FUNCTION fhir.task_update(text) IS 'PUT /Task/{id} (id in X-FHIR-Id, the Task as body, its id equal to the URL''s): 200 with Location, ETag, Last-Modified; If-Match W/"n" -> 412 on mismatch; 428 without If-Match when omnitask.fhir_require_if_match is on. PUT /Task?identifier=system|value (the query in X-FHIR-Condition, no X-FHIR-Id): conditional update by update_task_by_identifier, 201 when it created the task, 200 when it updated the one match, 412 for several. Errors as OperationOutcome (400, 403, 404, 409, 412, 422, 428).';
COMMENT ON FUNCTION fhir.task_patch(text) IS 'PATCH /Task/{id} with a JSON Patch (id in X-FHIR-Id): applied to the current version and stored as an update (validation, workflow, access); 200 with ETag; a failed test (e.g. on /meta/versionId) or If-Match mismatch 412; an inapplicable operation 422; a malformed patch 400; 428 as for update.';
COMMENT ON FUNCTION fhir.task_search(text, text, text, text, integer, integer, text) IS 'GET /Task?...: with the X-FHIR-Query header (the query string, set by the proxy) search_tasks_query (Prefer: handling=lenient ignores unrecognized parameters), else search_tasks with owner=&status=&priority=&patient=&_count=&_offset=&_sort=; a searchset Bundle with absolute fullUrl and links; a bad parameter 400 OperationOutcome.';
COMMENT ON FUNCTION fhir.task_history(text, integer, timestamptz, timestamptz, integer) IS 'GET /Task/{id}/_history?_count=&_since=&_at=: task_history_page as a history Bundle with self/first/next links; 404 and 400 as OperationOutcome.';
COMMENT ON FUNCTION fhir.task_changes(text, integer) IS 'GET /Task/_history?_cursor=&_count=: the change feed (omnitask.task_changes), oldest first, polled with the next link''s cursor; a bad cursor 400 OperationOutcome.';
COMMENT ON FUNCTION fhir.metadata() IS 'GET /metadata: the CapabilityStatement, generated from the endpoints of schema fhir the caller may execute and the parameters of omnitask.search_parameters().';

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA fhir FROM PUBLIC;
REVOKE ALL ON FUNCTION omnitask.fhir_json(jsonb), omnitask.task_changes_json(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.fhir_json(jsonb), omnitask.task_changes_json(text, integer),
	fhir.task_read(text), fhir.task_vread(text, text), fhir.task_search(text, text, text, text, integer, integer, text),
	fhir.task_history(text, integer, timestamptz, timestamptz, integer), fhir.task_changes(text, integer),
	fhir.metadata(), fhir.task_create(text), fhir.task_update(text), fhir.task_patch(text)
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;


/* ======================================================================
 * Search: common tokens and the 1M figures
 * ====================================================================== */


/* ======================================================================
 * Citus: identity and notifications
 * ====================================================================== */

/*
 * Per-practitioner login roles for PostgREST.  On Citus the coordinator
 * opens its worker connections as current_user, so PostgREST's switch to
 * the NOLOGIN group role named by the token cannot reach a worker, and a
 * claim set on the coordinator does not travel (nor could a worker trust
 * it).  What works is a login role per practitioner, named by the token's
 * role claim: PostgREST switches to it, the worker connection runs as it,
 * and every node finds the same registry row for current_user.  Such a role
 * has one member, the authenticator (PostgREST may only switch to roles it
 * is a member of), so the registry now accepts a role whose members are all
 * the role named by omnitask.jwt_authenticator.  Any other member could SET
 * ROLE to it and act as that practitioner: still refused.
 */
CREATE OR REPLACE FUNCTION omnitask.register_practitioner(role_name name, id text, display text DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	authenticator text := pg_catalog.current_setting('omnitask.jwt_authenticator', true);
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = register_practitioner.role_name) THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = pg_catalog.format('role "%s" does not exist', register_practitioner.role_name),
			HINT = 'Create the login role first, then register it.';
	END IF;
	IF register_practitioner.role_name = authenticator THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('role "%s" is the JWT authenticator', register_practitioner.role_name),
			DETAIL = 'Every PostgREST request logs in as the authenticator; its practitioner comes from the token.';
	END IF;
	IF register_practitioner.role_name IN ('omnitask_admin', 'omnitask_practitioner', 'omnitask_auditor')
	   OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m
				  JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
				  JOIN pg_catalog.pg_roles u ON u.oid = m.member
				  WHERE r.rolname = register_practitioner.role_name
					AND u.rolname IS DISTINCT FROM NULLIF(authenticator, '')) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('role "%s" is a group role', register_practitioner.role_name),
			DETAIL = 'A practitioner is registered by their own role; a role with members other than the JWT authenticator is shared by many users.',
			HINT = 'Through PostgREST a practitioner needs no role of their own (their token names their id), or a login role of their own whose only member is the authenticator (on Citus).';
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
COMMENT ON FUNCTION omnitask.register_practitioner(name, text, text) IS 'Admin only: registers (or reactivates) the practitioner id of a login role. Refuses omnitask''s group roles, the JWT authenticator, and roles with members other than the JWT authenticator (a per-practitioner PostgREST role, as Citus needs, has the authenticator as its only member). Deactivate with UPDATE omnitask.practitioner SET active = false.';


/*
 * Notifications on Citus.  A shard sends no NOTIFY (it would reach only
 * that worker's listeners, and a transaction that NOTIFYs cannot PREPARE,
 * so every transaction writing on two workers would fail).  The change
 * feed cannot carry them either: its positions are the xids of the node
 * that stored each version, and the workers' xids are unrelated, so one
 * cursor over all shards skips versions of a worker whose xids are behind.
 * What does hold is the feed's proof on each shard alone: a shard's
 * versions are written by the worker holding it, and every transaction
 * with an xid below that worker's xmin has ended there (a transaction
 * prepared for two-phase commit is still running on the worker until
 * COMMIT PREPARED).  So the relay keeps one position per shard, reads
 * each shard on its worker (run_command_on_shards: one query per shard,
 * the bound evaluated with the worker's own snapshot), NOTIFYs what it
 * read on the coordinator and commits.  Its positions live in the
 * procedure's memory; it starts from what is stored when it starts.
 */
CREATE PROCEDURE omnitask.citus_notify_relay(poll interval DEFAULT '100 ms', run_for interval DEFAULT NULL)
	LANGUAGE plpgsql AS
$$
DECLARE
	-- shard id -> its position, [xid, id, version_id]: the last version read
	pos jsonb := '{}';
	-- run on each shard (run_command_on_shards puts the shard's name for
	-- %1$s): the versions after the shard's position and below its worker's
	-- xmin, at most 10000 in position order, as [versions in (id,
	-- version_id) order, the last position].  Ordered by task for the
	-- notifications: a transaction whose xid was assigned before it waited
	-- for another's row lock stores the task's next version under a lower
	-- xid; both become readable together (each ended before xmin passed).
	page_query text := $q$WITH page AS (
			SELECT h.xid, h.id, h.version_id FROM %%1$s h
			  LEFT JOIN (VALUES %s) p(shard, xid, id, version_id)
				ON p.shard = pg_catalog.substring('%%1$s', '_([0-9]+)"?$')::bigint
			  WHERE (p.shard IS NULL OR (h.xid, h.id, h.version_id) > (p.xid, p.id, p.version_id))
				AND h.xid < (pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::pg_catalog.text::pg_catalog.numeric
							 + (SELECT s.shift FROM omnitask.feed_shift s))::pg_catalog.text::pg_catalog.xid8
			  ORDER BY h.xid %s, h.id %s, h.version_id %s LIMIT %s)
		SELECT pg_catalog.json_build_array(
			COALESCE(pg_catalog.json_agg(pg_catalog.json_build_array(g.id, g.version_id) ORDER BY g.id, g.version_id), '[]'),
			(SELECT pg_catalog.json_build_array(l.xid::pg_catalog.text, l.id, l.version_id) FROM page l
			 ORDER BY l.xid DESC, l.id DESC, l.version_id DESC LIMIT 1))
		FROM page g$q$;
	until timestamptz := CASE WHEN run_for IS NULL THEN NULL ELSE pg_catalog.clock_timestamp() + run_for END;
	distributed boolean;
	started boolean := false;
	positions text;
	dir text;
	r record;
	v jsonb;
	last jsonb;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'extension "citus" is not installed in this database',
			HINT = 'On a single node omnitask sends every notification itself (omnitask.notify).';
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = ''omnitask.task_history''::pg_catalog.regclass)'
		INTO distributed;
	IF NOT distributed THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'omnitask.task_history is not distributed',
			HINT = 'Run omnitask.distribute() first.';
	END IF;
	LOOP
		SELECT pg_catalog.string_agg(pg_catalog.format('(%s::bigint, %L::pg_catalog.xid8, %L, %s)',
					e.key, e.value ->> 0, e.value ->> 1, e.value ->> 2), ', ')
			INTO positions FROM pg_catalog.jsonb_each(pos) e;
		-- the first pass finds where each shard stands: its last version
		dir := CASE WHEN started THEN 'ASC' ELSE 'DESC' END;
		FOR r IN EXECUTE 'SELECT r.shardid, r.success, r.result FROM pg_catalog.run_command_on_shards(''omnitask.task_history'', $1) r ORDER BY r.shardid'
			USING pg_catalog.format(page_query, COALESCE(positions, '(NULL::bigint, NULL::pg_catalog.xid8, NULL::text, NULL::integer)'),
									dir, dir, dir, CASE WHEN started THEN 10000 ELSE 1 END)
		LOOP
			IF NOT r.success THEN
				RAISE EXCEPTION USING ERRCODE = 'connection_failure',
					MESSAGE = pg_catalog.format('could not read shard %s of omnitask.task_history', r.shardid),
					DETAIL = r.result;
			END IF;
			IF started THEN
				FOR v IN SELECT e FROM pg_catalog.jsonb_array_elements(r.result::jsonb -> 0) e
				LOOP
					PERFORM pg_catalog.pg_notify('omnitask_task',
						pg_catalog.jsonb_build_object('id', v ->> 0, 'version', (v ->> 1)::integer)::text);
				END LOOP;
			END IF;
			last := r.result::jsonb -> 1;
			IF last IS NOT NULL AND last <> 'null' THEN
				pos := pos || pg_catalog.jsonb_build_object(r.shardid::text, last);
			END IF;
		END LOOP;
		started := true;
		COMMIT;		-- sends this pass's notifications
		EXIT WHEN until IS NOT NULL AND pg_catalog.clock_timestamp() >= until;
		PERFORM pg_catalog.pg_sleep(pg_catalog.date_part('epoch', poll));
	END LOOP;
END
$$;
COMMENT ON PROCEDURE omnitask.citus_notify_relay(interval, interval) IS 'Superuser, on the Citus coordinator: NOTIFY omnitask_task {"id","version"} on the coordinator for every version stored on the shards from now on, after its commit, in each task''s version order, never for rolled-back work; polls every shard every poll, for run_for (NULL: until cancelled). Run it in a session of its own (CALL omnitask.citus_notify_relay()).';
REVOKE ALL ON PROCEDURE omnitask.citus_notify_relay(interval, interval) FROM PUBLIC;

/* ======================================================================
 * Citus: search, identifiers and imports
 * ====================================================================== */

/*
 * Business identifiers on Citus.  On one node the claims of
 * omnitask.task_identifier (primary key system, value; written by the
 * task's trigger) make a conditional create race-free.  On Citus the trigger
 * runs on a worker's shard and a claim table there would see only that
 * worker's tasks, so the trigger claims nothing on a shard
 * (src/task_identifier.c) and:
 *   - the holders of an identifier are the tasks carrying it, found on every
 *     shard under the GIN index of search_tokens (identifier_token()); per
 *     system the first stored (its history's version 1, colocated) holds
 *     it, as the first claim does on one node;
 *   - a conditional create takes, on the coordinator, a transaction-level
 *     advisory lock on the identifier (system|value of the Task) before it
 *     looks for holders, and keeps it to the end of its transaction.
 *     Citus commits the workers' part of a transaction (one-phase in
 *     PRE_COMMIT, two-phase in the COMMIT callback) before PostgreSQL
 *     releases the coordinator's locks, so the next create of the same
 *     identifier, which waits for the lock, then looks with a new snapshot
 *     (READ COMMITTED) on every worker and finds the committed task: of N
 *     concurrent creates exactly one stores a task.  This holds only if every
 *     conditional create runs on the coordinator (refused elsewhere, 0A000)
 *     in READ COMMITTED (a REPEATABLE READ snapshot may predate the winner's
 *     commit; refused, 0A000).
 * A holder the caller cannot see is found with the rights of the table's
 * owner, as the claims are written (identifier_in_use(), in C: no SECURITY
 * DEFINER function), which tells only that it exists: 23505, as on one
 * node.
 */
CREATE FUNCTION omnitask.task_is_distributed() RETURNS boolean
	LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_task_is_distributed_sql';
COMMENT ON FUNCTION omnitask.task_is_distributed() IS 'Internal: whether omnitask.task is distributed by Citus in this database (it has shards).';

CREATE FUNCTION omnitask.identifier_token(system text, value text) RETURNS text
	LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_identifier_token';
COMMENT ON FUNCTION omnitask.identifier_token(text, text) IS 'Internal: the search_tokens entry of a Task.identifier, identifier:system|value, or identifier:value (any system) when system is null.';

CREATE FUNCTION omnitask.identifier_holders(system text, value text, OUT matches integer, OUT holder text)
	LANGUAGE plpgsql STABLE PARALLEL UNSAFE AS
$$
BEGIN
	IF NOT omnitask.task_is_distributed() THEN
		-- one node: the claims the caller can see (the policy of task_identifier)
		SELECT pg_catalog.count(*)::integer, pg_catalog.min(ti.task_id) INTO matches, holder
			FROM omnitask.task_identifier ti
			WHERE ti.value = identifier_holders.value
			  AND (identifier_holders.system IS NULL OR ti.system = identifier_holders.system);
		RETURN;
	END IF;
	-- Citus: the tasks carrying it that the caller can see, from every shard
	-- (a CTE: fetched first, then counted on the coordinator)
	WITH carriers AS MATERIALIZED (
		SELECT t.id, h.recorded_at AS stored_at,
			   pg_catalog.jsonb_path_query_array(t.resource,
					'$.identifier[*] ? (@.value == $v && exists(@.system)).system',
					pg_catalog.jsonb_build_object('v', identifier_holders.value)) AS systems
		FROM omnitask.task t
		LEFT JOIN omnitask.task_history h ON h.id = t.id AND h.version_id = 1
		WHERE t.search_tokens @> ARRAY[omnitask.identifier_token(identifier_holders.system, identifier_holders.value)])
	SELECT pg_catalog.count(DISTINCT s.sys)::integer,
		   (pg_catalog.array_agg(c.id ORDER BY c.stored_at, c.id))[1]
	  INTO matches, holder
	  FROM carriers c, pg_catalog.jsonb_array_elements_text(c.systems) AS s(sys)
	 WHERE identifier_holders.system IS NULL OR s.sys = identifier_holders.system;
END
$$;
COMMENT ON FUNCTION omnitask.identifier_holders(text, text) IS 'Internal: how many holders of the business identifier system|value (any system when system is null) the caller can see, and one of them: the claims of omnitask.task_identifier on one node; on Citus the tasks carrying it, per system the first stored.';

CREATE FUNCTION omnitask.identifier_in_use(system text, value text) RETURNS boolean
	LANGUAGE c STABLE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_identifier_in_use';
COMMENT ON FUNCTION omnitask.identifier_in_use(text, text) IS 'Internal (Citus): whether any task, visible to the caller or not, carries the business identifier system|value; tells nothing else of it.';

CREATE OR REPLACE FUNCTION omnitask.create_task_if_none_exist(resource jsonb, if_none_exist text,
															  OUT task jsonb, OUT created boolean)
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	cond record;
	by_value boolean;
	distributed boolean := omnitask.task_is_distributed();
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
	-- the condition must name an identifier of this Task (with its system):
	-- that identifier is what concurrent creates are serialised on
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
	IF distributed THEN
		-- Citus: serialised by the coordinator's lock (see above)
		IF NOT pg_catalog.citus_is_coordinator() THEN
			RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
				MESSAGE = 'conditional create runs on the Citus coordinator only',
				DETAIL = 'Concurrent conditional creates of one identifier are serialised by a lock on the coordinator.',
				HINT = 'Connect to the coordinator.';
		END IF;
		IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
			RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
				MESSAGE = pg_catalog.format('conditional create on Citus is not supported in %s isolation',
											pg_catalog.upper(pg_catalog.current_setting('transaction_isolation'))),
				DETAIL = 'Its check for a holder must see every transaction committed before it on every worker.',
				HINT = 'Run it in a READ COMMITTED transaction.';
		END IF;
		PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('omnitask.task_identifier'),
												 pg_catalog.hashtext(cond.system || '|' || cond.value));
	END IF;
	FOR attempt IN 1 .. 3 LOOP
		SELECT h.matches, h.holder INTO n, holder
			FROM omnitask.identifier_holders(CASE WHEN NOT by_value THEN cond.system END, cond.value) h;
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
		ELSIF lost OR (distributed AND omnitask.identifier_in_use(cond.system, cond.value)) THEN
			-- the identifier is held by a task the caller cannot see:
			-- refused without a trace of it
			RAISE EXCEPTION USING ERRCODE = 'unique_violation',
				MESSAGE = pg_catalog.format('identifier "%s|%s" is already in use', pg_catalog.left(cond.system, 128), pg_catalog.left(cond.value, 128)),
				HINT = 'Another task holds this business identifier.';
		END IF;
		IF distributed THEN
			-- under the lock no other create of the identifier runs
			INSERT INTO omnitask.task AS t (resource) VALUES (create_task_if_none_exist.resource)
				RETURNING t.resource INTO task;
			created := true;
			RETURN;
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
COMMENT ON FUNCTION omnitask.create_task_if_none_exist(jsonb, text) IS 'FHIR conditional create from SQL: if_none_exist is identifier=system|value or identifier=value naming an identifier of the Task. No task holds it: stores the Task (created true). One visible holder: returns it, writes nothing (created false). A holder the caller cannot see: 23505. Several holders: PT412. Race-free: on one node the identifier''s unique claim decides; on Citus a lock on the coordinator (conditional creates run there, in READ COMMITTED; 0A000 otherwise).';

CREATE OR REPLACE FUNCTION omnitask.update_task_by_identifier(resource jsonb, condition text, if_match integer DEFAULT NULL,
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
	-- the holders the caller can see (on Citus: the tasks carrying it)
	SELECT h.matches, h.holder INTO n, holder FROM omnitask.identifier_holders(cond.system, cond.value) h;
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

REVOKE ALL ON FUNCTION omnitask.task_is_distributed(), omnitask.identifier_token(text, text),
	omnitask.identifier_holders(text, text), omnitask.identifier_in_use(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.task_is_distributed(), omnitask.identifier_token(text, text),
	omnitask.identifier_holders(text, text), omnitask.identifier_in_use(text, text)
	TO omnitask_admin, omnitask_practitioner;


/* ======================================================================
 * Write path: validation cost
 * ====================================================================== */


/* ======================================================================
 * Write path: imports and progress
 * ====================================================================== */

/*
 * The history's position column: feed_position(), its default, in C (one
 * scan of feed_shift) -- as SQL its body was parsed and planned again in
 * every statement that wrote a version, ~138k instructions per single-row
 * write on PostgreSQL 15.  Same value, rights and snapshot.
 */
CREATE OR REPLACE FUNCTION omnitask.feed_position() RETURNS xid8
	LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_feed_position';

/*
 * import_tasks() cuts NDJSON into its chunks with import_lines() (a scan
 * for the line ends in C) where it split the text with a regular
 * expression and grouped the lines again in SQL, and casts a chunk's
 * lines to jsonb[] in one expression: the same items, line numbers, order,
 * reports and progress, for less.
 */
CREATE FUNCTION omnitask.import_lines(source text, size integer)
	RETURNS TABLE (items integer[], lines text[])
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_import_lines';
COMMENT ON FUNCTION omnitask.import_lines(text, integer) IS 'The non-blank lines of NDJSON text with their line numbers (from 1), size lines per row, in order: how import_tasks() reads FHIR Bulk Data.';
REVOKE ALL ON FUNCTION omnitask.import_lines(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.import_lines(text, integer) TO omnitask_admin;

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
	chunks refcursor;
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
	-- the items 100 at a time, in input order (a function scan returns the
	-- rows of its function in the order the function gave them)
	IF whole IS NULL THEN
		OPEN chunks FOR SELECT l.items, l.lines FROM omnitask.import_lines(source, 100) AS l;
	ELSE
		OPEN chunks FOR
			SELECT pg_catalog.array_agg(e.n::integer ORDER BY e.n), pg_catalog.array_agg(e.v::text ORDER BY e.n)
			FROM pg_catalog.jsonb_array_elements(CASE
					WHEN pg_catalog.jsonb_typeof(whole) = 'array' THEN whole
					WHEN whole ->> 'resourceType' = 'Bundle'
						THEN pg_catalog.jsonb_path_query_array(whole, '$.entry[*].resource')
					ELSE pg_catalog.jsonb_build_array(whole)
				END) WITH ORDINALITY AS e(v, n)
			GROUP BY (e.n - 1) / 100
			ORDER BY (e.n - 1) / 100;
	END IF;
	LOOP
		FETCH chunks INTO chunk_n, chunk_t;
		EXIT WHEN NOT FOUND;
		-- the chunk in one statement; a chunk with a bad Task, one by one
		BEGIN
			PERFORM omnitask.import_batch(chunk_t::jsonb[]);
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
	CLOSE chunks;
	PERFORM pg_catalog.set_config('application_name', omnitask.import_progress_text(done, errors, started), false);
	PERFORM pg_catalog.set_config('application_name', saved_name, false);
	RETURN;
END
$$;
