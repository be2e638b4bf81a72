--
-- audit: the read audit (omnitask.audit = table) in one session.
--
-- Every read path records one event with the ids it returned, kept when
-- the reading transaction rolls back (and in a READ ONLY transaction); a
-- practitioner cannot read the log or switch the audit off; the log refuses
-- changes.  Needs omnitask in shared_preload_libraries
-- (the test and valgrind clusters have it).  Rows of this test: request id
-- reg-audit-1, patient aud-pat, practitioner aud-p1.
--
SET client_min_messages = warning;
SET timezone = 'UTC';
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'audit_p1') THEN
		CREATE ROLE audit_p1 LOGIN IN ROLE omnitask_practitioner;
	END IF;
END
$$;
SELECT omnitask.register_practitioner('audit_p1', 'aud-p1');

-- the task exists only inside this transaction: the records outlive it
SET omnitask.audit = 'table';
BEGIN;
SELECT omnitask.create_task('{"resourceType": "Task", "status": "requested", "intent": "order",
	"description": "audit regress", "for": {"reference": "Patient/aud-pat"},
	"owner": {"reference": "Practitioner/aud-p1"}}') ->> 'id' AS t1 \gset
SET SESSION AUTHORIZATION audit_p1;
SET request.headers = '{"x-request-id": "reg-audit-1"}';
SELECT omnitask.read_task(:'t1') ->> 'description' AS read_task;
SELECT omnitask.search_tasks(patient => 'aud-pat') -> 'total' AS search_total;
SELECT omnitask.task_history(:'t1') -> 'total' AS history_total;
SELECT count(*) FROM omnitask.tasks WHERE patient_id = 'aud-pat';
SELECT description FROM omnitask.task WHERE patient_id = 'aud-pat';
SELECT omnitask.audit_read('vread', ARRAY[:'t1'], ARRAY['aud-pat'], '_history=1');
ROLLBACK;
SET SESSION AUTHORIZATION audit_p1;
SET request.headers = '{"x-request-id": "reg-audit-1"}';
BEGIN READ ONLY;
SELECT omnitask.read_task('aud-missing');
ROLLBACK;
SELECT omnitask.audit_read('bogus');
SELECT omnitask.audit_read(NULL);
-- 0.6: with an outcome (what the FHIR layer records for a task it did not find)
SELECT omnitask.audit_read('read', NULL, NULL, 'id=aud-gone', 'not-found');
SELECT omnitask.audit_read('read', NULL, NULL, 'id=aud-gone', 'maybe');
SELECT count(*) FROM omnitask.audit_log;
SELECT omnitask.audit_stats();
SET omnitask.audit = off;
RESET SESSION AUTHORIZATION;

-- the writer inserts within milliseconds; wait until the queue is empty
DO $$
BEGIN
	FOR i IN 1 .. 400 LOOP
		EXIT WHEN (SELECT pending_bytes FROM omnitask.audit_stats()) = 0;
		PERFORM pg_catalog.pg_sleep(0.05);
	END LOOP;
END
$$;
SELECT action, outcome, row_count, cardinality(task_ids) AS tasks, patient_ids, acting_role,
	   practitioner_id, relations, query ~ 'aud-pat|_history|status|description|count' AS query_kept
FROM omnitask.audit_log WHERE request_id = 'reg-audit-1' ORDER BY event_id;
SELECT a.action, e.resource -> 'subtype' -> 0 ->> 'code' AS subtype, e.resource ->> 'action' AS ae_action,
	   e.resource ->> 'outcome' AS outcome,
	   jsonb_path_query_array(e.resource, '$.entity[*].what.reference ? (@ starts with "Patient/")') AS patients
FROM omnitask.audit_events e JOIN omnitask.audit_log a USING (event_id)
WHERE a.request_id = 'reg-audit-1' ORDER BY event_id;
UPDATE omnitask.audit_log SET outcome = 'changed' WHERE request_id = 'reg-audit-1';
DELETE FROM omnitask.audit_log WHERE request_id = 'reg-audit-1';
SET omnitask.audit = off;
