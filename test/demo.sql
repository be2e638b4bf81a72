-- omnitask: the main job, run by `bash test/omnitask.sh demo` after the sample data is loaded.
-- Shows validation accepting and rejecting Tasks, then the same clinic seen as an admin,
-- as a practitioner and as an auditor, each scoped by the database itself.
\set QUIET on
\pset footer off
SET client_min_messages = warning;
SET timezone = 'UTC';
-- read audit on for the demo database (new sessions) and this session (see section 6)
ALTER DATABASE omnitask_demo SET omnitask.audit = 'table';
SET omnitask.audit = 'table';

-- a request, with the error it got (if any): SQLSTATE, message, hint
CREATE FUNCTION pg_temp.attempt(what text, stmt text) RETURNS TABLE (request text, outcome text)
LANGUAGE plpgsql AS
$$
DECLARE
	st text;
	msg text;
	hint text;
BEGIN
	EXECUTE stmt;
	RETURN QUERY SELECT what, 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
	RETURN QUERY SELECT what, st || ' ' || msg || coalesce(E'\n      hint: ' || nullif(hint, ''), '');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.attempt(text, text) TO PUBLIC;

\echo
\echo '== 1. Validation: omnitask.validate_task() checks base FHIR R4 Task and lists every problem'
\set ex5 `cat test/fixtures/Task-example5.json`
SELECT 'official R4 Task-example5' AS document,
	   omnitask.validate_task(:'ex5') -> 'issue' -> 0 ->> 'diagnostics' AS verdict;
SELECT i ->> 'code' AS code, i -> 'expression' ->> 0 AS "where", i ->> 'diagnostics' AS problem
FROM jsonb_array_elements(omnitask.validate_task('{
	"resourceType": "Task", "status": "finished", "intent": "order",
	"authoredOn": "2026-02-30T09:00:00Z", "priority": "",
	"executionPeriod": {"start": "2026-11-20T10:00:00+01:00", "end": "2026-11-20T08:00:00Z"},
	"input": [{"type": {"text": "lab"}, "valueQuantity": {"value": 5.9, "comparator": "=="}}],
	"note": [], "nickname": "x"}') -> 'issue') AS i;

\echo
\echo '== 2. Storing: the trigger refuses invalid Tasks with SQLSTATE 23514 (FHIR path in the message)'
SELECT * FROM pg_temp.attempt('create a Task without a patient',
	$$SELECT omnitask.create_task('{"resourceType": "Task", "status": "requested", "intent": "order", "description": "Call the patient"}')$$);
SELECT * FROM pg_temp.attempt('create a Task with a bad date',
	$$SELECT omnitask.create_task('{"resourceType": "Task", "status": "requested", "intent": "order", "description": "x", "for": {"reference": "Patient/pat-00001"}, "authoredOn": "2026-13-01"}')$$);

-- login roles for the three app roles (the sample registry names pract_0001 ... as practitioners)
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_admin') THEN
		CREATE ROLE demo_admin LOGIN IN ROLE omnitask_admin;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_auditor') THEN
		CREATE ROLE demo_auditor LOGIN IN ROLE omnitask_auditor;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pract_0001') THEN
		CREATE ROLE pract_0001 LOGIN IN ROLE omnitask_practitioner;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pract_0002') THEN
		CREATE ROLE pract_0002 LOGIN IN ROLE omnitask_practitioner;
	END IF;
END
$$;

\echo
\echo '== 3. As admin (demo_admin): the whole clinic'
SET ROLE demo_admin;
SELECT count(*) AS visible_tasks FROM omnitask.tasks;
SELECT status, sum(n) AS tasks FROM omnitask.task_counts GROUP BY status ORDER BY status;
SELECT owner_id, display, open, overdue, stat, asap, urgent, routine
FROM omnitask.workload ORDER BY open DESC, owner_id NULLS FIRST LIMIT 8;
SELECT left(id, 9) AS id, priority, owner_id, due_at::date AS due, left(description, 60) AS description
FROM omnitask.overdue_tasks LIMIT 5;
SELECT * FROM pg_temp.attempt('admin assigns a new stat task to pr-0002',
	$$SELECT omnitask.create_task('{"resourceType": "Task", "status": "requested", "intent": "order", "priority": "stat",
		"description": "Follow up critical potassium 6.2 mmol/L today",
		"code": {"coding": [{"system": "https://omnitask.dev/fhir/CodeSystem/care-task-category", "code": "lab-follow-up"}]},
		"for": {"reference": "Patient/pat-00001"}, "owner": {"reference": "Practitioner/pr-0002"}}')$$);
RESET ROLE;

\echo
\echo '== 4. As practitioner pract_0001 (Practitioner/pr-0001): only their own tasks'
SET ROLE pract_0001;
SELECT omnitask.current_practitioner_id() AS i_am, count(*) AS visible_tasks,
	   count(*) FILTER (WHERE owner_id <> 'pr-0001') AS of_others
FROM omnitask.tasks;
SELECT left(id, 9) AS id, status, priority, due_at::date AS due, left(description, 60) AS description
FROM omnitask.tasks WHERE is_open ORDER BY priority DESC, due_at NULLS LAST LIMIT 8;
SELECT e -> 'resource' ->> 'status' AS status, e -> 'resource' ->> 'priority' AS priority,
	   left(e -> 'resource' ->> 'description', 60) AS description
FROM jsonb_array_elements(omnitask.search_tasks(status => 'requested,received', _count => 3) -> 'entry') e;
-- accept, start and complete the most urgent requested task
SELECT id AS my_task FROM omnitask.task WHERE status = 'requested' ORDER BY priority DESC, due_at NULLS LAST, id LIMIT 1 \gset
SELECT omnitask.set_task_status(:'my_task', 'accepted') ->> 'status' AS now_status;
SELECT omnitask.set_task_status(:'my_task', 'in-progress') ->> 'status' AS now_status;
SELECT omnitask.set_task_status(:'my_task', 'completed') ->> 'status' AS now_status;
SELECT from_status, to_status, changed_by FROM omnitask.status_changes WHERE id = :'my_task' ORDER BY version_id;
SELECT * FROM pg_temp.attempt('reopen the completed task',
	format('SELECT omnitask.set_task_status(%L, %L)', :'my_task', 'in-progress'));
SELECT * FROM pg_temp.attempt('create a task for a colleague',
	$$SELECT omnitask.create_task('{"resourceType": "Task", "status": "requested", "intent": "order", "description": "x",
		"for": {"reference": "Patient/pat-00001"}, "owner": {"reference": "Practitioner/pr-0002"}}')$$);
RESET ROLE;
SELECT id AS colleagues_task FROM omnitask.task WHERE owner_id = 'pr-0002' AND id LIKE 't-%' ORDER BY id LIMIT 1 \gset
SET ROLE pract_0001;
SELECT * FROM pg_temp.attempt('read a colleague''s task', format('SELECT omnitask.read_task(%L)', :'colleagues_task'));
SELECT * FROM pg_temp.attempt('read a task that does not exist', $$SELECT omnitask.read_task('no-such-task')$$);
RESET ROLE;

\echo
\echo '== 5. As auditor (demo_auditor): reads everything, writes nothing'
SET ROLE demo_auditor;
SELECT count(*) AS visible_tasks, count(DISTINCT owner_id) AS owners FROM omnitask.tasks;
SELECT priority, category, accepted, accept_median, completed, complete_median
FROM omnitask.turnaround WHERE category IS NOT NULL ORDER BY priority DESC, category LIMIT 6;
SELECT * FROM pg_temp.attempt('auditor cancels a task',
	format('SELECT omnitask.set_task_status(%L, %L, %L)', :'colleagues_task', 'cancelled', 'audit'));
SELECT * FROM pg_temp.attempt('auditor updates the table directly',
	$$UPDATE omnitask.task SET resource = resource WHERE true$$);
RESET ROLE;

\echo
\echo '== 6. Read audit: every read above left a record (omnitask.audit = table; the practitioner cannot see or change it)'
-- the audit writer inserts within a few milliseconds; wait until the queue is empty
DO $$
BEGIN
	FOR i IN 1 .. 100 LOOP
		EXIT WHEN coalesce((SELECT pending_bytes FROM omnitask.audit_stats()), 0) = 0;
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SET ROLE pract_0001;
SELECT * FROM pg_temp.attempt('practitioner reads the access log', $$SELECT count(*) FROM omnitask.audit_log$$);
SELECT * FROM pg_temp.attempt('practitioner switches auditing off', $$SET omnitask.audit = off$$);
RESET ROLE;
SET ROLE demo_auditor;
SELECT acting_role AS who, action, outcome, count(*) AS reads, sum(row_count) AS rows,
	   sum(cardinality(patient_ids)) AS patients_seen
FROM omnitask.audit_log GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT resource -> 'subtype' -> 0 ->> 'code' AS subtype, resource -> 'agent' -> 0 -> 'who' AS agent,
	   jsonb_path_query_array(resource, '$.entity[*].what.reference') AS entities
FROM omnitask.audit_events WHERE cardinality(patient_ids) > 0 ORDER BY event_id LIMIT 1;
RESET ROLE;
