--
-- storage: create, read, update, import, history, derived columns, and the
-- errors of each, through the functions and through plain SQL.
--
SET client_min_messages = warning;
SET timezone = 'UTC';

-- pg_temp.try(stmt): 'ok' or its SQLSTATE and message (for 23514 the FHIR
-- paths of the OperationOutcome) instead of failing the script
\i test/fixtures/try.sql
SET regress.try_report = 'outcome';

-- owners must be registered practitioners (the registry is the admin's)
INSERT INTO omnitask.practitioner (id, role_name, display)
VALUES ('pr-2', 'storage_pr2', 'Dr. Two'), ('example', 'storage_example', 'Example Practitioner');

CREATE TEMP TABLE base AS SELECT
	'{"resourceType": "Task", "status": "requested", "intent": "order",
	  "description": "Reconcile home medications after discharge",
	  "for": {"reference": "Patient/pat-1", "display": "Jane Doe"},
	  "requester": {"reference": "Practitioner/pr-1"},
	  "owner": {"reference": "Practitioner/pr-2"},
	  "code": {"coding": [{"system": "https://omnitask.dev/fhir/CodeSystem/care-task-category", "code": "medication-reconciliation"}]},
	  "authoredOn": "2026-11-20T09:00:00+01:00",
	  "restriction": {"period": {"end": "2026-12-01T17:00:00Z"}}}'::jsonb AS t;

--
-- create: server-owned elements and derived columns
--
CREATE TEMP TABLE created AS
	SELECT omnitask.create_task(t || '{"id": "client-chosen", "meta": {"versionId": "42", "lastUpdated": "2001-01-01T00:00:00Z", "tag": [{"code": "demo"}]}, "lastModified": "2026-11-20T09:00:00Z"}') AS r
	FROM base;
SELECT r ->> 'id' <> 'client-chosen' AS id_assigned,
	   r ->> 'id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS id_is_uuid,
	   r -> 'meta' ->> 'versionId' AS version,
	   r -> 'meta' -> 'tag' AS tag_kept,
	   r -> 'meta' ->> 'lastUpdated' = r ->> 'lastModified' AS last_modified_is_last_updated,
	   (r -> 'meta' ->> 'lastUpdated')::timestamptz > now() - interval '1 minute' AS last_updated_is_now,
	   r ->> 'priority' AS default_priority,
	   r ->> 'authoredOn' AS authored_on_kept
FROM created;
SELECT t.id = c.r ->> 'id' AS same_id, t.version_id, t.status, t.intent, t.priority, t.owner_id,
	   t.patient_id, t.requester, t.code, t.description,
	   t.authored_on = '2026-11-20T08:00:00Z' AS authored_on_ok,
	   t.due_at = '2026-12-01T17:00:00Z' AS due_at_ok,
	   t.last_updated = t.last_modified AS times_agree,
	   t.last_updated = (c.r -> 'meta' ->> 'lastUpdated')::timestamptz AS column_matches_meta,
	   t.resource = c.r AS stored_as_returned
FROM omnitask.task t, created c WHERE t.id = c.r ->> 'id';

-- defaults: authoredOn = now, priority routine; due from executionPeriod.end when no restriction; dates mean end of day
SELECT r ->> 'authoredOn' = r ->> 'lastModified' AS authored_defaults_to_now
FROM (SELECT omnitask.create_task((t - 'authoredOn') || '{"for": {"reference": "Patient/pat-2"}}') r FROM base) s;
SELECT omnitask.create_task((t - 'restriction') || '{"for": {"reference": "Patient/pat-3"}, "priority": "stat", "executionPeriod": {"start": "2026-11-20", "end": "2026-11-30"}}') IS NOT NULL AS created FROM base;
SELECT due_at, priority FROM omnitask.task WHERE patient_id = 'pat-3';
SELECT omnitask.create_task((t - 'restriction') || '{"for": {"reference": "Patient/pat-4"}}') IS NOT NULL AS created FROM base;
SELECT due_at IS NULL AS no_due_date FROM omnitask.task WHERE patient_id = 'pat-4';

-- invalid tasks are refused with 23514, the FHIR path in the message and the OperationOutcome in the detail
SELECT pg_temp.try(format('SELECT omnitask.create_task(%L)', t || '{"status": "finished"}')) FROM base;
SELECT pg_temp.try(format('SELECT omnitask.create_task(%L)', (t - 'description') || '{"note": []}')) FROM base;
SELECT pg_temp.try(format('SELECT omnitask.create_task(%L)', t - 'for')) FROM base;
SELECT pg_temp.try(format('SELECT omnitask.create_task(%L)', t || '{"for": {"reference": "Group/g1"}}')) FROM base;
SELECT pg_temp.try(format('SELECT omnitask.create_task(%L)', t || '{"for": {"reference": "https://other.example/Patient/1"}}')) FROM base;
SELECT pg_temp.try(format('SELECT omnitask.create_task(%L)', t || '{"owner": {"reference": "Organization/o1"}}')) FROM base;
SELECT pg_temp.try(format('SELECT omnitask.create_task(%L)', t || '{"owner": {"display": "Somebody"}}')) FROM base;
SELECT pg_temp.try(format('SELECT omnitask.create_task(%L)', t || '{"authoredOn": "2999-01-01T00:00:00Z"}')) FROM base;
SELECT pg_temp.try(format('SELECT omnitask.create_task(%L)', (t - 'status') || '{"_status": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}}')) FROM base;
SELECT pg_temp.try('SELECT omnitask.create_task(''[1, 2]'')');
SELECT pg_temp.try('SELECT omnitask.create_task(''{"resourceType": "Task", oops}'')');
SELECT pg_temp.try('INSERT INTO omnitask.task (id) VALUES (''x'')');
-- the detail is a whole OperationOutcome
DO $$
DECLARE
	det text;
BEGIN
	PERFORM omnitask.create_task('{"resourceType": "Task", "status": "bogus", "intent": "order", "unknown": 1}');
EXCEPTION WHEN check_violation THEN
	GET STACKED DIAGNOSTICS det = PG_EXCEPTION_DETAIL;
	RAISE WARNING 'detail: %', det::jsonb;
END
$$;

--
-- plain SQL: INSERT, UPDATE and COPY go through the same rules
--
INSERT INTO omnitask.task (resource)
	SELECT t || '{"for": {"reference": "Patient/pat-sql"}, "description": "inserted by plain SQL"}' FROM base;
SELECT version_id, status, patient_id, resource ->> 'id' = id AS id_in_resource
FROM omnitask.task WHERE patient_id = 'pat-sql';
COPY omnitask.task (resource) FROM stdin;
{"resourceType": "Task", "status": "draft", "intent": "plan", "description": "copied in", "for": {"reference": "Patient/pat-copy"}}
\.
SELECT status, intent, priority, version_id FROM omnitask.task WHERE patient_id = 'pat-copy';
-- a bad row in COPY stops the whole COPY: nothing of it is stored
SELECT pg_temp.try($q$COPY omnitask.task (resource) FROM PROGRAM 'printf ''%s\n%s\n'' ''{"resourceType": "Task", "status": "draft", "intent": "plan", "description": "good", "for": {"reference": "Patient/pat-copy2"}}'' ''{"resourceType": "Task", "status": "draft", "intent": "plan", "description": "bad"}'''$q$);
SELECT count(*) AS stored_from_failed_copy FROM omnitask.task WHERE patient_id = 'pat-copy2';

-- derived columns cannot disagree with the resource: they are recomputed on every write
UPDATE omnitask.task SET status = 'completed', owner_id = 'someone-else', due_at = now(), version_id = 99
WHERE patient_id = 'pat-sql';
SELECT version_id, status, owner_id, due_at = '2026-12-01T17:00:00Z' AS due_kept, resource ->> 'status' AS resource_status
FROM omnitask.task WHERE patient_id = 'pat-sql';
-- the id cannot change
SELECT pg_temp.try($$UPDATE omnitask.task SET id = 'new-id' WHERE patient_id = 'pat-sql'$$);
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource || '{"id": "other"}' WHERE patient_id = 'pat-sql'$$);
-- immutable elements
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource || '{"intent": "plan"}' WHERE patient_id = 'pat-sql'$$);
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource || '{"authoredOn": "2026-11-21T09:00:00Z"}' WHERE patient_id = 'pat-sql'$$);
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource - 'authoredOn' WHERE patient_id = 'pat-sql'$$);
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource || '{"for": {"reference": "Patient/other"}}' WHERE patient_id = 'pat-sql'$$);
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource || '{"requester": {"reference": "Practitioner/pr-9"}}' WHERE patient_id = 'pat-sql'$$);
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource - 'requester' WHERE patient_id = 'pat-sql'$$);
-- the same instant written differently is not a change; neither is a new display
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource || '{"authoredOn": "2026-11-20T03:00:00-05:00", "for": {"reference": "Patient/pat-sql", "display": "J. Doe"}}' WHERE patient_id = 'pat-sql'$$);
-- nothing may be deleted
SELECT pg_temp.try($$DELETE FROM omnitask.task WHERE patient_id = 'pat-sql'$$);
SELECT pg_temp.try('TRUNCATE omnitask.task');
SELECT pg_temp.try('DELETE FROM omnitask.task_history');
SELECT pg_temp.try('UPDATE omnitask.task_history SET operation = ''create''');
SELECT count(*) AS still_there FROM omnitask.task WHERE patient_id = 'pat-sql';

--
-- read_task, update_task, task_history
--
SELECT omnitask.read_task(r ->> 'id') = r AS read_back FROM created;
SELECT pg_temp.try($$SELECT omnitask.read_task('no-such-task')$$);
SELECT pg_temp.try(format('SELECT omnitask.read_task(%L)', repeat('x', 5000)));
SELECT omnitask.read_task(NULL) IS NULL AS null_for_null;

-- full replacement: an element left out is removed
SELECT s -> 'meta' ->> 'versionId' AS version, s ? 'restriction' AS has_restriction, s ->> 'description' AS description
FROM (SELECT omnitask.update_task(r ->> 'id',
		(r - 'restriction') || '{"description": "Reconcile medications (updated)"}') AS s FROM created) u;
SELECT version_id, due_at IS NULL AS due_removed, description FROM omnitask.task WHERE id = (SELECT r ->> 'id' FROM created);
-- if_match: the expected version
SELECT omnitask.update_task(r ->> 'id', omnitask.read_task(r ->> 'id') || '{"priority": "urgent"}', 2) -> 'meta' ->> 'versionId' AS version
FROM created;
SELECT replace(pg_temp.try(format('SELECT omnitask.update_task(%L, %L, 2)', r ->> 'id', r)), r ->> 'id', '<id>') FROM created;
SELECT pg_temp.try(format('SELECT omnitask.update_task(%L, %L)', 'no-such-task', r)) FROM created;
SELECT pg_temp.try(format('SELECT omnitask.update_task(%L, %L)', r ->> 'id', r || '{"status": "??"}')) FROM created;

-- the history: every version, newest first, append-only
SELECT h ->> 'type' AS type, h ->> 'total' AS total,
	   (SELECT array_agg(e -> 'resource' -> 'meta' ->> 'versionId') FROM jsonb_array_elements(h -> 'entry') e) AS versions,
	   (SELECT array_agg(e -> 'request' ->> 'method') FROM jsonb_array_elements(h -> 'entry') e) AS methods,
	   h -> 'entry' -> 0 -> 'resource' = omnitask.read_task(r ->> 'id') AS newest_is_current
FROM created, omnitask.task_history(r ->> 'id') h;
SELECT version_id, operation, status, recorded_by = current_user AS by_me,
	   recorded_at = (resource -> 'meta' ->> 'lastUpdated')::timestamptz AS at_last_updated
FROM omnitask.task_history WHERE id = (SELECT r ->> 'id' FROM created) ORDER BY version_id;
SELECT pg_temp.try($$SELECT omnitask.task_history('no-such-task')$$);

--
-- import_task: keeps the id, any status, recorded as import; admin only
--
\set ex5 `cat test/fixtures/Task-example5.json`
SELECT i ->> 'id' AS id, i ->> 'status' AS status, i -> 'meta' ->> 'versionId' AS version,
	   i ->> 'lastModified' = '2016-10-31T16:45:05+10:00' AS last_modified_kept
FROM (SELECT omnitask.import_task(:'ex5'::jsonb || '{"description": "Lipid panel", "for": {"reference": "Patient/example"}, "owner": {"reference": "Practitioner/example"}}') AS i) s;
SELECT operation, version_id, status FROM omnitask.task_history WHERE id = 'example5';
SELECT pg_temp.try(format('SELECT omnitask.import_task(%L)', :'ex5'::jsonb || '{"description": "again", "for": {"reference": "Patient/example"}, "owner": {"reference": "Practitioner/example"}}'));
SELECT pg_temp.try(format('SELECT omnitask.import_task(%L)', t)) FROM base;
CREATE ROLE omnitask_test_practitioner_import NOLOGIN IN ROLE omnitask_practitioner;
SET ROLE omnitask_test_practitioner_import;
SELECT pg_temp.try($$SELECT omnitask.import_task('{"resourceType": "Task", "id": "imp-1", "status": "completed", "intent": "order", "description": "x", "for": {"reference": "Patient/p"}}')$$);
RESET ROLE;
SELECT count(*) AS imported_by_practitioner FROM omnitask.task WHERE id = 'imp-1';
DROP ROLE omnitask_test_practitioner_import;

-- the enum types carry exactly the codes of the R4 value sets
SELECT enum_range(NULL::omnitask.task_status);
SELECT enum_range(NULL::omnitask.task_intent);
SELECT enum_range(NULL::omnitask.task_priority), 'stat'::omnitask.task_priority > 'asap' AS stat_above_asap;
