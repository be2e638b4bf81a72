-- Peak memory of one backend for the largest Task (bench.big_doc, ~1 MB, 10,000 notes), and a leak check.
--   psql -At -v op=floor|validate|create|plpgsql|leak -f test/bench/memory.sql
-- Run each op in a fresh session: VmHWM (peak resident set of this backend, from /proc/self/status) only
-- grows, so the delta over a warm-up on a small document is the op's peak.  It includes the shared-buffer
-- and WAL-buffer pages the op touches first (well under 1 MB here), which the floor op shows.
-- Lines starting with "mem|" are the results.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SELECT CASE :'op'
		WHEN 'floor' THEN 'bench.floor_create(d.doc)'
		WHEN 'validate' THEN 'omnitask.validate_task(d.doc)'
		WHEN 'create' THEN 'omnitask.create_task(d.doc)'
		WHEN 'plpgsql' THEN 'bench_plpgsql.create_task(d.doc)'
		ELSE 'omnitask.create_task(d.doc)' END AS expr,
	   :'op' = 'leak' AS leak \gset

\if :leak
-- contexts after 1000 creates and 1000 validations, inside the transaction and after it
SELECT count(omnitask.create_task(d.doc)) AS n FROM bench.docs d WHERE d.k <= 10 \gset
SELECT count(omnitask.validate_task(d.doc)) AS n FROM bench.docs d WHERE d.k <= 10 \gset
SELECT bench.ctx_bytes() AS c0 \gset
BEGIN;
SELECT count(omnitask.create_task(d.doc)) AS n FROM bench.docs d \gset
SELECT count(omnitask.validate_task(d.doc)) AS n FROM bench.docs d \gset
SELECT bench.ctx_bytes() - :c0 AS in_tx \gset
ROLLBACK;
SELECT format('SELECT omnitask.create_task(d.doc) IS NOT NULL AS ok FROM bench.docs d WHERE d.k = %s', k)
FROM generate_series(1, 200) AS k \gexec
SELECT bench.ctx_bytes() - :c0 AS after \gset
\echo mem|ctx_growth_in_tx_1000_creates_bytes|:in_tx
\echo mem|ctx_growth_after_1200_creates_bytes|:after
\else
-- warm-up: the same operation on a small document
BEGIN;
SELECT (:expr) IS NOT NULL AS ok FROM bench.docs d WHERE d.k = 2 \gset
SELECT bench.proc_kb('VmHWM') AS hwm0, bench.proc_kb('VmRSS') AS rss0, bench.ctx_bytes() AS ctx0, clock_timestamp() AS t0 \gset
SELECT (:expr) IS NOT NULL AS ok FROM bench.big_doc d \gset
SELECT round((bench.proc_kb('VmHWM') - :hwm0) / 1024.0, 1) AS peak_mb,
	   round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric * 1000, 1) AS ms,
	   bench.ctx_bytes() - :ctx0 AS ctx_after \gset
ROLLBACK;
\echo mem|:op|:peak_mb|:ms
\endif
