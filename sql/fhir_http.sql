--
-- fhir_http: the FHIR RESTful interface (schema fhir) exactly as PostgREST
-- drives it -- request.headers set, the role switched, the function called,
-- then response.status / response.headers / the body read back in the same
-- transaction -- for every interaction and its error paths; conditional
-- create; JSON Patch with RFC 6902's appendix A; coordinator edits; paged
-- history; the change feed; the capability statement; base URL settings.
--
-- its own database: the tasks it leaves (tasks are never deleted) must not
-- change the counts of the other scripts
\set regress_db :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS omnitask_fhir_http;
CREATE DATABASE omnitask_fhir_http;
\c omnitask_fhir_http
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE EXTENSION omnitask;

-- one PostgREST request: headers, role, the call; status, headers, body back
CREATE FUNCTION pg_temp.http(who name, hdrs jsonb, call text,
							 OUT status integer, OUT headers jsonb, OUT body jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('response.status', '', true), set_config('response.headers', '', true),
			set_config('request.headers', hdrs::text, true), set_config('request.method', 'POST', true);
	EXECUTE format('SET LOCAL ROLE %I', who);
	EXECUTE call INTO body;
	RESET ROLE;
	status := nullif(current_setting('response.status', true), '')::integer;
	headers := nullif(current_setting('response.headers', true), '')::jsonb;
END $$;

-- a header of an answer
CREATE FUNCTION pg_temp.hdr(h jsonb, name text) RETURNS text LANGUAGE sql AS $$
	SELECT e ->> name FROM jsonb_array_elements(h) e WHERE e ? name LIMIT 1 $$;

-- runs a statement as a role, reports its SQLSTATE and message instead of failing
\i test/fixtures/try.sql

DROP ROLE IF EXISTS fh_adm, fh_pr1, fh_pr2, fh_aud;
CREATE ROLE fh_adm NOLOGIN IN ROLE omnitask_admin;
CREATE ROLE fh_pr1 NOLOGIN IN ROLE omnitask_practitioner;
CREATE ROLE fh_pr2 NOLOGIN IN ROLE omnitask_practitioner;
CREATE ROLE fh_aud NOLOGIN IN ROLE omnitask_auditor;
INSERT INTO omnitask.practitioner (id, role_name, display) VALUES
	('fh-pr1', 'fh_pr1', 'Dr. Http One'), ('fh-pr2', 'fh_pr2', 'Dr. Http Two');

CREATE TEMP TABLE base AS SELECT
	'{"resourceType": "Task", "status": "requested", "intent": "order",
	  "description": "HTTP test task", "for": {"reference": "Patient/fh-pat-1"},
	  "owner": {"reference": "Practitioner/fh-pr1"}}'::jsonb AS t;
CREATE TEMP TABLE ans (name text PRIMARY KEY, status integer, headers jsonb, body jsonb);
GRANT SELECT ON base TO PUBLIC;
GRANT ALL ON ans TO PUBLIC;

-- ---------------------------------------------------------------- create
INSERT INTO ans SELECT 'create', * FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_create(%L)', (SELECT t FROM base)));
SELECT status, body ->> 'resourceType' AS type, body -> 'meta' ->> 'versionId' AS vid,
	   pg_temp.hdr(headers, 'ETag') AS etag,
	   pg_temp.hdr(headers, 'Location') = 'Task/' || (body ->> 'id') || '/_history/1' AS location_ok,
	   pg_temp.hdr(headers, 'Last-Modified') = to_char((body -> 'meta' ->> 'lastUpdated')::timestamptz AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS "GMT"') AS last_modified_ok
	FROM ans WHERE name = 'create';
-- Prefer: return=minimal (no body) and return=OperationOutcome
SELECT status, body IS NULL AS no_body, pg_temp.hdr(headers, 'ETag') AS etag
	FROM pg_temp.http('fh_pr1', '{"prefer": "return=minimal"}', format('SELECT fhir.task_create(%L)', (SELECT t FROM base)));
SELECT status, body -> 'issue' -> 0 ->> 'severity' AS severity, body -> 'issue' -> 0 ->> 'diagnostics' LIKE 'Created Task/% version 1' AS diag
	FROM pg_temp.http('fh_pr1', '{"prefer": "return=OperationOutcome"}', format('SELECT fhir.task_create(%L)', (SELECT t FROM base)));
-- errors: an invalid Task (422, the validator's OperationOutcome), a role
-- that may not write (403), assigning to someone else (403), a
-- non-creatable status (409); nothing is stored by any of them
CREATE TEMP TABLE n0 AS SELECT count(*) AS n FROM omnitask.task;
SELECT status, body ->> 'resourceType' AS type, body -> 'issue' -> 0 ->> 'expression' AS expr
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_create(%L)', (SELECT t || '{"status": "done"}' FROM base)));
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code, body -> 'issue' -> 0 -> 'details' -> 'coding' -> 0 ->> 'code' AS sqlstate
	FROM pg_temp.http('fh_aud', '{}', format('SELECT fhir.task_create(%L)', (SELECT t FROM base)));
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_create(%L)', (SELECT t || '{"owner": {"reference": "Practitioner/fh-pr2"}}' FROM base)));
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_create(%L)', (SELECT t || '{"status": "completed"}' FROM base)));
SELECT count(*) - (SELECT n FROM n0) AS stored_by_errors FROM omnitask.task;

-- ---------------------------------------------------------------- read
CREATE TEMP TABLE t1 AS SELECT body ->> 'id' AS id FROM ans WHERE name = 'create';
GRANT SELECT ON t1 TO PUBLIC;
SELECT status, body ->> 'id' = (SELECT id FROM t1) AS same, pg_temp.hdr(headers, 'ETag') AS etag,
	   pg_temp.hdr(headers, 'Last-Modified') IS NOT NULL AS has_last_modified, pg_temp.hdr(headers, 'Location') AS location
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_read(%L)', (SELECT id FROM t1)));
-- conditional reads
SELECT hv, status, body IS NULL AS no_body, pg_temp.hdr(headers, 'ETag') AS etag
	FROM (VALUES ('W/"1"'), ('"1"'), ('W/"0", W/"1"'), ('*'), ('W/"7"')) AS v(hv),
		 LATERAL pg_temp.http('fh_pr1', jsonb_build_object('if-none-match', hv), format('SELECT fhir.task_read(%L)', (SELECT id FROM t1)));
SELECT hv, status, body IS NULL AS no_body
	FROM (VALUES ('Sun, 01 Jan 2090 00:00:00 GMT'), ('Sat, 01 Jan 2000 00:00:00 GMT'), ('not a date')) AS v(hv),
		 LATERAL pg_temp.http('fh_pr1', jsonb_build_object('if-modified-since', hv), format('SELECT fhir.task_read(%L)', (SELECT id FROM t1)));
-- not found and not visible answer alike
SELECT who, status, body -> 'issue' -> 0 ->> 'code' AS code,
	   replace(body -> 'issue' -> 0 ->> 'diagnostics', id, '{id}') AS diagnostics
	FROM (VALUES ('fh_pr2', (SELECT id FROM t1)), ('fh_pr1', 'no-such-task')) AS v(who, id),
		 LATERAL pg_temp.http(who::name, '{}', format('SELECT fhir.task_read(%L)', id))
	ORDER BY 1;

-- ---------------------------------------------------------------- update
SELECT status, body -> 'meta' ->> 'versionId' AS vid, pg_temp.hdr(headers, 'ETag') AS etag,
	   pg_temp.hdr(headers, 'Location') = 'Task/' || (body ->> 'id') || '/_history/2' AS location_ok
	FROM pg_temp.http('fh_pr1', jsonb_build_object('if-match', 'W/"1"', 'x-fhir-id', (SELECT id FROM t1)),
		format('SELECT fhir.task_update(%L)', (SELECT resource || '{"priority": "urgent"}' FROM omnitask.task WHERE id = (SELECT id FROM t1))));
-- stale If-Match: 412, nothing written
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code, body -> 'issue' -> 0 ->> 'diagnostics' LIKE '%is at version 2, not 1%' AS diag
	FROM pg_temp.http('fh_pr1', jsonb_build_object('if-match', 'W/"1"', 'x-fhir-id', (SELECT id FROM t1)),
		format('SELECT fhir.task_update(%L)', (SELECT resource || '{"priority": "stat"}' FROM omnitask.task WHERE id = (SELECT id FROM t1))));
SELECT version_id, priority FROM omnitask.task WHERE id = (SELECT id FROM t1);
-- a malformed ETag, an id that differs from the URL's, no id at all
SELECT status, body -> 'issue' -> 0 ->> 'diagnostics' AS diagnostics
	FROM pg_temp.http('fh_pr1', jsonb_build_object('if-match', '2', 'x-fhir-id', (SELECT id FROM t1)),
		format('SELECT fhir.task_update(%L)', (SELECT resource FROM omnitask.task WHERE id = (SELECT id FROM t1))));
SELECT status, body -> 'issue' -> 0 ->> 'diagnostics' LIKE 'Task id does not match the URL''s "other-id"%' AS diag
	FROM pg_temp.http('fh_pr1', jsonb_build_object('x-fhir-id', 'other-id'),
		format('SELECT fhir.task_update(%L)', (SELECT resource FROM omnitask.task WHERE id = (SELECT id FROM t1))));
SELECT status, body -> 'issue' -> 0 ->> 'diagnostics' AS diagnostics
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_update(%L)', (SELECT resource FROM omnitask.task WHERE id = (SELECT id FROM t1))));
-- not visible: 404; auditor: 403; an invalid change: 422; a workflow violation: 409
SELECT status FROM pg_temp.http('fh_pr2', jsonb_build_object('x-fhir-id', (SELECT id FROM t1)),
		format('SELECT fhir.task_update(%L)', (SELECT resource FROM omnitask.task WHERE id = (SELECT id FROM t1))));
SELECT status FROM pg_temp.http('fh_aud', jsonb_build_object('x-fhir-id', (SELECT id FROM t1)),
		format('SELECT fhir.task_update(%L)', (SELECT resource FROM omnitask.task WHERE id = (SELECT id FROM t1))));
SELECT status, body -> 'issue' -> 0 ->> 'expression' AS expr
	FROM pg_temp.http('fh_pr1', jsonb_build_object('x-fhir-id', (SELECT id FROM t1)),
		format('SELECT fhir.task_update(%L)', (SELECT resource || '{"intent": "plan"}' FROM omnitask.task WHERE id = (SELECT id FROM t1))));
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code
	FROM pg_temp.http('fh_pr1', jsonb_build_object('x-fhir-id', (SELECT id FROM t1)),
		format('SELECT fhir.task_update(%L)', (SELECT resource || '{"status": "completed"}' FROM omnitask.task WHERE id = (SELECT id FROM t1))));
-- If-Match made mandatory: 428 without it, accepted with it
SET omnitask.fhir_require_if_match = on;
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code
	FROM pg_temp.http('fh_pr1', jsonb_build_object('x-fhir-id', (SELECT id FROM t1)),
		format('SELECT fhir.task_update(%L)', (SELECT resource FROM omnitask.task WHERE id = (SELECT id FROM t1))));
SELECT status FROM pg_temp.http('fh_pr1', jsonb_build_object('x-fhir-id', (SELECT id FROM t1), 'if-match', 'W/"2"'),
		format('SELECT fhir.task_update(%L)', (SELECT resource FROM omnitask.task WHERE id = (SELECT id FROM t1))));
RESET omnitask.fhir_require_if_match;
-- only a superuser sets it
SELECT pg_temp.try_as('fh_adm', 'SET omnitask.fhir_require_if_match = off');
SELECT pg_temp.try_as('fh_adm', 'SET omnitask.fhir_base_url = ''https://evil.example''');

-- ---------------------------------------------------------------- vread
SELECT vid, status, body -> 'meta' ->> 'versionId' AS body_vid, pg_temp.hdr(headers, 'ETag') AS etag,
	   body -> 'issue' -> 0 ->> 'code' AS code
	FROM (VALUES ('1'), ('3'), ('9'), ('x')) AS v(vid),
		 LATERAL pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_vread(%L, %L)', (SELECT id FROM t1), vid));
SELECT status FROM pg_temp.http('fh_pr2', '{}', format('SELECT fhir.task_vread(%L, %L)', (SELECT id FROM t1), '1'));

-- ---------------------------------------------------------------- conditional create
CREATE TEMP TABLE idt AS SELECT t || '{"identifier": [{"system": "https://orders.example/id", "value": "ord-1"}]}' AS t FROM base;
GRANT SELECT ON idt TO PUBLIC;
INSERT INTO ans SELECT 'cc1', * FROM pg_temp.http('fh_pr1', '{"if-none-exist": "identifier=https://orders.example/id|ord-1"}',
	format('SELECT fhir.task_create(%L)', (SELECT t FROM idt)));
-- the retry (the client lost the answer): the same task, 200, nothing written
INSERT INTO ans SELECT 'cc2', * FROM pg_temp.http('fh_pr1', '{"if-none-exist": "identifier=https%3A%2F%2Forders.example%2Fid%7Cord-1"}',
	format('SELECT fhir.task_create(%L)', (SELECT t FROM idt)));
SELECT name, status, body -> 'meta' ->> 'versionId' AS vid, pg_temp.hdr(headers, 'ETag') AS etag
	FROM ans WHERE name IN ('cc1', 'cc2') ORDER BY name;
SELECT count(DISTINCT body ->> 'id') AS tasks FROM ans WHERE name IN ('cc1', 'cc2');
SELECT count(*) AS history_rows FROM omnitask.task_history WHERE id = (SELECT body ->> 'id' FROM ans WHERE name = 'cc1');
-- identifier=value (any system) finds it too
SELECT status, body ->> 'id' = (SELECT body ->> 'id' FROM ans WHERE name = 'cc1') AS same
	FROM pg_temp.http('fh_pr1', '{"if-none-exist": "identifier=ord-1"}', format('SELECT fhir.task_create(%L)', (SELECT t FROM idt)));
-- a holder the caller cannot see: 409, no trace of the task in the answer
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code, body -> 'issue' -> 0 ->> 'diagnostics' AS diagnostics,
	   body::text LIKE '%' || (SELECT body ->> 'id' FROM ans WHERE name = 'cc1') || '%' AS reveals_id
	FROM pg_temp.http('fh_pr2', '{"if-none-exist": "identifier=https://orders.example/id|ord-1"}',
		format('SELECT fhir.task_create(%L)', (SELECT t || '{"owner": {"reference": "Practitioner/fh-pr2"}}' FROM idt)));
-- several holders of the value in different systems: 412
SELECT status FROM pg_temp.http('fh_pr1', '{"if-none-exist": "identifier=https://other.example/id|ord-1"}',
	format('SELECT fhir.task_create(%L)', (SELECT base.t || '{"identifier": [{"system": "https://other.example/id", "value": "ord-1"}]}' FROM base)));
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code
	FROM pg_temp.http('fh_pr1', '{"if-none-exist": "identifier=ord-1"}', format('SELECT fhir.task_create(%L)', (SELECT t FROM idt)));
-- conditions that cannot be made race-free: 400
SELECT hv, status, body -> 'issue' -> 0 ->> 'diagnostics' AS diagnostics
	FROM (VALUES ('status=requested'), ('identifier=https://orders.example/id|ord-9'), ('identifier=|ord-1'),
				 ('identifier=a|b&status=requested'), ('')) AS v(hv),
		 LATERAL pg_temp.http('fh_pr1', jsonb_build_object('if-none-exist', hv), format('SELECT fhir.task_create(%L)', (SELECT t FROM idt)));
-- from SQL
SET ROLE fh_pr1;
SELECT created, task ->> 'id' = (SELECT body ->> 'id' FROM ans WHERE name = 'cc1') AS same
	FROM omnitask.create_task_if_none_exist((SELECT t FROM idt), 'identifier=https://orders.example/id|ord-1');
RESET ROLE;
SELECT pg_temp.try_as('fh_pr2', $$SELECT omnitask.create_task_if_none_exist((SELECT t || '{"owner": {"reference": "Practitioner/fh-pr2"}}' FROM idt), 'identifier=https://orders.example/id|ord-1')$$);
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.create_task_if_none_exist((SELECT t FROM idt), 'identifier=ord-1')$$);
-- a plain create of a duplicate still works (the first task keeps the claim);
-- an update that drops the identifier releases it
SELECT pg_temp.try_as('fh_adm', $$SELECT omnitask.create_task((SELECT t FROM idt))$$);
SELECT count(*) AS claims FROM omnitask.task_identifier WHERE value = 'ord-1';
SELECT task_id = (SELECT body ->> 'id' FROM ans WHERE name = 'cc1') AS first_holds FROM omnitask.task_identifier
	WHERE system = 'https://orders.example/id' AND value = 'ord-1';
SELECT pg_temp.try_as('fh_pr1', format('SELECT omnitask.update_task(%L, %L)', (SELECT body ->> 'id' FROM ans WHERE name = 'cc1'),
	(SELECT resource - 'identifier' FROM omnitask.task WHERE id = (SELECT body ->> 'id' FROM ans WHERE name = 'cc1'))));
SELECT count(*) AS claims_left FROM omnitask.task_identifier WHERE system = 'https://orders.example/id' AND value = 'ord-1';
-- users cannot touch the claims
SELECT pg_temp.try_as('fh_adm', 'SELECT * FROM omnitask.task_identifier');
SELECT pg_temp.try_as('fh_adm', $$INSERT INTO omnitask.task_identifier VALUES ('s', 'v', 'x')$$);

-- ---------------------------------------------------------------- JSON Patch: RFC 6902 appendix A
SELECT n, omnitask.json_patch(doc::jsonb, patch::jsonb) AS result FROM (VALUES
	('A.1',  '{"foo": "bar"}', '[{"op": "add", "path": "/baz", "value": "qux"}]'),
	('A.2',  '{"foo": ["bar", "baz"]}', '[{"op": "add", "path": "/foo/1", "value": "qux"}]'),
	('A.3',  '{"baz": "qux", "foo": "bar"}', '[{"op": "remove", "path": "/baz"}]'),
	('A.4',  '{"foo": ["bar", "qux", "baz"]}', '[{"op": "remove", "path": "/foo/1"}]'),
	('A.5',  '{"baz": "qux", "foo": "bar"}', '[{"op": "replace", "path": "/baz", "value": "boo"}]'),
	('A.6',  '{"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}', '[{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]'),
	('A.7',  '{"foo": ["all", "grass", "cows", "eat"]}', '[{"op": "move", "from": "/foo/1", "path": "/foo/3"}]'),
	('A.8',  '{"baz": "qux", "foo": ["a", 2, "c"]}', '[{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}]'),
	('A.10', '{"foo": "bar"}', '[{"op": "add", "path": "/child", "value": {"grandchild": {}}}]'),
	('A.11', '{"foo": "bar"}', '[{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}]'),
	('A.14', '{"/": 9, "~1": 10}', '[{"op": "test", "path": "/~01", "value": 10}]'),
	('A.16', '{"foo": ["bar"]}', '[{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]'),
	('copy', '{"a": {"b": [1, 2]}}', '[{"op": "copy", "from": "/a/b", "path": "/c"}, {"op": "add", "path": "/c/0", "value": 0}]'),
	('root', '{"a": 1}', '[{"op": "replace", "path": "", "value": [1]}, {"op": "add", "path": "/-", "value": 2}]'),
	('num',  '{"a": 1.0}', '[{"op": "test", "path": "/a", "value": 1}]')) AS v(n, doc, patch);
-- the error examples: A.9 (failed test), A.12 (add to a nonexistent target),
-- A.13 (jsonb keeps the last of duplicate members: "remove" of a missing
-- path), A.15 (a string is not a number); and other malformed patches
SELECT n, pg_temp.try(format('SELECT omnitask.json_patch(%L, %L)', doc, patch)) FROM (VALUES
	('A.9',  '{"baz": "qux"}', '[{"op": "test", "path": "/baz", "value": "bar"}]'),
	('A.12', '{"foo": "bar"}', '[{"op": "add", "path": "/baz/bat", "value": "qux"}]'),
	('A.13', '{"foo": "bar"}', '[{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}]'),
	('A.15', '{"/": 9, "~1": 10}', '[{"op": "test", "path": "/~01", "value": "10"}]'),
	('not an array', '{}', '{"op": "add"}'),
	('unknown op', '{}', '[{"op": "merge", "path": "/a"}]'),
	('no value', '{}', '[{"op": "add", "path": "/a"}]'),
	('no from', '{}', '[{"op": "copy", "path": "/a"}]'),
	('bad pointer', '{}', '[{"op": "add", "path": "a", "value": 1}]'),
	('bad escape', '{}', '[{"op": "add", "path": "/a~2", "value": 1}]'),
	('index -1', '{"a": [1]}', '[{"op": "remove", "path": "/a/-1"}]'),
	('index 01', '{"a": [1, 2]}', '[{"op": "remove", "path": "/a/01"}]'),
	('past end', '{"a": [1]}', '[{"op": "add", "path": "/a/2", "value": 0}]'),
	('into child', '{"a": {"b": 1}}', '[{"op": "move", "from": "/a", "path": "/a/b/c"}]'),
	('replace missing', '{}', '[{"op": "replace", "path": "/a", "value": 1}]'),
	('remove root', '{}', '[{"op": "remove", "path": ""}]'),
	('atomic', '{"a": 1}', '[{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/zz"}]')) AS v(n, doc, patch);

-- ---------------------------------------------------------------- PATCH /Task/{id}
CREATE TEMP TABLE t2 AS SELECT (pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_create(%L)', (SELECT t FROM base)))).body ->> 'id' AS id;
GRANT SELECT ON t2 TO PUBLIC;
SELECT status, body ->> 'priority' AS priority, body -> 'meta' ->> 'versionId' AS vid, pg_temp.hdr(headers, 'ETag') AS etag
	FROM pg_temp.http('fh_pr1', jsonb_build_object('x-fhir-id', (SELECT id FROM t2)),
		'SELECT fhir.task_patch(''[{"op": "test", "path": "/meta/versionId", "value": "1"}, {"op": "replace", "path": "/priority", "value": "asap"}]'')');
-- a failed test on the version (someone else wrote first): 412, nothing written
SELECT status, body -> 'issue' -> 0 ->> 'diagnostics' AS diagnostics
	FROM pg_temp.http('fh_pr1', jsonb_build_object('x-fhir-id', (SELECT id FROM t2)),
		'SELECT fhir.task_patch(''[{"op": "test", "path": "/meta/versionId", "value": "1"}, {"op": "replace", "path": "/priority", "value": "stat"}]'')');
SELECT status FROM pg_temp.http('fh_pr1', jsonb_build_object('x-fhir-id', (SELECT id FROM t2), 'if-match', 'W/"1"'),
		'SELECT fhir.task_patch(''[{"op": "replace", "path": "/priority", "value": "stat"}]'')');
SELECT version_id, priority FROM omnitask.task WHERE id = (SELECT id FROM t2);
-- the same rules as an update: invalid 422, immutable element 422, workflow 409,
-- inapplicable 422, malformed 400, not visible 404, auditor 403
SELECT n, status, body -> 'issue' -> 0 ->> 'code' AS code FROM (VALUES
	('invalid', 'fh_pr1', '[{"op": "replace", "path": "/priority", "value": "whenever"}]'),
	('immutable', 'fh_pr1', '[{"op": "remove", "path": "/for"}]'),
	('workflow', 'fh_pr1', '[{"op": "replace", "path": "/status", "value": "completed"}]'),
	('missing path', 'fh_pr1', '[{"op": "remove", "path": "/businessStatus"}]'),
	('malformed', 'fh_pr1', '{"op": "remove"}'),
	('not visible', 'fh_pr2', '[{"op": "replace", "path": "/priority", "value": "stat"}]'),
	('auditor', 'fh_aud', '[{"op": "replace", "path": "/priority", "value": "stat"}]')) AS v(n, who, patch),
	LATERAL pg_temp.http(who::name, jsonb_build_object('x-fhir-id', (SELECT id FROM t2)), format('SELECT fhir.task_patch(%L)', patch));
SELECT version_id FROM omnitask.task WHERE id = (SELECT id FROM t2);

-- ---------------------------------------------------------------- coordinator edits (SQL)
SELECT pg_temp.try_as('fh_pr1', format('SELECT omnitask.set_task_business_status(%L, %L)', (SELECT id FROM t2), 'waiting for lab'));
SELECT pg_temp.try_as('fh_pr1', format('SELECT omnitask.set_task_due(%L, %L)', (SELECT id FROM t2), '2030-02-01 17:00:00+00'));
SELECT pg_temp.try_as('fh_pr1', format('SELECT omnitask.add_task_note(%L, %L, 4)', (SELECT id FROM t2), 'first note'));
SELECT pg_temp.try_as('fh_pr1', format('SELECT omnitask.add_task_note(%L, %L, 4)', (SELECT id FROM t2), 'stale'));
SELECT version_id, resource -> 'businessStatus' AS business_status, due_at, resource -> 'restriction' AS restriction,
	   resource -> 'note' -> 0 ->> 'text' AS note, resource -> 'note' -> 0 -> 'authorReference' ->> 'reference' AS author
	FROM omnitask.task WHERE id = (SELECT id FROM t2);
-- on a terminal task: a note is allowed, businessStatus and due date are not
SELECT pg_temp.try_as('fh_pr1', format('SELECT omnitask.set_task_status(%L, %L)', (SELECT id FROM t2), 'accepted'));
SELECT pg_temp.try_as('fh_pr1', format('SELECT omnitask.set_task_status(%L, %L)', (SELECT id FROM t2), 'in-progress'));
SELECT pg_temp.try_as('fh_pr1', format('SELECT omnitask.set_task_status(%L, %L)', (SELECT id FROM t2), 'completed'));
SELECT pg_temp.try_as('fh_pr1', format('SELECT omnitask.add_task_note(%L, %L)', (SELECT id FROM t2), 'after completion'));
SELECT pg_temp.try_as('fh_pr1', format('SELECT omnitask.set_task_business_status(%L, %L)', (SELECT id FROM t2), 'late change'));
SELECT pg_temp.try_as('fh_pr1', format('SELECT omnitask.set_task_due(%L, NULL)', (SELECT id FROM t2)));
SELECT pg_temp.try_as('fh_pr2', format('SELECT omnitask.add_task_note(%L, %L)', (SELECT id FROM t2), 'not mine'));
SELECT pg_temp.try_as('fh_aud', format('SELECT omnitask.add_task_note(%L, %L)', (SELECT id FROM t2), 'auditor'));
SELECT jsonb_array_length(resource -> 'note') AS notes, status FROM omnitask.task WHERE id = (SELECT id FROM t2);

-- ---------------------------------------------------------------- instance history
SELECT status, jsonb_array_length(body -> 'entry') AS entries,
	   (SELECT string_agg(e -> 'resource' -> 'meta' ->> 'versionId', ',') FROM jsonb_array_elements(body -> 'entry') e) AS versions,
	   (SELECT jsonb_object_agg(l ->> 'relation', regexp_replace(l ->> 'url', '[0-9a-f-]{36}', '{id}')) FROM jsonb_array_elements(body -> 'link') l) AS links
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_history(%L, 3)', (SELECT id FROM t2)));
SELECT status, (SELECT string_agg(e -> 'resource' -> 'meta' ->> 'versionId', ',') FROM jsonb_array_elements(body -> 'entry') e) AS versions,
	   body -> 'link' @> '[{"relation": "next"}]' AS has_next
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_history(%L, 3, _before => 5)', (SELECT id FROM t2)));
SELECT (SELECT string_agg(e -> 'resource' -> 'meta' ->> 'versionId', ',') FROM jsonb_array_elements(body -> 'entry') e) AS versions
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_history(%L, _since => %L)', (SELECT id FROM t2),
		(SELECT recorded_at FROM omnitask.task_history WHERE id = (SELECT id FROM t2) AND version_id = 6)));
SELECT (SELECT string_agg(e -> 'resource' -> 'meta' ->> 'versionId', ',') FROM jsonb_array_elements(body -> 'entry') e) AS versions
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_history(%L, _at => %L)', (SELECT id FROM t2),
		(SELECT recorded_at FROM omnitask.task_history WHERE id = (SELECT id FROM t2) AND version_id = 3)));
SELECT who, status, body -> 'issue' -> 0 ->> 'code' AS code
	FROM (VALUES ('fh_pr2', 50), ('fh_pr1', 0), ('fh_pr1', 1001)) AS v(who, n),
		 LATERAL pg_temp.http(who::name, '{}', format('SELECT fhir.task_history(%L, %s)', (SELECT id FROM t2), n));
-- _since and _at together: 400
SELECT status, body -> 'issue' -> 0 ->> 'diagnostics' AS diagnostics
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_history(%L, _since => %L, _at => %L)', (SELECT id FROM t2), now(), now()));
-- a request body that is not JSON: 400 OperationOutcome from each write endpoint
SELECT fn, status, body -> 'issue' -> 0 ->> 'code' AS code, body -> 'issue' -> 0 -> 'details' -> 'coding' -> 0 ->> 'code' AS sqlstate
	FROM (VALUES ('task_create'), ('task_update'), ('task_patch')) AS v(fn),
		 LATERAL pg_temp.http('fh_pr1', jsonb_build_object('x-fhir-id', (SELECT id FROM t2)), format('SELECT fhir.%s(%L)', fn, '{"resourceType": "Task"'));

-- ---------------------------------------------------------------- change feed
-- every visible version exactly once, paging by the next link's cursor
CREATE FUNCTION pg_temp.drain(who name, page integer) RETURNS TABLE (pages integer, versions bigint, distinct_versions bigint, last_empty boolean)
LANGUAGE plpgsql AS $$
DECLARE
	cur text := NULL; b jsonb; seen text[] := '{}'; n integer := 0;
BEGIN
	LOOP
		b := (pg_temp.http(who, '{}', format('SELECT fhir.task_changes(%L, %s)', cur, page))).body;
		n := n + 1;
		seen := seen || ARRAY(SELECT (e -> 'resource' ->> 'id') || '/' || (e -> 'resource' -> 'meta' ->> 'versionId') FROM jsonb_array_elements(b -> 'entry') e);
		EXIT WHEN jsonb_array_length(b -> 'entry') = 0 OR n > 1000;
		cur := substring((SELECT l ->> 'url' FROM jsonb_array_elements(b -> 'link') l WHERE l ->> 'relation' = 'next') FROM '_cursor=([0-9a-f]+)');
	END LOOP;
	RETURN QUERY SELECT n, cardinality(seen)::bigint, (SELECT count(DISTINCT s) FROM unnest(seen) s), true;
END $$;
SELECT pg_temp.try_as('fh_adm', format('SELECT omnitask.create_task(%L)', (SELECT t || '{"owner": {"reference": "Practitioner/fh-pr2"}}' FROM base)));
SELECT 'admin' AS who, d.versions = (SELECT count(*) FROM omnitask.task_history) AS every_version,
	   d.distinct_versions = d.versions AS none_twice, d.pages > 2 AS paged
	FROM pg_temp.drain('fh_adm', 7) d;
SELECT 'pr1' AS who, d.versions = (SELECT count(*) FROM omnitask.task_history WHERE owner_id = 'fh-pr1') AS own_versions,
	   d.versions < (SELECT count(*) FROM omnitask.task_history) AS not_others, d.distinct_versions = d.versions AS none_twice
	FROM pg_temp.drain('fh_pr1', 5) d;
-- an empty page keeps the cursor; a bad cursor or _count is 400
SELECT (SELECT l ->> 'url' FROM jsonb_array_elements(body -> 'link') l WHERE l ->> 'relation' = 'next') ~ '_cursor=[0-9a-f]+$' AS next_has_cursor
	FROM pg_temp.http('fh_pr1', '{}', 'SELECT fhir.task_changes(NULL, 1000)');
SELECT c, status, body -> 'issue' -> 0 ->> 'diagnostics' AS diagnostics
	FROM (VALUES ('zz'), ('41'), ('')) AS v(c), LATERAL pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_changes(%L, 5)', c));
SELECT status FROM pg_temp.http('fh_pr1', '{}', 'SELECT fhir.task_changes(NULL, 0)');
-- versions are stored as they are, not compressed (a page reads no pglz):
-- a version of more than 2 kB, created, patched and imported (the toaster
-- compressed every row over 2 kB before 0.6); one of more than a page is
-- still compressed; the feed prints them all as stored (feed_compare below)
SELECT pg_temp.try_as('fh_adm', format('SELECT omnitask.create_task(%L)',
	(SELECT t || jsonb_build_object('description', 'fh-long ' || repeat('a long description ', n)) FROM base)))
	FROM (VALUES (150), (600)) AS v(n);
SELECT pg_temp.try_as('fh_adm', format('SELECT omnitask.patch_task(%L, %L)', h.id, '[{"op": "replace", "path": "/priority", "value": "stat"}]'))
	FROM omnitask.task_history h WHERE h.resource ->> 'description' LIKE 'fh-long %' AND h.version_id = 1;
SELECT pg_temp.try_as('fh_adm', format('SELECT omnitask.import_task(%L)', h.resource - 'meta' || '{"id": "fh-long-imported"}'))
	FROM omnitask.task_history h WHERE h.resource ->> 'description' LIKE 'fh-long %' AND h.version_id = 1
	ORDER BY octet_length(h.resource::text) LIMIT 1;
SELECT h.operation, h.version_id, octet_length(h.resource::text) > 8160 AS over_a_page,
	   pg_column_compression(h.resource) AS compression
	FROM omnitask.task_history h WHERE h.resource ->> 'description' LIKE 'fh-long %'
	ORDER BY over_a_page, h.operation, h.version_id;
SELECT reloptions FROM pg_class WHERE oid = 'omnitask.task_history'::regclass;
-- The Bundle is encoded in C straight into jsonb's binary format, each stored
-- resource copied as it is: every page, of 7, 1000 and with absolute URLs, is
-- the jsonb and the text the SQL construction below gives.
-- the Bundle of a feed page built in SQL from omnitask.task_history (as the
-- SQL version of the feed did): the C encoder must give the same jsonb
CREATE FUNCTION pg_temp.feed_reference(cur text, cnt integer, skip integer, prefix text DEFAULT '') RETURNS jsonb
LANGUAGE sql AS $$
	WITH page AS (
		SELECT h.*, row_number() OVER (ORDER BY h.xid, h.id, h.version_id) AS n
		FROM (SELECT * FROM omnitask.task_history ORDER BY xid, id, version_id OFFSET skip LIMIT cnt) h),
	nxt AS (
		SELECT coalesce((SELECT encode(convert_to(p.xid || '.' || p.version_id || '.' || p.id, 'UTF8'), 'hex')
						 FROM page p ORDER BY p.n DESC LIMIT 1), cur) AS c)
	SELECT jsonb_build_object('resourceType', 'Bundle', 'type', 'history',
		'entry', coalesce((SELECT jsonb_agg(jsonb_build_object(
			'fullUrl', prefix || 'Task/' || p.id,
			'resource', p.resource,
			'request', jsonb_build_object('method', CASE WHEN p.operation = 'update' THEN 'PUT' ELSE 'POST' END,
										  'url', CASE WHEN p.operation = 'update' THEN 'Task/' || p.id ELSE 'Task' END),
			'response', jsonb_build_object('status', CASE WHEN p.operation = 'update' THEN '200' ELSE '201' END,
										   'etag', format('W/"%s"', p.version_id))
						|| CASE WHEN isfinite(p.recorded_at)
								THEN jsonb_build_object('lastModified', to_char(p.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
								ELSE '{}' END)
			ORDER BY p.n) FROM page p), '[]'),
		'link', jsonb_build_array(
			jsonb_build_object('relation', 'self', 'url', prefix || 'Task/_history?_count=' || cnt || coalesce('&_cursor=' || cur, '')),
			jsonb_build_object('relation', 'first', 'url', prefix || 'Task/_history?_count=' || cnt),
			jsonb_build_object('relation', 'next', 'url', prefix || 'Task/_history?_count=' || cnt || coalesce('&_cursor=' || (SELECT c FROM nxt), ''))))
$$;
-- every page of the whole feed, 7 at a time, against the reference: the
-- same jsonb and the same text; and the text forms (task_changes_json,
-- printed in C without a jsonb, and the HTTP endpoint's json body) byte for
-- byte the text of that jsonb
CREATE FUNCTION pg_temp.feed_compare(cnt integer, prefix text DEFAULT '')
	RETURNS TABLE (pages integer, same_jsonb boolean, same_text boolean, same_json boolean)
LANGUAGE plpgsql AS $$
DECLARE
	cur text := NULL; b jsonb; r jsonb; n integer := 0; sj boolean := true; st boolean := true; sx boolean := true;
BEGIN
	LOOP
		b := omnitask.task_changes(cur, cnt);
		r := pg_temp.feed_reference(cur, cnt, n * cnt, prefix);
		sj := sj AND b = r;
		st := st AND b::text = r::text;
		sx := sx AND omnitask.task_changes_json(cur, cnt)::text = r::text
				 AND fhir.task_changes(cur, cnt)::text = r::text;
		n := n + 1;
		EXIT WHEN jsonb_array_length(b -> 'entry') = 0 OR n > 1000;
		cur := substring((SELECT l ->> 'url' FROM jsonb_array_elements(b -> 'link') l WHERE l ->> 'relation' = 'next') FROM '_cursor=([0-9a-f]+)');
	END LOOP;
	RETURN QUERY SELECT n, sj, st, sx;
END $$;
SELECT pages > 2 AS paged, same_jsonb, same_text, same_json FROM pg_temp.feed_compare(7);
SELECT pages = 2 AS one_page, same_jsonb, same_text, same_json FROM pg_temp.feed_compare(1000);
SET omnitask.fhir_base_url = 'https://fhir.example.org/r4/';
SELECT pages > 2 AS paged, same_jsonb, same_text, same_json FROM pg_temp.feed_compare(9, 'https://fhir.example.org/r4/');
RESET omnitask.fhir_base_url;
-- stored values that are not objects (a root scalar is re-encoded, not
-- copied): rows restored with an old position show in this transaction
BEGIN;
INSERT INTO omnitask.task_history (id, version_id, operation, status, resource, recorded_at, recorded_by, xid)
	SELECT 'fh-raw-' || n, 1, 'import', 'requested'::omnitask.task_status, r::jsonb, now(), current_user, '3'::xid8
	FROM (VALUES (1, '"a string"'), (2, '42.5'), (3, 'null'), (4, 'true'), (5, 'false'),
				 (6, '[1, "x", {"a": 2}]'), (7, '{}'), (8, '[]')) AS v(n, r)
	UNION ALL
	SELECT 'fh-raw-obj-' || g, 1, 'import', 'requested'::omnitask.task_status, jsonb_build_object('n', g), now(), current_user, '3'
	FROM generate_series(1, 40) g;
-- what the printer must escape and print as jsonb_out does: quotes,
-- backslashes, every control character (\u0000 cannot be stored in jsonb),
-- unicode, numerics large, small and negative, empty and nested
-- containers, escaped keys, objects and arrays past jsonb's offset stride
-- (32 children) with values of every kind
INSERT INTO omnitask.task_history (id, version_id, operation, status, resource, recorded_at, recorded_by, xid)
	SELECT 'fh-zz-edge-' || n, 1, 'import', 'requested', r, now(), current_user, '3'
	FROM (VALUES
		(1, '{"s": "quote \" backslash \\ slash / tab \t nl \n cr \r bs \b ff \f", "u": "Grüße ☃ 😀 \u00e9 \u2028 \u007f"}'::jsonb),
		(2, (SELECT jsonb_build_object('ctl', string_agg(chr(c), '' ORDER BY c)) FROM generate_series(1, 31) c)),
		(3, '{"n": [0, -0, 0.0, 1e-30, 123456789012345678901234567890.123456789, -1.5e+30, 0.000001, 100, -7]}'),
		(4, '{"e": [[], {}, [[]], {"a": {}}, [{}], ""], "d": [[[[[[{"x": [null, true, false, "", 1.50]}]]]]]]}'),
		(5, '{"k\"ey\n": 1, "": 2, "\\": {"\t": []}, "ü": "ü"}'),
		(6, (SELECT jsonb_object_agg('k' || g, CASE g % 5 WHEN 0 THEN to_jsonb(g) WHEN 1 THEN to_jsonb(repeat('x"', g))
								 WHEN 2 THEN jsonb_build_array(g, 'y', jsonb_build_object('z', g)) WHEN 3 THEN to_jsonb(g * 1.5)
								 ELSE 'null' END) FROM generate_series(1, 70) g)),
		(7, (SELECT jsonb_agg(CASE g % 4 WHEN 0 THEN to_jsonb(g) WHEN 1 THEN to_jsonb(repeat('ab\', g % 9)) WHEN 2 THEN 'true'
							  ELSE jsonb_build_object('i', g, 'j', jsonb_build_array()) END) FROM generate_series(1, 70) g)),
		(8, '"\u0001 raw \"scalar\""'), (9, '-0.000000000000000000001'), (10, '[[], {}]'),
		-- a long string with escapes and multibyte characters at every position of an 8-byte word
		(11, (SELECT jsonb_build_object('mix', string_agg(chr(32 + (g * 7) % 95) || CASE WHEN g % 13 = 0 THEN chr(1 + g % 31)
																				   WHEN g % 17 = 0 THEN 'é☃' ELSE '' END, '' ORDER BY g))
			  FROM generate_series(1, 600) g))) AS v(n, r);
-- the printer alone: every stored value, as jsonb_out prints it
SELECT count(*) AS values, bool_and(omnitask.fhir_json(resource)::text = resource::text) AS same_text
	FROM omnitask.task_history WHERE id LIKE 'fh-%';
SELECT omnitask.fhir_json(resource) AS printed FROM omnitask.task_history WHERE id LIKE 'fh-zz-edge-%' AND id NOT IN ('fh-zz-edge-6', 'fh-zz-edge-7', 'fh-zz-edge-11') ORDER BY id;
SELECT omnitask.fhir_json(NULL) IS NULL AS strict;
-- the printer against jsonb_out on generated values (0.6: plain text
-- written without checks, strings read in whole words, the last partial
-- word read past the string where the stored value goes on): strings of
-- every length 0..40 around the 8-byte words, plain and with each character
-- that needs escaping (or is multibyte) at every position, as raw scalars
-- (the string is the value's last bytes), keys, values, array elements
-- first and last; numerics whose text is far longer than their storage;
-- empty and deeply nested containers; values that are almost all escapes
WITH chars(c) AS (
	VALUES ('"'), ('\'), (chr(1)), (chr(8)), (chr(9)), (chr(10)), (chr(11)), (chr(12)), (chr(13)), (chr(31)),
		   (chr(127)), ('/'), ('é'), ('☃'), ('😀')),
strs(s) AS (
	SELECT substr('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH', 1, len) FROM generate_series(0, 40) len
	UNION ALL
	SELECT overlay(substr('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH', 1, len) PLACING c FROM pos FOR 1)
	FROM generate_series(1, 40) len, generate_series(1, 40) pos, chars WHERE pos <= len),
vals(j) AS (
	SELECT to_jsonb(s) FROM strs
	UNION ALL SELECT jsonb_build_object(s, s) FROM strs
	UNION ALL SELECT jsonb_build_object('k', s, 'zz', 1.5, s, jsonb_build_array(s, true)) FROM strs
	UNION ALL SELECT jsonb_build_array(s, null, false, s) FROM strs
	UNION ALL SELECT to_jsonb(n) FROM unnest('{0, -0, 0.0, 1e1000, -1e-1000, 1.000000000000000000001, 12345678901234567890, NaN}'::numeric[]) n
	UNION ALL SELECT jsonb_build_object('n', '1e1000'::numeric, 'm', jsonb_build_array('-1e-500'::numeric, '1e-500'::numeric))
	UNION ALL SELECT (SELECT jsonb_agg('1e300'::numeric) FROM generate_series(1, 200))
	UNION ALL SELECT v::jsonb FROM unnest('{"{}", "[]", "[[]]", "[{}]", "{\"a\": {}}", "{\"\": []}", "\"\"", "null", "true", "false"}'::text[]) v
	UNION ALL SELECT (repeat('[', 500) || '{"deep": [1, {}]}' || repeat(']', 500))::jsonb
	UNION ALL SELECT to_jsonb(repeat(chr(1), 2000))
	UNION ALL SELECT (SELECT jsonb_object_agg(repeat('"', g), repeat(chr(31), g)) FROM generate_series(1, 60) g))
SELECT count(*) AS values, count(*) FILTER (WHERE omnitask.fhir_json(j)::text IS DISTINCT FROM j::text) AS differ FROM vals;
-- an infinite recorded_at (a restore could bring one) has no lastModified
-- (the server process crashed on it before)
INSERT INTO omnitask.task_history (id, version_id, operation, status, resource, recorded_at, recorded_by, xid)
	VALUES ('fh-raw-inf', 1, 'import', 'requested', '{}', 'infinity', current_user, '3'),
		   ('fh-raw-inf', 2, 'update', 'requested', '{}', '-infinity', current_user, '3'),
		   -- lastModified is formatted in C as to_char formats it: years before 1 and after 9999
		   ('fh-raw-year', 1, 'import', 'requested', '{}', '0044-03-15 12:00:00.5+00 BC', current_user, '3'),
		   ('fh-raw-year', 2, 'update', 'requested', '{}', '12345-06-07 08:09:10.000001+00', current_user, '3'),
		   ('fh-raw-year', 3, 'update', 'requested', '{}', '0001-01-01 00:00:00+00', current_user, '3'),
		   ('fh-raw-year', 4, 'update', 'requested', '{}', '200000-12-31 23:59:59.999999+00', current_user, '3');
SELECT e -> 'response' AS response FROM jsonb_array_elements(omnitask.task_changes(NULL, 60) -> 'entry') e
	WHERE e ->> 'fullUrl' IN ('Task/fh-raw-inf', 'Task/fh-raw-year');
SELECT e -> 'resource' AS resource FROM jsonb_array_elements(omnitask.task_changes(NULL, 8) -> 'entry') e;
SELECT (omnitask.task_changes(NULL, 8) -> 'entry' -> 1 -> 'resource')::numeric + 1 AS numeric_read;
SELECT pages > 20 AS paged, same_jsonb, same_text, same_json FROM pg_temp.feed_compare(3);
SELECT jsonb_array_length(omnitask.task_changes(NULL, 1000) -> 'entry') > 32 AS past_stride, same_jsonb, same_text, same_json
	FROM pg_temp.feed_compare(1000);
ROLLBACK;
-- a practitioner's page (0.6) reads their versions through
-- task_history_owner_feed_idx from (their id, the cursor) and stops after
-- _count rows: the heap tuples a page fetches (pg_stat_xact_user_tables, this
-- transaction's counts) are the page's.  0.5's kept plan read all of the
-- practitioner's versions after the cursor and sorted them (0.3-3 s a page
-- at 1M tasks); task_history_feed_idx, filtering the others' versions out,
-- fetches 20 times the page here.  Each version of theirs, none of the others'.
BEGIN;
INSERT INTO omnitask.task_history (id, version_id, operation, status, owner_id, resource, recorded_at, recorded_by, xid)
	SELECT 'fh-own-' || lpad(g::text, 4, '0'), 1, 'import', 'requested', CASE WHEN g % 20 = 0 THEN 'fh-pr2' ELSE 'fh-pr-other' END,
		   jsonb_build_object('resourceType', 'Task', 'id', 'fh-own-' || lpad(g::text, 4, '0')), now(), current_user, '4'
	FROM generate_series(1, 4000) g;
ANALYZE omnitask.task_history;
SELECT omnitask.feed_cursor('4', 'fh-own-2800', 1) AS cur2 \gset
SET LOCAL ROLE fh_pr2;
SELECT substring((SELECT l ->> 'url' FROM jsonb_array_elements(omnitask.task_changes(NULL, 5) -> 'link') l
				  WHERE l ->> 'relation' = 'next') FROM '_cursor=([0-9a-f]+)') AS cur \gset
SELECT idx_tup_fetch + seq_tup_read AS fetched FROM pg_stat_xact_user_tables WHERE relid = 'omnitask.task_history'::regclass \gset
SELECT string_agg(e -> 'resource' ->> 'id', ',') AS page FROM jsonb_array_elements(omnitask.task_changes(:'cur', 5) -> 'entry') e;
SELECT idx_tup_fetch + seq_tup_read - :fetched AS tuples_fetched
	FROM pg_stat_xact_user_tables WHERE relid = 'omnitask.task_history'::regclass;
-- as text, and from a cursor further on (pages of 7: 140 of theirs in 2,800 versions)
SELECT idx_tup_fetch + seq_tup_read AS fetched FROM pg_stat_xact_user_tables WHERE relid = 'omnitask.task_history'::regclass \gset
SELECT octet_length(omnitask.task_changes_json(:'cur2', 7)::text) > 0 AS printed;
SELECT idx_tup_fetch + seq_tup_read - :fetched AS tuples_fetched
	FROM pg_stat_xact_user_tables WHERE relid = 'omnitask.task_history'::regclass;
ROLLBACK;

-- ---------------------------------------------------------------- search
SELECT status, body ->> 'total' AS total, body -> 'entry' -> 0 ->> 'fullUrl' ~ '^Task/' AS relative
	FROM pg_temp.http('fh_pr1', '{}', 'SELECT fhir.task_search(status => ''requested'', _count => 2)');
SELECT status, body -> 'issue' -> 0 ->> 'diagnostics' AS diagnostics
	FROM pg_temp.http('fh_pr1', '{}', 'SELECT fhir.task_search(status => ''nonsense'')');

-- ---------------------------------------------------------------- base URL
SET omnitask.fhir_base_url = 'https://fhir.example.org/r4/';
SELECT status, pg_temp.hdr(headers, 'Location') ~ '^https://fhir\.example\.org/r4/Task/[0-9a-f-]{36}/_history/1$' AS location_absolute
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_create(%L)', (SELECT t FROM base)));
SELECT (SELECT bool_and(e ->> 'fullUrl' LIKE 'https://fhir.example.org/r4/Task/%') FROM jsonb_array_elements(body -> 'entry') e) AS fullurls,
	   (SELECT bool_and(l ->> 'url' LIKE 'https://fhir.example.org/r4/Task?%') FROM jsonb_array_elements(body -> 'link') l) AS links
	FROM pg_temp.http('fh_pr1', '{}', 'SELECT fhir.task_search(_count => 2)');
SELECT (SELECT bool_and(l ->> 'url' LIKE 'https://fhir.example.org/r4/Task/%/_history?%') FROM jsonb_array_elements(body -> 'link') l) AS links,
	   (SELECT bool_and(e ->> 'fullUrl' LIKE 'https://fhir.example.org/r4/Task/%') FROM jsonb_array_elements(body -> 'entry') e) AS fullurls
	FROM pg_temp.http('fh_pr1', '{}', format('SELECT fhir.task_history(%L, 2)', (SELECT id FROM t2)));
SELECT (SELECT bool_and(l ->> 'url' LIKE 'https://fhir.example.org/r4/Task/_history?%') FROM jsonb_array_elements(body -> 'link') l) AS links
	FROM pg_temp.http('fh_pr1', '{}', 'SELECT fhir.task_changes(NULL, 2)');
RESET omnitask.fhir_base_url;

-- ---------------------------------------------------------------- conditional update
-- From SQL: no match creates (race-free, through the claim), one match is
-- updated with the usual rules, several are refused.
CREATE TEMP TABLE cu AS SELECT (SELECT t FROM base) || '{"identifier": [{"system": "urn:fh:cu", "value": "cu-1"}]}' AS t;
GRANT SELECT ON cu TO PUBLIC;
-- what a client sends to update: the stored Task as read, without id and meta
CREATE FUNCTION pg_temp.stored(v text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT t.resource - 'id' - 'meta' FROM omnitask.task t
	WHERE t.id = (SELECT ti.task_id FROM omnitask.task_identifier ti WHERE ti.value = v) $$;
SET ROLE fh_pr1;
SELECT c.created, c.task -> 'meta' ->> 'versionId' AS vid, c.task ->> 'description' AS description
	FROM cu, omnitask.update_task_by_identifier(cu.t, 'identifier=urn:fh:cu|cu-1') c;
-- the same identifier, URL-encoded: the one match is updated (version 2)
SELECT c.created, c.task -> 'meta' ->> 'versionId' AS vid, c.task ->> 'description' AS description
	FROM omnitask.update_task_by_identifier(pg_temp.stored('cu-1') || '{"description": "changed by condition"}', 'identifier=urn%3Afh%3Acu%7Ccu-1') c;
-- by value alone, with the matching If-Match and the holder's own id
SELECT c.created, c.task -> 'meta' ->> 'versionId' AS vid
	FROM omnitask.update_task_by_identifier(pg_temp.stored('cu-1') || jsonb_build_object('id', (SELECT task_id FROM omnitask.task_identifier WHERE value = 'cu-1')),
											'identifier=cu-1', 2) c;
RESET ROLE;
SELECT count(*) AS tasks_with_cu_1, max(version_id) AS version FROM omnitask.task WHERE resource @> '{"identifier": [{"value": "cu-1"}]}';
-- error paths
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.update_task_by_identifier(pg_temp.stored('cu-1'), 'identifier=urn:fh:cu|cu-1', 1)$$) AS stale_if_match;
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.update_task_by_identifier((SELECT t || '{"id": "not-the-holder"}' FROM cu), 'identifier=urn:fh:cu|cu-1')$$) AS other_id;
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.update_task_by_identifier((SELECT t FROM cu), 'status=ready')$$) AS bad_condition;
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.update_task_by_identifier((SELECT t FROM cu), NULL)$$) AS no_condition;
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.update_task_by_identifier(NULL, 'identifier=cu-1')$$) AS no_resource;
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.update_task_by_identifier((SELECT t || '{"id": "x"}' FROM cu), 'identifier=urn:fh:cu|cu-new')$$) AS no_match_with_id;
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.update_task_by_identifier((SELECT t FROM cu), 'identifier=urn:fh:cu|cu-new', 1)$$) AS no_match_with_if_match;
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.update_task_by_identifier((SELECT t FROM cu), 'identifier=urn:fh:cu|cu-new')$$) AS no_match_not_carried;
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.update_task_by_identifier(pg_temp.stored('cu-1') || '{"status": "bogus"}', 'identifier=urn:fh:cu|cu-1')$$) AS invalid_task;
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.update_task_by_identifier(pg_temp.stored('cu-1') || '{"status": "completed"}', 'identifier=urn:fh:cu|cu-1')$$) AS workflow;
-- a holder the caller cannot see: refused without a trace of it
SELECT pg_temp.try_as('fh_pr2', $$SELECT omnitask.update_task_by_identifier((SELECT t || '{"owner": {"reference": "Practitioner/fh-pr2"}}' FROM cu), 'identifier=urn:fh:cu|cu-1')$$) AS hidden_holder;
-- several holders of one value (two systems)
SET ROLE fh_pr1;
SELECT count(*) AS created FROM cu, omnitask.update_task_by_identifier(cu.t || '{"identifier": [{"system": "urn:fh:a", "value": "cu-2"}]}', 'identifier=urn:fh:a|cu-2') c
UNION ALL
SELECT count(*) FROM cu, omnitask.update_task_by_identifier(cu.t || '{"identifier": [{"system": "urn:fh:b", "value": "cu-2"}]}', 'identifier=urn:fh:b|cu-2') c;
RESET ROLE;
SELECT pg_temp.try_as('fh_pr1', $$SELECT omnitask.update_task_by_identifier((SELECT t FROM cu), 'identifier=cu-2')$$) AS several;

-- Over HTTP: PUT /Task?identifier=... arrives as fhir.task_update with the
-- query in X-FHIR-Condition (test/nginx/omnitask-fhir.conf).
SELECT status, pg_temp.hdr(headers, 'Location') ~ '^Task/[0-9a-f-]{36}/_history/1$' AS location, pg_temp.hdr(headers, 'ETag') AS etag,
	   body ->> 'description' AS description
	FROM pg_temp.http('fh_pr1', '{"x-fhir-condition": "identifier=urn:fh:cu|cu-3"}',
					  format('SELECT fhir.task_update(%L)', (SELECT t || '{"identifier": [{"system": "urn:fh:cu", "value": "cu-3"}]}' FROM cu)));
SELECT status, pg_temp.hdr(headers, 'Location') ~ '^Task/[0-9a-f-]{36}/_history/2$' AS location, pg_temp.hdr(headers, 'ETag') AS etag,
	   body ->> 'description' AS description
	FROM pg_temp.http('fh_pr1', '{"x-fhir-condition": "identifier=urn:fh:cu|cu-3", "if-match": "W/\"1\""}',
					  format('SELECT fhir.task_update(%L)', pg_temp.stored('cu-3') || '{"description": "second PUT"}'));
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code, body -> 'issue' -> 0 -> 'details' -> 'coding' -> 0 ->> 'code' AS sqlstate,
	   body -> 'issue' -> 0 ->> 'diagnostics' AS diagnostics
	FROM pg_temp.http('fh_pr1', '{"x-fhir-condition": "identifier=cu-2"}', format('SELECT fhir.task_update(%L)', (SELECT t FROM cu)));
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code, body -> 'issue' -> 0 -> 'details' -> 'coding' -> 0 ->> 'code' AS sqlstate
	FROM pg_temp.http('fh_pr1', '{"x-fhir-condition": "identifier=urn:fh:cu|cu-3", "if-match": "W/\"1\""}', format('SELECT fhir.task_update(%L)', pg_temp.stored('cu-3')));
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code, body -> 'issue' -> 0 -> 'details' -> 'coding' -> 0 ->> 'code' AS sqlstate
	FROM pg_temp.http('fh_pr1', '{"x-fhir-condition": "_id=abc"}', format('SELECT fhir.task_update(%L)', (SELECT t FROM cu)));
SELECT status, body -> 'issue' -> 0 ->> 'code' AS code, body -> 'issue' -> 0 -> 'details' -> 'coding' -> 0 ->> 'code' AS sqlstate
	FROM pg_temp.http('fh_pr2', '{"x-fhir-condition": "identifier=urn:fh:cu|cu-3"}',
					  format('SELECT fhir.task_update(%L)', pg_temp.stored('cu-3') || '{"owner": {"reference": "Practitioner/fh-pr2"}}'));
-- (the last: a holder fh_pr2 cannot see, 409 without a trace of it)
-- the failed requests wrote nothing
SELECT count(*) AS tasks_with_cu_3, max(version_id) AS version FROM omnitask.task WHERE resource @> '{"identifier": [{"value": "cu-3"}]}';

-- ---------------------------------------------------------------- capability statement
SELECT status, body ->> 'resourceType' AS type, body ->> 'fhirVersion' AS fhir_version,
	   (SELECT string_agg(i ->> 'code', ',') FROM jsonb_array_elements(body -> 'rest' -> 0 -> 'resource' -> 0 -> 'interaction') i) AS interactions,
	   (SELECT string_agg(p ->> 'name', ',') FROM jsonb_array_elements(body -> 'rest' -> 0 -> 'resource' -> 0 -> 'searchParam') p) AS params
	FROM pg_temp.http('fh_aud', '{}', 'SELECT fhir.metadata()');
-- the same for every role (each may call every endpoint; the rules answer 403)
SELECT (SELECT string_agg(i ->> 'code', ',') FROM jsonb_array_elements(body -> 'rest' -> 0 -> 'resource' -> 0 -> 'interaction') i) AS interactions
	FROM pg_temp.http('fh_pr1', '{}', 'SELECT fhir.metadata()');

-- ---------------------------------------------------------------- privileges
SELECT p.oid::regprocedure AS executable_by_public
	FROM pg_proc p WHERE p.pronamespace = 'fhir'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE');
SELECT pg_temp.try_as('fh_aud', format('SELECT omnitask.patch_task(%L, %L)', (SELECT id FROM t2), '[]'));

-- ---------------------------------------------------------------- clean-up
\c :regress_db
SET client_min_messages = warning;
DROP DATABASE omnitask_fhir_http;
DROP ROLE fh_adm, fh_pr1, fh_pr2, fh_aud;
