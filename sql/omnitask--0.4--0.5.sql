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


/* ======================================================================
 * Citus: search, identifiers and imports
 * ====================================================================== */


/* ======================================================================
 * Write path: validation cost
 * ====================================================================== */


/* ======================================================================
 * Write path: imports and progress
 * ====================================================================== */
