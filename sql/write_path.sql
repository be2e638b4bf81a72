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
-- toast_tuple_target = 8160: a staged document is read once, so it is not worth compressing
-- (README Bulk writes: 0.87M instructions a row where it would be 0.96M with pglz)
CREATE TABLE public.wp_staging (line int GENERATED ALWAYS AS IDENTITY, doc jsonb) WITH (toast_tuple_target = 8160);
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

-- 250 Tasks with an invalid one on line 180: import_tasks() stores 100 at a
-- time with one statement; the chunk holding line 180 is stored again one
-- Task at a time; every good Task is kept, in input order
SELECT * FROM omnitask.import_tasks((SELECT string_agg(CASE WHEN i = 180
	THEN '{"resourceType": "Task", "id": "wp-c180", "status": "requested", "intent": "order", "for": {"reference": "Patient/wp-1"}}'
	ELSE jsonb_build_object('resourceType', 'Task', 'id', 'wp-c' || i, 'status', 'in-progress', 'intent', 'order',
							'description', 'wp c' || i, 'for', jsonb_build_object('reference', 'Patient/wp-1'))::text END,
	E'\n' ORDER BY i) FROM generate_series(1, 250) AS i));
SELECT count(*) AS stored, min(substr(id, 5)::int) AS first, max(substr(id, 5)::int) AS last,
	   count(*) FILTER (WHERE last_updated < previous) AS out_of_order,
	   string_agg(DISTINCT h.operation, ',') AS operations
FROM (SELECT t.id, t.last_updated, lag(t.last_updated) OVER (ORDER BY substr(t.id, 5)::int) AS previous
	  FROM omnitask.task t WHERE t.id ~ '^wp-c[0-9]+$') s
JOIN omnitask.task_history h USING (id);

-- feed_position(), the default of task_history.xid: this transaction's
-- xid plus omnitask.feed_shift.shift (as the SQL function it replaces), the
-- caller's SELECT on feed_shift needed, NULL without a row
SAVEPOINT s_feed;
SELECT omnitask.feed_position() = pg_current_xact_id() AS unshifted;
UPDATE omnitask.feed_shift SET shift = 4294967296;
SELECT omnitask.feed_position() = (pg_current_xact_id()::text::numeric + 4294967296)::text::xid8 AS shifted;
SELECT omnitask.create_task('{"resourceType": "Task", "status": "requested", "intent": "order", "description": "wp shifted", "for": {"reference": "Patient/wp-1"}}') IS NOT NULL AS created;
SELECT h.xid = omnitask.feed_position() AS history_at_position
FROM omnitask.task t JOIN omnitask.task_history h USING (id, version_id) WHERE t.description = 'wp shifted';
DELETE FROM omnitask.feed_shift;
SELECT omnitask.feed_position() IS NULL AS no_row;
ROLLBACK TO s_feed;
CREATE ROLE wp_nosel;
GRANT USAGE ON SCHEMA omnitask TO wp_nosel;
GRANT EXECUTE ON FUNCTION omnitask.feed_position() TO wp_nosel;
SET ROLE wp_nosel;
SAVEPOINT s_feed2;
SELECT omnitask.feed_position();
ROLLBACK TO s_feed2;
RESET ROLE;

-- import_lines(): how import_tasks() reads NDJSON -- the non-blank lines
-- (a line of spaces, tabs and "\r" is blank; a "\r" before "\n" is kept),
-- numbered from 1, size at a time, in order; with or without a final "\n"
SELECT l.items, l.lines FROM omnitask.import_lines(E'a\r\n\r\n \t\nb\n{"c": 1}\nd\ne', 2) AS l;
SELECT l.items, l.lines FROM omnitask.import_lines(E'\n\na\n', 100) AS l;
SELECT count(*) AS no_chunks FROM omnitask.import_lines(E' \n\r\n', 100);
SAVEPOINT s_lines;
SELECT * FROM omnitask.import_lines('a', 0);
ROLLBACK TO s_lines;
-- a size beyond the input allocates for the lines there are
SELECT l.items, l.lines FROM omnitask.import_lines(E'a\nb', 2147483647) AS l;
-- CRLF NDJSON: the same items and line numbers as LF
SELECT * FROM omnitask.import_tasks(E'{"resourceType": "Task", "id": "wp-r1", "status": "requested", "intent": "order", "description": "wp r1", "for": {"reference": "Patient/wp-1"}}\r\n\r\n{"resourceType": "Task", "id": "wp-r2", "status": "nope", "intent": "order", "for": {"reference": "Patient/wp-1"}}\r\n');
SELECT id FROM omnitask.task WHERE id LIKE 'wp-r%' ORDER BY id;

-- only admins import: a practitioner's call stops at once, nothing stored
CREATE ROLE wp_pract IN ROLE omnitask_practitioner;
SET ROLE wp_pract;
SAVEPOINT s3;
SELECT * FROM omnitask.import_tasks('{"resourceType": "Task", "id": "wp-p1", "status": "requested", "intent": "order", "description": "x", "for": {"reference": "Patient/wp-1"}}');
ROLLBACK TO s3;
RESET ROLE;


--
-- Targeted edits validate what they change: an update leaves out of the
-- validation each root element stored as the same bytes as in the stored
-- version when its validity depends on its own subtree only (narrative,
-- identifier, note, input, businessStatus ...; src/task_trigger.c).
-- Assumption: the stored version passed this validator (every write goes
-- through the trigger).  Each edit below is made on two copies of one Task,
-- once so and once with omnitask.revalidate_unchanged = on (everything
-- validated): the stored versions are identical but for id and times, and
-- full validation (verify()) finds nothing wrong with either.
--
CREATE TEMP TABLE wp_rich AS SELECT '{"resourceType": "Task", "status": "requested", "intent": "order",
	"description": "wp rich", "for": {"reference": "Patient/wp-r"},
	"text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Draw <b>blood</b></p></div>"},
	"identifier": [{"system": "urn:wp", "value": "r-1"}], "note": [{"text": "first"}],
	"input": [{"type": {"text": "volume"}, "valueDecimal": 1.50}, {"type": {"text": "when"}, "valueDateTime": "2026-03-01"}],
	"businessStatus": {"text": "waiting"}, "authoredOn": "2026-03-01T09:00:00Z",
	"executionPeriod": {"start": "2026-03-01T09:00:00Z"}}'::jsonb AS doc;
SELECT count(omnitask.import_task(doc || jsonb_build_object('id', id, 'identifier',
		jsonb_build_array(jsonb_build_object('system', 'urn:wp', 'value', id)))))
FROM wp_rich, (VALUES ('wp-f-fast'), ('wp-f-full')) AS v(id);
CREATE FUNCTION pg_temp.wp_edits(task text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
	RETURN NEXT omnitask.set_task_status(task, 'accepted') ->> 'status';
	RETURN NEXT omnitask.set_task_business_status(task, 'sample taken') #>> '{businessStatus,text}';
	RETURN NEXT omnitask.set_task_due(task, '2030-01-01 17:00+00') #>> '{restriction,period,end}';
	RETURN NEXT jsonb_array_length(omnitask.add_task_note(task, 'second') -> 'note')::text;
	RETURN NEXT omnitask.set_task_status(task, 'in-progress') ->> 'status';
	RETURN NEXT omnitask.set_task_status(task, 'on-hold', 'lab closed') #>> '{statusReason,text}';
	RETURN NEXT omnitask.set_task_business_status(task, NULL) ? 'businessStatus';
	RETURN NEXT omnitask.set_task_status(task, 'in-progress') ? 'statusReason';
	RETURN NEXT (SELECT resource ->> 'status' FROM omnitask.update_task(task,
		omnitask.read_task(task) || '{"priority": "urgent"}') AS r(resource));
	RETURN NEXT omnitask.set_task_status(task, 'completed') ->> 'status';
	RETURN NEXT jsonb_array_length(omnitask.add_task_note(task, 'filed') -> 'note')::text;
END $$;
SELECT string_agg(e, ', ') AS fast_edits FROM pg_temp.wp_edits('wp-f-fast') AS e;
SET omnitask.revalidate_unchanged = on;
SELECT string_agg(e, ', ') AS full_edits FROM pg_temp.wp_edits('wp-f-full') AS e;
RESET omnitask.revalidate_unchanged;
CREATE FUNCTION pg_temp.wp_content(r jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT (r - 'id' - 'meta' - 'lastModified' - 'identifier'
			|| jsonb_build_object('note', (SELECT jsonb_agg(n - 'time') FROM jsonb_array_elements(r -> 'note') n)))::text $$;
SELECT f.version_id, pg_temp.wp_content(f.resource) = pg_temp.wp_content(u.resource) AS same_content,
	   f.resource -> 'input' AS input_as_written, f.resource -> 'text' = u.resource -> 'text' AS same_narrative
FROM omnitask.task f, omnitask.task u WHERE f.id = 'wp-f-fast' AND u.id = 'wp-f-full';
SELECT count(*) AS problems FROM omnitask.verify() WHERE task_id LIKE 'wp-f-%';
SELECT h.version_id, count(*) AS copies, bool_and(omnitask.validate_task(h.resource) -> 'issue' -> 0 ->> 'code' = 'informational') AS all_valid
FROM omnitask.task_history h WHERE h.id LIKE 'wp-f-%' GROUP BY h.version_id ORDER BY h.version_id;
-- a changed narrative is validated: refused as on create
SAVEPOINT s4;
SELECT omnitask.update_task('wp-f-fast', jsonb_set(omnitask.read_task('wp-f-fast'), '{text,div}', '"<p>no namespace</p>"'));
ROLLBACK TO s4;
-- the assumption made visible: a stored narrative broken behind the
-- triggers' back (a superuser's session_replication_role = replica) is not
-- checked again by a status change that leaves it alone; verify() finds it,
-- and with omnitask.revalidate_unchanged = on the change is refused
SELECT omnitask.import_task(doc || '{"id": "wp-f-stale"}') IS NOT NULL AS imported FROM wp_rich;
SET session_replication_role = replica;
UPDATE omnitask.task SET resource = jsonb_set(resource, '{text,div}', '"<p>no namespace</p>"') WHERE id = 'wp-f-stale';
SET session_replication_role = DEFAULT;
SELECT task_id, problem FROM omnitask.verify() WHERE task_id = 'wp-f-stale';
SAVEPOINT s5;
SET LOCAL omnitask.revalidate_unchanged = on;
SELECT omnitask.set_task_status('wp-f-stale', 'accepted');
ROLLBACK TO s5;
SELECT omnitask.set_task_status('wp-f-stale', 'accepted') ->> 'status' AS changed_without_revalidating;
-- a stored version that is compressed is read only when what it saves is
-- worth its decompression: a large narrative is (the broken one is kept),
-- a large note array is not (update_task: the Task is validated whole,
-- refused) -- unless it is expanded already: a status change's edit
-- (task_with_status) read it, so the notes are left as stored (accepted)
SELECT count(omnitask.import_task(doc || jsonb_build_object('id', id) || extra))
FROM wp_rich, (VALUES
	('wp-f-bigtext', jsonb_build_object('text', jsonb_build_object('status', 'generated',
		'div', '<div xmlns="http://www.w3.org/1999/xhtml">' || repeat('<p>Draw <b>blood</b> at 9.</p>', 200) || '</div>'))),
	('wp-f-bignote', jsonb_build_object('note', (SELECT jsonb_agg(jsonb_build_object('text', 'note ' || i)) FROM generate_series(1, 400) i)))
	) AS v(id, extra);
SET session_replication_role = replica;
UPDATE omnitask.task SET resource = jsonb_set(resource, '{text,div}', to_jsonb('<div>' || repeat('<p>Draw <b>blood</b> at 9.</p>', 200) || '</div>'))
WHERE id = 'wp-f-bigtext';
UPDATE omnitask.task SET resource = jsonb_set(resource, '{note,0,text}', '""') WHERE id = 'wp-f-bignote';
SET session_replication_role = DEFAULT;
SELECT id, pg_column_compression(resource) AS compression, length(resource::text) > 4000 AS large
FROM omnitask.task WHERE id IN ('wp-f-bigtext', 'wp-f-bignote') ORDER BY id;
SELECT omnitask.set_task_status('wp-f-bigtext', 'accepted') ->> 'status' AS narrative_not_walked;
SAVEPOINT s8;
SELECT omnitask.update_task('wp-f-bignote', omnitask.read_task('wp-f-bignote') || '{"priority": "urgent"}') IS NOT NULL AS updated;
ROLLBACK TO s8;
SELECT omnitask.set_task_status('wp-f-bignote', 'accepted') ->> 'status' AS notes_not_walked;
-- a Task with contained resources is validated whole (local references
-- relate its elements): the same broken narrative is refused
SELECT omnitask.import_task(doc || '{"id": "wp-f-contained", "contained": [{"resourceType": "Practitioner", "id": "c1"}],
	"note": [{"text": "first", "authorReference": {"reference": "#c1"}}]}') IS NOT NULL AS imported FROM wp_rich;
SET session_replication_role = replica;
UPDATE omnitask.task SET resource = jsonb_set(resource, '{text,div}', '"<p>no namespace</p>"') WHERE id = 'wp-f-contained';
SET session_replication_role = DEFAULT;
SAVEPOINT s6;
SELECT omnitask.set_task_status('wp-f-contained', 'accepted');
ROLLBACK TO s6;
-- removing the only reference to a contained resource is refused (dom-3)
SAVEPOINT s7;
SELECT omnitask.update_task('wp-f-contained', jsonb_set(omnitask.read_task('wp-f-contained'), '{text,div}', to_jsonb(r.doc #>> '{text,div}')) - 'note')
FROM wp_rich r;
ROLLBACK TO s7;

-- import_task of a Task with an old lastModified and no authoredOn: it was
-- authored when last modified (inv-1 holds; verify() agrees)
SELECT omnitask.import_task('{"resourceType": "Task", "id": "wp-f-old", "status": "completed", "intent": "order",
	"description": "wp old", "for": {"reference": "Patient/wp-r"}, "lastModified": "2020-01-02T03:04:05Z"}') ->> 'authoredOn' AS authored_on;
SELECT count(*) AS problems FROM omnitask.verify() WHERE task_id = 'wp-f-old';

ROLLBACK;

-- 0.6: the history insert's CHECK constraints are prepared once per backend
-- and handed to each insert of the trigger (history_checks.c); every row is
-- still checked against the table's constraints as they are now, every way
-- a row reaches the history
BEGIN;
-- a refused statement: SQLSTATE, constraint and message (the failing row's
-- detail holds ids and times of this run)
CREATE FUNCTION pg_temp.wp_refusal(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	con text;
	msg text;
BEGIN
	EXECUTE stmt;
	RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, con = CONSTRAINT_NAME, msg = MESSAGE_TEXT;
	RETURN st || ' ' || coalesce(con, '-') || ': ' || msg;
END $$;
CREATE TEMP TABLE wp_c AS
SELECT omnitask.create_task(jsonb_build_object('resourceType', 'Task', 'status', 'requested', 'intent', 'order',
		'description', 'wp checks ' || i, 'for', jsonb_build_object('reference', 'Patient/wp-c'))) ->> 'id' AS id, i
FROM generate_series(1, 3) AS i;
-- a constraint added now (NOT VALID: older rows may break it) refuses the
-- trigger's next row, single and set-based
ALTER TABLE omnitask.task_history ADD CONSTRAINT wp_not_received CHECK (status <> 'received') NOT VALID;
SELECT pg_temp.wp_refusal(format('SELECT omnitask.set_task_status(%L, ''received'')', id)) AS single_row
FROM wp_c WHERE i = 1;
SELECT pg_temp.wp_refusal('UPDATE omnitask.task SET resource = jsonb_set(resource, ''{status}'', ''"received"'')
	WHERE id IN (SELECT id FROM wp_c)') AS set_based;
SELECT omnitask.set_task_status(id, 'accepted') ->> 'status' AS allowed FROM wp_c WHERE i = 1;
-- replaced by another constraint (as many as before): the new one applies,
-- the old one no longer does
ALTER TABLE omnitask.task_history DROP CONSTRAINT wp_not_received,
	ADD CONSTRAINT wp_not_rejected CHECK (status <> 'rejected') NOT VALID;
SELECT omnitask.set_task_status(id, 'received') ->> 'status' AS allowed_again FROM wp_c WHERE i = 2;
SELECT pg_temp.wp_refusal(format('SELECT omnitask.set_task_status(%L, ''rejected'', ''wp reason'')', id)) AS replaced
FROM wp_c WHERE i = 3;
ALTER TABLE omnitask.task_history DROP CONSTRAINT wp_not_rejected;
SELECT omnitask.set_task_status(id, 'rejected', 'wp reason') ->> 'status' AS allowed_after_drop FROM wp_c WHERE i = 3;
-- the table's own constraint: a superuser's INSERT and a restore's COPY of
-- an operation that is not create, update or import are refused
SELECT pg_temp.wp_refusal(format('INSERT INTO omnitask.task_history (id, version_id, operation, status, resource, recorded_at, recorded_by)
	VALUES (%L, 99, ''delete'', ''requested'', ''{}'', now(), current_user)', id)) AS superuser_insert
FROM wp_c WHERE i = 1;
SAVEPOINT c5;
\set VERBOSITY terse
COPY omnitask.task_history (id, version_id, operation, status, resource, recorded_at, recorded_by) FROM stdin;
wp-c-restored	1	delete	requested	{}	2026-01-01 00:00:00+00	postgres
\.
\set VERBOSITY default
ROLLBACK TO c5;
SELECT :'LAST_ERROR_SQLSTATE' AS copy_sqlstate;
-- every version written here has its history row, as stored
SELECT count(*) AS versions, count(h.id) AS with_history, count(*) FILTER (WHERE h.resource = t.resource) AS identical
FROM omnitask.task t JOIN wp_c USING (id)
LEFT JOIN omnitask.task_history h ON h.id = t.id AND h.version_id = t.version_id;
ROLLBACK;

-- 0.9: the history row of a one-row write takes the BEFORE trigger's
-- resource instead of decompressing the stored one (written_history_row);
-- the stored resource here is compressed, and each version's history row
-- must equal it, also when another BEFORE ROW trigger changes the resource
-- after omnitask's (then the stored row is expanded, as before)
BEGIN;
CREATE FUNCTION pg_temp.wp_as_stored(task text) RETURNS text LANGUAGE sql AS $$
	SELECT format('v%s %s %s', t.version_id, h.resource = t.resource, pg_column_compression(t.resource))
	FROM omnitask.task t JOIN omnitask.task_history h ON h.id = t.id AND h.version_id = t.version_id
	WHERE t.id = task $$;
SELECT omnitask.import_task(jsonb_build_object('resourceType', 'Task', 'id', id, 'status', 'requested',
	'intent', 'order', 'description', 'wp packed', 'for', jsonb_build_object('reference', 'Patient/wp-h'),
	'note', (SELECT jsonb_agg(jsonb_build_object('text', 'note ' || i)) FROM generate_series(1, 120) i))) IS NOT NULL AS imported
FROM (VALUES ('wp-h-packed'), ('wp-h-shout')) AS v(id);
SELECT pg_temp.wp_as_stored('wp-h-packed') AS imported;
SELECT omnitask.set_task_status('wp-h-packed', 'accepted') ->> 'status' AS accepted;
SELECT pg_temp.wp_as_stored('wp-h-packed') AS after_status;
SELECT omnitask.set_task_status('wp-h-packed', 'cancelled', 'wp gone') #>> '{statusReason,text}' AS reason;
SELECT pg_temp.wp_as_stored('wp-h-packed') AS after_reason;
SELECT omnitask.add_task_note('wp-h-packed', 'one more') IS NOT NULL AS noted;
SELECT pg_temp.wp_as_stored('wp-h-packed') AS after_note;
CREATE FUNCTION pg_temp.wp_shout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.resource := jsonb_set(NEW.resource, '{description}', to_jsonb(upper(NEW.resource ->> 'description')));
	RETURN NEW;
END $$;
CREATE TRIGGER zz_wp_shout BEFORE UPDATE ON omnitask.task FOR EACH ROW EXECUTE FUNCTION pg_temp.wp_shout();
SELECT omnitask.set_task_status('wp-h-shout', 'accepted') ->> 'description' AS shouted;
DROP TRIGGER zz_wp_shout ON omnitask.task;
SELECT pg_temp.wp_as_stored('wp-h-shout') AS other_trigger,
	(SELECT resource ->> 'description' FROM omnitask.task_history WHERE id = 'wp-h-shout' AND version_id = 2) AS history_description;
-- the identifier claims of a one-row write read the same remembered resource
-- (task_stored_resource): they follow the stored identifiers, also when
-- another BEFORE ROW trigger changes them after omnitask's (same length, so
-- only the trigger check tells)
CREATE FUNCTION pg_temp.wp_claims(task text) RETURNS text LANGUAGE sql AS $$
	SELECT format('claims %s, stored %s %s',
		(SELECT string_agg(c.system || '|' || c.value, ' ' ORDER BY c.value) FROM omnitask.task_identifier c WHERE c.task_id = task),
		(SELECT string_agg((e ->> 'system') || '|' || (e ->> 'value'), ' ' ORDER BY e ->> 'value')
		 FROM omnitask.task t, jsonb_array_elements(t.resource -> 'identifier') e WHERE t.id = task),
		(SELECT pg_column_compression(t.resource) FROM omnitask.task t WHERE t.id = task)) $$;
SELECT omnitask.import_task(jsonb_build_object('resourceType', 'Task', 'id', 'wp-h-claims', 'status', 'requested',
	'intent', 'order', 'description', 'wp claims', 'for', jsonb_build_object('reference', 'Patient/wp-h'),
	'identifier', jsonb_build_array(jsonb_build_object('system', 'urn:wp', 'value', 'wp-claim-a')),
	'note', (SELECT jsonb_agg(jsonb_build_object('text', 'note ' || i)) FROM generate_series(1, 120) i))) IS NOT NULL AS imported;
SELECT pg_temp.wp_claims('wp-h-claims') AS imported;
SELECT omnitask.update_task(id, jsonb_set(resource, '{identifier,0,value}', '"wp-claim-b"')) IS NOT NULL AS updated
FROM omnitask.task WHERE id = 'wp-h-claims';
SELECT pg_temp.wp_claims('wp-h-claims') AS updated;
CREATE FUNCTION pg_temp.wp_upper_identifier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.resource := jsonb_set(NEW.resource, '{identifier,0,value}', to_jsonb(upper(NEW.resource #>> '{identifier,0,value}')));
	RETURN NEW;
END $$;
CREATE TRIGGER zz_wp_upper BEFORE UPDATE ON omnitask.task FOR EACH ROW EXECUTE FUNCTION pg_temp.wp_upper_identifier();
SELECT omnitask.update_task(id, jsonb_set(resource, '{identifier,0,value}', '"wp-claim-c"')) #>> '{identifier,0,value}' AS returned
FROM omnitask.task WHERE id = 'wp-h-claims';
DROP TRIGGER zz_wp_upper ON omnitask.task;
SELECT pg_temp.wp_claims('wp-h-claims') AS other_trigger;
-- the same for a resource stored out of line (compressed, it is still more
-- than the row's share of a page): the history row and the claims read the
-- remembered version instead of fetching and expanding it
SELECT omnitask.import_task(jsonb_build_object('resourceType', 'Task', 'id', 'wp-h-toasted', 'status', 'requested',
	'intent', 'order', 'description', 'wp toasted', 'for', jsonb_build_object('reference', 'Patient/wp-h'),
	'identifier', jsonb_build_array(jsonb_build_object('system', 'urn:wp', 'value', 'wp-claim-t')),
	'note', (SELECT jsonb_agg(jsonb_build_object('text', md5(i::text) || md5((-i)::text))) FROM generate_series(1, 200) i))) IS NOT NULL AS imported;
SELECT pg_temp.wp_as_stored('wp-h-toasted') AS imported, pg_column_size(resource) > 2032 AS out_of_line
FROM omnitask.task WHERE id = 'wp-h-toasted';
SELECT omnitask.set_task_status('wp-h-toasted', 'accepted') ->> 'status' AS accepted;
SELECT pg_temp.wp_as_stored('wp-h-toasted') AS after_status;
SELECT omnitask.update_task(id, jsonb_set(resource, '{identifier,0,value}', '"wp-claim-u"')) IS NOT NULL AS updated
FROM omnitask.task WHERE id = 'wp-h-toasted';
SELECT pg_temp.wp_as_stored('wp-h-toasted') AS after_update, pg_temp.wp_claims('wp-h-toasted') AS claims;
CREATE TRIGGER zz_wp_upper BEFORE UPDATE ON omnitask.task FOR EACH ROW EXECUTE FUNCTION pg_temp.wp_upper_identifier();
SELECT omnitask.update_task(id, jsonb_set(resource, '{identifier,0,value}', '"wp-claim-v"')) #>> '{identifier,0,value}' AS returned
FROM omnitask.task WHERE id = 'wp-h-toasted';
DROP TRIGGER zz_wp_upper ON omnitask.task;
SELECT pg_temp.wp_as_stored('wp-h-toasted') AS other_trigger, pg_temp.wp_claims('wp-h-toasted') AS claims;
-- an update's claims change exactly when Task.identifier does (jsonb
-- equality, as the trigger's WHEN clause tested before 0.10): a status
-- change keeps them; a later BEFORE trigger changing the identifier during
-- a status change moves them (the old version is the one the edit expanded,
-- the new one the stored one); an identifier rewritten as an equal value
-- (1.0 and 1.00 in an extension) keeps them; removing it releases them
SELECT omnitask.update_task(id, jsonb_set(resource, '{identifier,0,value}', '"wp-claim-w"')) IS NOT NULL AS updated
FROM omnitask.task WHERE id = 'wp-h-toasted';
SELECT omnitask.set_task_status('wp-h-toasted', 'in-progress') ->> 'status' AS status,
	   pg_temp.wp_claims('wp-h-toasted') AS claims;
CREATE TRIGGER zz_wp_upper BEFORE UPDATE ON omnitask.task FOR EACH ROW EXECUTE FUNCTION pg_temp.wp_upper_identifier();
SELECT omnitask.set_task_status('wp-h-toasted', 'on-hold') #>> '{identifier,0,value}' AS returned;
DROP TRIGGER zz_wp_upper ON omnitask.task;
SELECT pg_temp.wp_claims('wp-h-toasted') AS status_and_other_trigger;
SELECT omnitask.update_task(id, jsonb_set(resource, '{identifier,0,extension}',
		'[{"url": "urn:wp:weight", "valueDecimal": 1.0}]')) IS NOT NULL AS updated
FROM omnitask.task WHERE id = 'wp-h-toasted';
UPDATE omnitask.task_identifier SET system = 'urn:wp:moved' WHERE task_id = 'wp-h-toasted';
SELECT omnitask.update_task(id, jsonb_set(resource, '{identifier,0,extension,0,valueDecimal}', '1.00')) IS NOT NULL AS updated
FROM omnitask.task WHERE id = 'wp-h-toasted';
SELECT pg_temp.wp_claims('wp-h-toasted') AS equal_identifier_untouched;
SELECT omnitask.update_task(id, resource - 'identifier') IS NOT NULL AS updated
FROM omnitask.task WHERE id = 'wp-h-toasted';
SELECT pg_temp.wp_claims('wp-h-toasted') AS identifier_removed;

-- the expansion kept for a write is found by the stored bytes: two Tasks
-- compressed to the same size, different in two letters, changed one after
-- the other in one transaction, each keep their own content and claims
SELECT count(omnitask.import_task(jsonb_build_object('resourceType', 'Task', 'id', id, 'status', 'requested',
	'intent', 'order', 'description', 'wp twin ' || right(id, 1), 'for', jsonb_build_object('reference', 'Patient/wp-h'),
	'identifier', jsonb_build_array(jsonb_build_object('system', 'urn:wp', 'value', id)),
	'note', (SELECT jsonb_agg(jsonb_build_object('text', 'note ' || i)) FROM generate_series(1, 120) i)))) AS imported
FROM (VALUES ('wp-k-a'), ('wp-k-b')) AS v(id);
SELECT count(DISTINCT pg_column_size(resource)) AS stored_sizes, bool_and(pg_column_compression(resource) = 'pglz') AS compressed
FROM omnitask.task WHERE id IN ('wp-k-a', 'wp-k-b');
SELECT omnitask.set_task_status(id, 'accepted') ->> 'description' AS description
FROM (VALUES ('wp-k-a'), ('wp-k-b'), ('wp-k-a')) AS v(id);
SELECT id, version_id, resource ->> 'description' AS description, resource ->> 'status' AS status,
	   pg_temp.wp_claims(id) AS claims
FROM omnitask.task WHERE id IN ('wp-k-a', 'wp-k-b') ORDER BY id;

--
-- task_with_status(): the document (resource - 'statusReason') ||
-- jsonb_build_object('status', s[, 'statusReason', {"text": r}]) builds,
-- for every stored Task (in line, compressed and out of line), with hostile
-- strings; NULL for a NULL resource or status; 22023 for a non-object
--
CREATE TEMP TABLE wp_edit AS
SELECT t.id, t.resource, s.status, s.reason,
	   omnitask.task_with_status(t.resource, s.status, s.reason) AS built,
	   (t.resource - 'statusReason') || jsonb_build_object('status', s.status)
		|| CASE WHEN s.reason IS NULL THEN '{}'::jsonb
		   ELSE jsonb_build_object('statusReason', jsonb_build_object('text', s.reason)) END AS expected
FROM omnitask.task t,
	 (VALUES ('on-hold', NULL), ('failed', E'lab "closed" \\ \u2603 \t</div>'), ('', ''), ('x', repeat('r', 5000))) AS s(status, reason);
SELECT count(DISTINCT id) > 3 AS several_tasks,
	   bool_or(pg_column_compression(resource) IS NOT NULL) AS some_compressed,
	   bool_or(id = 'wp-h-toasted') AS one_out_of_line,
	   count(*) FILTER (WHERE NOT (built = expected AND built::text = expected::text)) AS different
FROM wp_edit;
SELECT omnitask.task_with_status(NULL, 'on-hold') IS NULL AS null_resource,
	   omnitask.task_with_status('{"status": "draft"}', NULL) IS NULL AS null_status,
	   omnitask.task_with_status('{}', 'on-hold', 'why') AS empty_object;
SAVEPOINT s9;
SELECT omnitask.task_with_status('[{"status": "draft"}]', 'on-hold');
ROLLBACK TO s9;
SELECT omnitask.task_with_status('"Task"', 'on-hold');
ROLLBACK TO s9;
DO $$
DECLARE
	st text;
BEGIN
	PERFORM omnitask.task_with_status('[1, 2]', 'on-hold');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
	RAISE WARNING 'task_with_status on an array: SQLSTATE %', st;
END $$;
ROLLBACK;
