--
-- write_path: the history appended set-based, from the statement's
-- transition table: one identical row per stored version, for multi-row
-- INSERT ... SELECT and UPDATE, single rows, savepoints and nested writers.
-- Runs in a transaction that is rolled back (later scripts count tasks).
--
SET client_min_messages = warning;
SET timezone = 'UTC';
BEGIN;

CREATE TEMP TABLE wp_docs AS
SELECT i, jsonb_build_object('resourceType', 'Task', 'status', 'requested', 'intent', 'order',
		'description', 'wp ' || i, 'for', jsonb_build_object('reference', 'Patient/wp-' || i)) AS doc
FROM generate_series(1, 40) AS i;

-- every version and its history row, as the history should hold it
CREATE TEMP VIEW wp_check AS
SELECT count(*) AS versions, count(h.id) AS with_history,
	   count(*) FILTER (WHERE h.resource = t.resource AND h.status = t.status
						AND h.owner_id IS NOT DISTINCT FROM t.owner_id
						AND h.recorded_at = t.last_updated AND h.recorded_by IN (current_user, 'wp_admin')
						AND h.practitioner_id IS NULL) AS identical,
	   string_agg(DISTINCT h.operation, ',') AS operations
FROM omnitask.task t
LEFT JOIN omnitask.task_history h USING (id, version_id)
WHERE t.description LIKE 'wp %';

-- a multi-row INSERT ... SELECT: one history row per task, none twice
INSERT INTO omnitask.task (resource) SELECT doc FROM wp_docs ORDER BY i;
SELECT * FROM wp_check;
SELECT count(*) AS history_rows, count(DISTINCT (id, version_id)) AS distinct_versions
FROM omnitask.task_history h WHERE h.resource->>'description' LIKE 'wp %';

-- a multi-row UPDATE: version 2 of each, recorded as update
UPDATE omnitask.task SET resource = jsonb_set(resource, '{description}', to_jsonb(description || ' v2'))
WHERE description LIKE 'wp %';
SELECT * FROM wp_check;
SELECT version_id, operation, count(*) FROM omnitask.task_history
WHERE resource->>'description' LIKE 'wp %' GROUP BY 1, 2 ORDER BY 1;

-- an UPDATE that matches no row appends nothing
UPDATE omnitask.task SET resource = resource WHERE description = 'no such task';
SELECT count(*) AS history_rows FROM omnitask.task_history WHERE resource->>'description' LIKE 'wp %';

-- a statement refused half-way leaves nothing; the next one after the
-- savepoint is appended in full
SAVEPOINT s1;
INSERT INTO omnitask.task (resource)
SELECT CASE WHEN i = 2 THEN doc || '{"status": "bogus"}' ELSE doc END FROM wp_docs WHERE i <= 3;
ROLLBACK TO s1;
INSERT INTO omnitask.task (resource) SELECT doc || '{"description": "wp again"}' FROM wp_docs WHERE i <= 3;
SELECT * FROM wp_check;

-- statements nested in another's trigger events: each appends its own rows
-- once (a user's AFTER trigger that writes tasks while the outer
-- statement's row events fire)
CREATE FUNCTION pg_temp.wp_echo() RETURNS trigger LANGUAGE plpgsql AS
$$
BEGIN
	IF NEW.description LIKE 'wp nested %' THEN
		INSERT INTO omnitask.task (resource)
		SELECT NEW.resource - 'id' - 'meta' - 'lastModified' || jsonb_build_object('description', 'wp echo ' || k)
		FROM generate_series(1, 2) AS k;
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER wp_echo AFTER INSERT ON omnitask.task FOR EACH ROW EXECUTE FUNCTION pg_temp.wp_echo();
INSERT INTO omnitask.task (resource) SELECT doc || jsonb_build_object('description', 'wp nested ' || i) FROM wp_docs WHERE i <= 3;
DROP TRIGGER wp_echo ON omnitask.task;
SELECT * FROM wp_check;
SELECT count(*) FILTER (WHERE description LIKE 'wp echo %') AS echoes,
	   count(*) FILTER (WHERE description LIKE 'wp nested %') AS nested
FROM omnitask.task WHERE description LIKE 'wp %';

-- an INSERT ... RETURNING stopped after its first row (SPI with a row
-- limit, as import_task() runs it): the row stored still has its history
SELECT omnitask.import_task('{"resourceType": "Task", "id": "wp-import", "status": "completed", "intent": "order",
	"description": "wp imported", "for": {"reference": "Patient/wp-1"}}') ->> 'id' AS imported;
SELECT * FROM wp_check;

-- the admin's bulk path under row-level security: COPY into omnitask.task
-- is refused to every non-superuser (PostgreSQL: COPY FROM not supported
-- with row-level security); COPY into a staging table the caller owns,
-- then one INSERT ... SELECT, stores and validates every row
CREATE ROLE wp_admin IN ROLE omnitask_admin;
GRANT CREATE ON SCHEMA public TO wp_admin;
SET ROLE wp_admin;
SAVEPOINT s2;
COPY omnitask.task (resource) FROM stdin;
{"resourceType": "Task", "status": "requested", "intent": "order", "description": "wp copied", "for": {"reference": "Patient/wp-1"}}
\.
ROLLBACK TO s2;
CREATE TABLE public.wp_staging (line int GENERATED ALWAYS AS IDENTITY, doc jsonb);
-- NDJSON as it comes (JSON escapes kept): CSV with quote and delimiter
-- characters that JSON text never holds unescaped
COPY public.wp_staging (doc) FROM stdin WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02');
{"resourceType": "Task", "status": "requested", "intent": "order", "description": "wp staged 1 \"quoted\"\ttab", "for": {"reference": "Patient/wp-1"}}
{"resourceType": "Task", "status": "requested", "intent": "order", "description": "wp staged 2", "for": {"reference": "Patient/wp-2"}}
\.
INSERT INTO omnitask.task (resource) SELECT doc FROM public.wp_staging ORDER BY line;
RESET ROLE;
SELECT * FROM wp_check;
SELECT description, h.recorded_by, h.operation FROM omnitask.task t JOIN omnitask.task_history h USING (id, version_id)
WHERE description LIKE 'wp staged %' ORDER BY description;

-- migration: import_tasks() from NDJSON keeps ids, statuses and times, stores
-- every valid Task in input order and reports every bad line (line number,
-- id, SQLSTATE, FHIRPath, message); blank lines are skipped
SELECT * FROM omnitask.import_tasks(
$n${"resourceType": "Task", "id": "wp-m1", "status": "completed", "intent": "order", "description": "wp m1", "for": {"reference": "Patient/wp-1"}, "lastModified": "2020-01-02T03:04:05Z"}
{"resourceType": "Task", "id": "wp-m2", "status": "bogus", "intent": "order", "for": {"reference": "Patient/wp-1"}}
this is not JSON

{"resourceType": "Task", "id": "wp-m1", "status": "completed", "intent": "order", "description": "wp m1 again", "for": {"reference": "Patient/wp-1"}}
{"resourceType": "Task", "status": "completed", "intent": "order", "description": "wp no id", "for": {"reference": "Patient/wp-1"}}
{"resourceType": "Task", "id": "wp-m3", "status": "in-progress", "intent": "order", "description": "wp m3", "for": {"reference": "Patient/wp-2"}, "lastModified": "2021-05-06T07:08:09+02:00"}
$n$);
SELECT id, t.status, t.last_modified, h.operation
FROM omnitask.task t JOIN omnitask.task_history h USING (id, version_id)
WHERE id LIKE 'wp-m%' ORDER BY h.xid, t.last_updated;
-- the progress line is the backend's application_name while it runs; restored after
SELECT current_setting('application_name') = 'pg_regress/write_path' AS name_restored,
	   omnitask.import_progress_text(2000, 3, clock_timestamp()) ~ '^omnitask import: 2000 done, 3 errors, [0-9]+/s$' AS progress_format,
	   (SELECT count(*) FROM omnitask.import_progress) AS running;

-- a JSON array and a Bundle: the item is the position, from 1
SELECT * FROM omnitask.import_tasks($j$[
	{"resourceType": "Task", "id": "wp-a1", "status": "requested", "intent": "order", "description": "wp a1", "for": {"reference": "Patient/wp-1"}},
	{"resourceType": "Task", "id": "wp-a2", "status": "requested", "intent": "order", "for": {"reference": "Patient/wp-1"}}
]$j$);
SELECT * FROM omnitask.import_tasks($j${"resourceType": "Bundle", "type": "collection", "entry": [
	{"resource": {"resourceType": "Task", "id": "wp-b1", "status": "requested", "intent": "order", "for": {"reference": "Patient/wp-1"}}},
	{"resource": {"resourceType": "Task", "id": "wp-b2", "status": "requested", "intent": "order", "description": "wp b2", "for": {"reference": "Patient/wp-1"}}}
]}$j$);
SELECT string_agg(id, ',' ORDER BY id) AS imported FROM omnitask.task WHERE id ~ '^wp-[ab]';

-- only admins import: a practitioner's call stops at once, nothing stored
CREATE ROLE wp_pract IN ROLE omnitask_practitioner;
SET ROLE wp_pract;
SAVEPOINT s3;
SELECT * FROM omnitask.import_tasks('{"resourceType": "Task", "id": "wp-p1", "status": "requested", "intent": "order", "description": "x", "for": {"reference": "Patient/wp-1"}}');
ROLLBACK TO s3;
RESET ROLE;

ROLLBACK;
