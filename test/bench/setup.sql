-- Benchmark fixtures, after test/sample/generate.sql and plpgsql_baseline.sql:
--   bench.task_plain, bench.task_history_plain   the floor: same rows, same indexes, no triggers, no RLS
--   bench_plpgsql.task / task_history / practitioner   the same rows under the PL/pgSQL trigger
--   bench.docs          :ndocs realistic Tasks to create (from the generated ones, as status requested)
--   bench.status_pool   in-progress tasks whose status the status workloads toggle (same ids in all three tables)
--   bench.val_docs      :nval Tasks the size of Task-example5 (4.5 KB) for the validation throughput
--   bench.big_doc       the largest Task: ~1 MB, 10,000 notes
-- psql -v ndocs=1000 -v nval=100000 -v owner=pr-0001 -f test/bench/setup.sql  (from the repo root)

\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

-- true when an OperationOutcome has no error or fatal issue
CREATE FUNCTION bench.is_valid(oo jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS
$$ SELECT NOT (oo @? '$.issue[*] ? (@.severity == "error" || @.severity == "fatal")') $$;

-- memory of this backend: a field of /proc/self/status in kB, and the bytes held by its memory contexts
CREATE FUNCTION bench.proc_kb(field text) RETURNS bigint
LANGUAGE sql VOLATILE AS
$$ SELECT substring(pg_read_file('/proc/self/status') FROM field || ':\s+([0-9]+) kB')::bigint $$;
CREATE FUNCTION bench.ctx_bytes() RETURNS bigint
LANGUAGE sql VOLATILE AS
$$ SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts $$;

-- the floor: LIKE copies columns, defaults and indexes, not triggers or policies
CREATE TABLE bench.task_plain (LIKE omnitask.task INCLUDING ALL);
CREATE TABLE bench.task_history_plain (LIKE omnitask.task_history INCLUDING ALL);
-- search_tokens has no default since 0.4 (omnitask's trigger derives it); the floor's and the
-- PL/pgSQL baseline's writes compute it with omnitask.task_search_columns(), this default only
-- keeps any other insert into them working
ALTER TABLE bench.task_plain ALTER COLUMN search_tokens SET DEFAULT '{}';
-- nor storage parameters: the floor's tables get omnitask's (0.6 stores the history uncompressed,
-- toast_tuple_target = 8160: a floor that compressed its history would write less WAL per write)
DO $$
DECLARE
	t record;
BEGIN
	FOR t IN SELECT c.reloptions, f.floor FROM (VALUES ('omnitask.task', 'bench.task_plain'),
			('omnitask.task_history', 'bench.task_history_plain')) AS f(omni, floor)
		JOIN pg_class c ON c.oid = f.omni::regclass WHERE c.reloptions IS NOT NULL
	LOOP
		EXECUTE format('ALTER TABLE %s SET (%s)', t.floor, array_to_string(t.reloptions, ', '));
	END LOOP;
END $$;
ALTER TABLE bench_plpgsql.task ALTER COLUMN search_tokens SET DEFAULT '{}';
INSERT INTO bench.task_plain SELECT * FROM omnitask.task;
INSERT INTO bench.task_history_plain SELECT * FROM omnitask.task_history;

-- the PL/pgSQL baseline's tables, same rows (loaded without firing its triggers)
SET session_replication_role = replica;
INSERT INTO bench_plpgsql.practitioner SELECT * FROM omnitask.practitioner;
INSERT INTO bench_plpgsql.task SELECT * FROM omnitask.task;
INSERT INTO bench_plpgsql.task_history SELECT * FROM omnitask.task_history;
RESET session_replication_role;

-- the floor's create as a function (for the memory measurement; the workload inlines the same SQL)
CREATE FUNCTION bench.floor_create(doc jsonb) RETURNS jsonb
LANGUAGE sql AS
$$
WITH r0 AS MATERIALIZED (SELECT gen_random_uuid()::text AS id, now() AS ts,
				   (to_json(now() AT TIME ZONE 'UTC') #>> '{}') || 'Z' AS ts_text),
r AS MATERIALIZED (
	SELECT r0.id, r0.ts, doc || jsonb_build_object('id', r0.id,
			'meta', jsonb_build_object('versionId', '1', 'lastUpdated', r0.ts_text), 'lastModified', r0.ts_text) AS res
	FROM r0),
t AS (
	INSERT INTO bench.task_plain (id, version_id, last_updated, status, intent, priority, owner_id, patient_id,
		requester, code, description, authored_on, last_modified, due_at, resource, search_tokens, business_status)
	SELECT r.id, 1, r.ts, (r.res->>'status')::omnitask.task_status, (r.res->>'intent')::omnitask.task_intent,
		   coalesce(r.res->>'priority', 'routine')::omnitask.task_priority,
		   substring(r.res #>> '{owner,reference}' FROM '^Practitioner/(.*)$'),
		   substring(r.res #>> '{for,reference}' FROM '^Patient/(.*)$'),
		   r.res #>> '{requester,reference}', r.res #>> '{code,coding,0,code}', r.res->>'description',
		   (r.res->>'authoredOn')::timestamptz, r.ts,
		   coalesce((r.res #>> '{restriction,period,end}')::timestamptz, (r.res #>> '{executionPeriod,end}')::timestamptz),
		   r.res, c.search_tokens, c.business_status
	FROM r, omnitask.task_search_columns(r.res) c
	RETURNING *)
INSERT INTO bench.task_history_plain (id, version_id, operation, status, owner_id, resource, recorded_at, recorded_by, practitioner_id)
SELECT t.id, t.version_id, 'create', t.status, t.owner_id, t.resource, t.last_updated, current_user, NULL FROM t
RETURNING resource;
$$;

-- documents to create: the first :ndocs generated tasks as new requests
-- (no id/meta/lastModified: the server writes those; status requested: a creatable state)
-- (stored inline and uncompressed, so that reading one costs every workload the same, next to nothing)
CREATE TABLE bench.docs (k int PRIMARY KEY, doc jsonb NOT NULL);
ALTER TABLE bench.docs ALTER COLUMN doc SET STORAGE PLAIN;
INSERT INTO bench.docs
SELECT row_number() OVER (ORDER BY id),
	   (resource - 'id' - 'meta' - 'lastModified' - 'statusReason' - 'output' - 'businessStatus')
	   || '{"status": "requested"}'
FROM omnitask.task
WHERE id <= 't-' || lpad(:ndocs::text, 7, '0');

-- every document must be creatable, by omnitask and by the PL/pgSQL baseline
BEGIN;
SELECT 'bench docs: ' || count(*) || ' documents, ' || round(avg(octet_length(doc::text))) || ' bytes on average (min '
	   || min(octet_length(doc::text)) || ', max ' || max(octet_length(doc::text)) || ')' AS info
FROM bench.docs \gset
\echo :info
SELECT count(omnitask.create_task(doc)) AS n FROM bench.docs \gset
SELECT count(bench_plpgsql.create_task(doc)) AS n FROM bench.docs \gset
SELECT count(bench.floor_create(doc)) AS n FROM bench.docs \gset
ROLLBACK;

-- the status pool: in-progress tasks, toggled in-progress <-> on-hold by the admin
CREATE TABLE bench.status_pool (n int PRIMARY KEY, id text NOT NULL);
INSERT INTO bench.status_pool
SELECT row_number() OVER (ORDER BY id), id
FROM (SELECT id FROM omnitask.task WHERE status = 'in-progress' ORDER BY id LIMIT 20000) s;
SELECT 'bench status pool: ' || count(*) || ' in-progress tasks' AS info FROM bench.status_pool \gset
\echo :info

-- validation documents: Task-example5 (4.5 KB), each with its own id, identifier, dates, patient
\set ex5 `cat test/fixtures/Task-example5.json`
CREATE TABLE bench.val_docs (i int PRIMARY KEY, resource jsonb NOT NULL);
INSERT INTO bench.val_docs
SELECT i, e.doc || jsonb_build_object(
		'id', 'val-' || i,
		'identifier', jsonb_build_array(jsonb_build_object('use', 'official',
			'system', 'http://goodhealth.org/identifiers', 'value', '2017' || lpad(i::text, 8, '0'))),
		'description', (e.doc->>'description') || ' (request ' || i || ')',
		'for', jsonb_build_object('reference', 'Patient/pat-' || lpad((1 + i % 100000)::text, 5, '0'),
			'display', 'Patient ' || (1 + i % 100000)),
		'executionPeriod', jsonb_build_object('start', to_char(a, 'YYYY-MM-DD"T"HH24:MI:SS') || '+10:00'),
		'authoredOn', to_char(a, 'YYYY-MM-DD"T"HH24:MI:SS') || '+10:00',
		'lastModified', to_char(a + interval '8 hours 20 minutes', 'YYYY-MM-DD"T"HH24:MI:SS') || '+10:00',
		'restriction', jsonb_build_object('repetitions', 1, 'period',
			jsonb_build_object('end', to_char(a + interval '2 days', 'YYYY-MM-DD"T"HH24:MI:SS') || '+10:00')))
FROM (SELECT :'ex5'::jsonb AS doc) e,
	 generate_series(1, :nval) AS i,
	 LATERAL (SELECT timestamp '2016-01-01 08:00' + i * interval '7 minutes 13 seconds' AS a) t;
SELECT 'bench validation documents: ' || count(*) || ', ' || round(avg(octet_length(resource::text))) || ' bytes on average' AS info
FROM bench.val_docs \gset
\echo :info

-- the largest Task: a generated one with 10,000 notes (~1 MB)
CREATE TABLE bench.big_doc AS
SELECT d.doc || jsonb_build_object('note', (
		SELECT jsonb_agg(jsonb_build_object(
			'authorReference', jsonb_build_object('reference', 'Practitioner/' || :'owner'),
			'time', to_char(timestamp '2024-01-01' + k * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00',
			'text', 'Note ' || k || ': no answer, left a message.') ORDER BY k)
		FROM generate_series(1, 10000) AS k)) AS doc
FROM bench.docs d WHERE d.k = 1;

VACUUM ANALYZE bench.task_plain;
VACUUM ANALYZE bench.task_history_plain;
VACUUM ANALYZE bench_plpgsql.task;
VACUUM ANALYZE bench_plpgsql.task_history;
VACUUM ANALYZE bench_plpgsql.practitioner;
VACUUM ANALYZE omnitask.task;
VACUUM ANALYZE omnitask.task_history;
VACUUM ANALYZE omnitask.practitioner;
VACUUM ANALYZE bench.docs;
VACUUM ANALYZE bench.status_pool;
VACUUM ANALYZE bench.val_docs;
