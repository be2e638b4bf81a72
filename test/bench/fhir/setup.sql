-- FHIR over HTTP benchmark set-up (test/bench/fhir_http.sh), after the
-- sample generator: documents to create, a pool of open tasks to patch,
-- change-feed cursors spread over the whole history.
\set ON_ERROR_STOP on
CREATE SCHEMA bench_fhir;
CREATE SEQUENCE bench_fhir.ident;
-- documents to create: generated tasks as new requests, without identifiers
CREATE TABLE bench_fhir.docs (k int PRIMARY KEY, doc jsonb NOT NULL);
ALTER TABLE bench_fhir.docs ALTER COLUMN doc SET STORAGE PLAIN;
INSERT INTO bench_fhir.docs
SELECT row_number() OVER (ORDER BY id),
	   (resource - 'id' - 'meta' - 'lastModified' - 'statusReason' - 'output' - 'businessStatus' - 'identifier')
	   || '{"status": "requested"}'
FROM omnitask.task ORDER BY id LIMIT 1000;
-- the same documents as the request body text both sides of a pair parse
-- (PostgREST passes the body on as text; the HTTP endpoints take it raw)
CREATE TABLE bench_fhir.bodies (k int PRIMARY KEY, txt text NOT NULL);
ALTER TABLE bench_fhir.bodies ALTER COLUMN txt SET STORAGE PLAIN;
INSERT INTO bench_fhir.bodies SELECT k, doc::text FROM bench_fhir.docs;
-- open tasks whose priority the patch workloads change
CREATE TABLE bench_fhir.open_pool (n int PRIMARY KEY, id text NOT NULL);
INSERT INTO bench_fhir.open_pool
SELECT row_number() OVER (ORDER BY id), id
FROM omnitask.task WHERE status IN ('requested', 'accepted', 'in-progress', 'ready', 'received', 'draft', 'on-hold')
ORDER BY id LIMIT 20000;
-- a cursor every 100 versions of the feed
CREATE TABLE bench_fhir.cursors (n int PRIMARY KEY, c text NOT NULL);
INSERT INTO bench_fhir.cursors
SELECT row_number() OVER (), omnitask.feed_cursor(xid, id, version_id)
FROM (SELECT xid, id, version_id, row_number() OVER (ORDER BY xid, id, version_id) AS r
	  FROM omnitask.task_history) h
WHERE r % 100 = 1;
-- the practitioner with the most versions, as role bench_pract (feed_pract.sql)
SELECT 'CREATE ROLE bench_pract NOLOGIN IN ROLE omnitask_practitioner'
	WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_pract') \gexec
UPDATE omnitask.practitioner SET role_name = 'bench_pract'
	WHERE id = (SELECT owner_id FROM omnitask.task_history WHERE owner_id IS NOT NULL
				GROUP BY owner_id ORDER BY count(*) DESC, owner_id LIMIT 1);
GRANT USAGE ON SCHEMA bench_fhir TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA bench_fhir TO PUBLIC;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA bench_fhir TO PUBLIC;
ANALYZE;
SELECT (SELECT count(*) FROM omnitask.task) AS tasks, (SELECT count(*) FROM omnitask.task_history) AS versions,
	   (SELECT count(*) FROM bench_fhir.open_pool) AS open_pool, (SELECT count(*) FROM bench_fhir.cursors) AS cursors;
