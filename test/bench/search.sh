#!/usr/bin/env bash
# Search benchmark: the first page of search_tasks_query (with _total=none)
# for each single-parameter search and the common worklist combinations,
# _total=accurate and estimate against none, and each with and without
# row-level security, on the same data in the same run.
#
#   bash test/bench/search.sh [--scale N] [--calls C] [--no-build] [--reuse] [--copies K] [--load-only]
#
# --reuse measures again on the cluster and data a previous run left in
# test/tmp/bench_search (a load of 1M tasks takes a while) instead of
# loading anew.  --copies K loads N/K tasks through import_task (with the
# practitioners and patients of N tasks, so that each owns as many tasks as
# at N) and copies them K-1 times by SQL with new ids (t-0000001 ..) and
# identifier values, the derived columns copied or recomputed
# (task_search_columns), without history: a search reads neither the
# history nor the write path, and import_task takes an hour for 1M tasks on
# a busy 2-core machine.  --load-only stops after the load (measure later
# with --reuse).
#
# Own throwaway cluster in test/tmp/bench_search (port $BENCH_PORT, default
# 54341); sample data from test/sample/generate.sql at N tasks (default
# 1000000).  Each search runs C times (default 31) as each of three callers
# in turn (superuser: no RLS; omnitask_admin: RLS with an all-rows policy;
# the practitioner owning the most tasks: RLS scoping to its own), after one
# warm-up call; the figure is the median per call, measured inside the
# server (clock_timestamp around each call).  Ratios: admin/superuser (the
# cost of RLS) and accurate/none.  Writes test/bench/results/search-N.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TOP=$(pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PORT:-54341}
T=$TOP/test/tmp/bench_search
SCALE=1000000 CALLS=31 BUILD=1 REUSE=0 COPIES=1 LOADONLY=0
while [ $# -gt 0 ]; do
	case "$1" in
		--scale) SCALE=$2; shift 2 ;;
		--calls) CALLS=$2; shift 2 ;;
		--no-build) BUILD=0; shift ;;
		--reuse) REUSE=1; shift ;;
		--copies) COPIES=$2; shift 2 ;;
		--load-only) LOADONLY=1; shift ;;
		*) echo "search.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
. test/bench/lib.sh
[ "$BUILD" = 1 ] && bench_build
if [ "$REUSE" = 1 ]; then
	bench_stop
	bench_start
	trap bench_stop EXIT
else
	bench_new_cluster
	trap bench_stop EXIT
	if [ "$COPIES" -gt 1 ]; then
		echo "== loading $((SCALE / COPIES)) tasks, copied $COPIES times"
		psql_b -d postgres -c 'CREATE DATABASE bench'
		psql_b -d bench -c 'CREATE EXTENSION omnitask'
		psql_b -d bench -v n=$((SCALE / COPIES)) -v practitioners=$((SCALE / 500 + 20)) \
			-v patients=$((SCALE / 10 + 200)) -f test/sample/generate.sql >/dev/null
		psql_b -d bench -q -v base=$((SCALE / COPIES)) -v copies="$COPIES" <<'SQL'
SET session_replication_role = replica;
INSERT INTO omnitask.task (id, version_id, last_updated, status, intent, priority, owner_id, patient_id,
						   requester, code, description, authored_on, last_modified, due_at, resource,
						   search_tokens, business_status, business_status_token, code_token)
SELECT n.id, t.version_id, t.last_updated, t.status, t.intent, t.priority, t.owner_id, t.patient_id,
	   t.requester, t.code, t.description, t.authored_on, t.last_modified, t.due_at, r.resource,
	   c.search_tokens, c.business_status, t.business_status_token, t.code_token
FROM omnitask.task t
CROSS JOIN generate_series(1, :copies - 1) k
CROSS JOIN LATERAL (SELECT 't-' || lpad((substr(t.id, 3)::bigint + k * :base)::text, 7, '0') AS id) n
CROSS JOIN LATERAL (SELECT CASE WHEN t.resource ? 'identifier'
		THEN jsonb_set(jsonb_set(t.resource, '{id}', to_jsonb(n.id)), '{identifier,0,value}',
					   to_jsonb(regexp_replace(t.resource #>> '{identifier,0,value}', '[0-9]+$', substr(n.id, 3))))
		ELSE jsonb_set(t.resource, '{id}', to_jsonb(n.id)) END AS resource) r
CROSS JOIN LATERAL omnitask.task_search_columns(r.resource) c;
SQL
	else
		bench_load "$SCALE"
	fi
	# the sample data has no partOf, basedOn, focus, encounter,
	# groupIdentifier nor coded businessStatus: 5,000 subtasks of the first
	# 200 tasks have them (25 per parent, 50 per ServiceRequest, 10 per
	# Encounter), owned as their parent
	psql_b -d bench -q <<'SQL'
SELECT count(omnitask.import_task(jsonb_strip_nulls(jsonb_build_object(
	'resourceType', 'Task', 'id', 'bench-sub-' || g, 'intent', 'order', 'description', 'subtask ' || g,
	'status', (ARRAY['requested', 'in-progress', 'completed'])[1 + g % 3],
	'for', p.resource -> 'for', 'owner', p.resource -> 'owner',
	'partOf', jsonb_build_array(jsonb_build_object('reference', 'Task/' || p.id)),
	'basedOn', jsonb_build_array(jsonb_build_object('reference', 'ServiceRequest/bench-sr-' || g % 100)),
	'focus', jsonb_build_object('reference', 'ServiceRequest/bench-sr-' || g % 100),
	'encounter', jsonb_build_object('reference', 'Encounter/bench-enc-' || g % 500),
	'groupIdentifier', jsonb_build_object('system', 'urn:bench:group', 'value', 'G-' || g % 100),
	'businessStatus', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
		'system', 'urn:bench:stage', 'code', (ARRAY['triage', 'scheduled', 'waiting'])[1 + g % 3])))))))
FROM generate_series(0, 4999) g
JOIN (SELECT id, resource, row_number() OVER (ORDER BY id) - 1 AS k FROM omnitask.task ORDER BY id LIMIT 200) p ON p.k = g % 200;
SQL
fi
psql_b -d bench -c 'VACUUM ANALYZE omnitask.task'
[ "$LOADONLY" = 1 ] && exit 0

OUT=test/bench/results/search-$SCALE.md
psql_b -d bench -A -t -v calls="$CALLS" >"$T/table.md" <<'SQL'
SET client_min_messages = warning;
-- the busiest practitioner, one of its patients, a code, a day with tasks
SELECT owner_id AS owner FROM omnitask.task WHERE owner_id IS NOT NULL
	GROUP BY owner_id ORDER BY count(*) DESC, owner_id LIMIT 1 \gset
SELECT role_name AS prole FROM omnitask.practitioner WHERE id = :'owner' \gset
SELECT patient_id AS patient FROM omnitask.task WHERE owner_id = :'owner' ORDER BY id LIMIT 1 \gset
SELECT code FROM omnitask.task WHERE code IS NOT NULL GROUP BY code ORDER BY count(*) DESC LIMIT 1 \gset
SELECT to_char(max(authored_on) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS today FROM omnitask.task \gset
SELECT id AS some_id FROM omnitask.task ORDER BY id LIMIT 1 OFFSET 1000 \gset
-- date ranges across days: today's month, the week to today, three days
-- from noon to 06:00 (edges within a day)
SELECT to_char(:'today'::date, 'YYYY-MM') AS month,
	to_char(date_trunc('month', :'today'::date), 'YYYY-MM-DD') AS month_start,
	to_char(date_trunc('month', :'today'::date) + interval '1 month', 'YYYY-MM-DD') AS next_month,
	to_char(:'today'::date - 6, 'YYYY-MM-DD') AS week_start,
	to_char(:'today'::date - 3, 'YYYY-MM-DD') AS three_days_ago \gset
-- a range of over 62 days holding a small share: the first two days of
-- the data and the 100 days before them
SELECT to_char(min(authored_on) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS first_day FROM omnitask.task \gset
SELECT to_char(:'first_day'::date - 100, 'YYYY-MM-DD') AS long_start,
	to_char(:'first_day'::date + 2, 'YYYY-MM-DD') AS long_end \gset
-- a selective date: the last 50 writes (a real "changed since")
SELECT to_char(last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recent
	FROM omnitask.task ORDER BY last_updated DESC LIMIT 1 OFFSET 49 \gset
SELECT requester FROM omnitask.task WHERE requester IS NOT NULL GROUP BY requester ORDER BY count(*) DESC LIMIT 1 \gset
SELECT resource #>> '{identifier,0,system}' || '|' || (resource #>> '{identifier,0,value}') AS ident
	FROM omnitask.task WHERE resource ? 'identifier' ORDER BY id LIMIT 1 OFFSET 1000 \gset
SELECT min(id) AS parent FROM omnitask.task WHERE id NOT LIKE 'bench-sub-%' \gset
SELECT resource #>> '{performerType,0,coding,0,code}' AS performer FROM omnitask.task
	WHERE resource ? 'performerType' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1 \gset
SELECT owner_id AS sub_owner FROM omnitask.task WHERE id LIKE 'bench-sub-%' AND owner_id IS NOT NULL
	GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1 \gset
-- the practitioner, for search_icount.sh, which reads it from the results
SELECT format('The practitioner `%s` (owns the most tasks).', :'owner');
SELECT format('CREATE ROLE %I IN ROLE omnitask_practitioner', :'prole')
	WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'prole') \gexec
SELECT 'CREATE ROLE bench_admin IN ROLE omnitask_admin'
	WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_admin') \gexec
GRANT bench_admin TO postgres;
CREATE TEMP TABLE w (n int, label text, q text);
INSERT INTO w VALUES
	(1, '_id', '_id=' || :'some_id'),
	(2, 'status (large)', 'status=requested,accepted,in-progress'),
	(3, 'status:not', 'status:not=completed,cancelled'),
	(4, 'priority', 'priority=stat'),
	(5, 'intent', 'intent=order'),
	(6, 'owner', 'owner=' || :'owner'),
	(7, 'owner:missing', 'owner:missing=true'),
	(8, 'patient', 'patient=' || :'patient'),
	(9, 'requester', 'requester=' || :'requester'),
	(10, 'code', 'code=' || :'code'),
	(11, 'authored-on (a day)', 'authored-on=' || :'today'),
	(12, '_lastUpdated (gt)', '_lastUpdated=gt' || :'today'),
	(13, 'modified (ge)', 'modified=ge' || :'today'),
	(14, 'due-date (le)', 'due-date=le' || :'today'),
	(30, 'authored-on (a month)', 'authored-on=' || :'month'),
	(31, 'authored-on (ge, lt: a month)', 'authored-on=ge' || :'month_start' || '&authored-on=lt' || :'next_month'),
	(32, 'authored-on (a week)', 'authored-on=ge' || :'week_start' || '&authored-on=le' || :'today'),
	(33, 'authored-on (noon to 06:00, 3 days)', 'authored-on=ge' || :'three_days_ago' || 'T12:00:00Z&authored-on=lt' || :'today' || 'T06:00:00Z'),
	(34, '_lastUpdated (ge)', '_lastUpdated=ge' || :'today'),
	(35, 'authored-on (102 days, a small share)', 'authored-on=ge' || :'long_start' || '&authored-on=lt' || :'long_end'),
	(36, 'code authored this week (a range and a token)', 'code=' || :'code' || '&authored-on=ge' || :'week_start'),
	(37, 'code changed since (the last 50 writes)', 'code=' || :'code' || '&_lastUpdated=ge' || :'recent'),
	(15, 'identifier', 'identifier=' || :'ident'),
	(16, 'identifier:missing', 'identifier:missing=true'),
	(17, 'group-identifier', 'group-identifier=urn:bench:group|G-7'),
	(18, 'business-status', 'business-status=urn:bench:stage|waiting'),
	(19, 'performer (large)', 'performer=' || :'performer'),
	(20, 'part-of', 'part-of=' || :'parent'),
	(41, 'part-of:missing=false', 'part-of:missing=false'),
	(42, 'based-on', 'based-on=ServiceRequest/bench-sr-7'),
	(43, 'focus', 'focus=ServiceRequest/bench-sr-7'),
	(44, 'encounter', 'encounter=bench-enc-7'),
	(45, 'code:not', 'code:not=' || :'code'),
	(46, 'identifier (no match)', 'identifier=nonesuch'),
	(47, '_lastUpdated (ge, the last 50 writes)', '_lastUpdated=ge' || :'recent'),
	(48, 'changed since (the last 50 writes)', '_lastUpdated=ge' || :'recent' || '&_sort=_lastUpdated'),
	(51, 'my open tasks', 'owner=' || :'owner' || '&status=requested,accepted,in-progress&_sort=-priority,due-date'),
	(52, 'my tasks due this week', 'owner=' || :'owner' || '&due-date=le' || :'today' || '&status:not=completed,cancelled&_sort=due-date'),
	(53, 'patient open tasks', 'patient=' || :'patient' || '&status:not=completed,cancelled,entered-in-error'),
	(54, 'code authored today', 'code=' || :'code' || '&authored-on=' || :'today'),
	(55, 'unassigned ready', 'owner:missing=true&status=ready'),
	(56, 'changed since', '_lastUpdated=gt' || :'today' || '&_sort=_lastUpdated'),
	(57, 'open subtasks of a task', 'part-of=' || :'parent' || '&status:not=completed,cancelled'),
	(58, 'a referral and its subtasks', 'based-on=ServiceRequest/bench-sr-7&_revinclude=Task:part-of'),
	(59, 'my tasks at a stage', 'owner=' || :'sub_owner' || '&business-status=urn:bench:stage|waiting'),
	(60, 'open tasks of a code', 'code=' || :'code' || '&status=requested,accepted,in-progress'),
	(61, '_total=accurate (large)', 'status=requested,accepted,in-progress&_total=accurate'),
	(62, '_total=none (large)', 'status=requested,accepted,in-progress&_total=none'),
	(63, '_total=estimate (large)', 'status=requested,accepted,in-progress&_total=estimate'),
	(64, '_total=accurate (code, large)', 'code=' || :'code' || '&_total=accurate'),
	(65, '_total=none (code, large)', 'code=' || :'code' || '&_total=none');
-- the first page is measured without the count (the target of issue 17;
-- rows 61-65 compare the totals)
UPDATE w SET q = q || '&_total=none' WHERE q NOT LIKE '%_total=%';
UPDATE w SET q = q || '&_count=20';
CREATE TEMP TABLE m (n int, who text, ms float8);
GRANT ALL ON m TO PUBLIC;
GRANT SELECT ON w TO PUBLIC;
CREATE FUNCTION pg_temp.measure(who text, n int, q text) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE t0 timestamptz;
BEGIN
	t0 := clock_timestamp();
	PERFORM omnitask.search_tasks_query(q);
	INSERT INTO m VALUES (n, who, extract(epoch FROM clock_timestamp() - t0) * 1000);
END $f$;
-- warm-up: each search once per caller, each its own statement under a
-- timeout; a search slower than 5 s is reported from this call only and
-- left out of the rounds
CREATE TEMP TABLE once (n int, who text, ms float8);
GRANT ALL ON once TO PUBLIC;
CREATE FUNCTION pg_temp.warm(who text, n int, q text) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	PERFORM omnitask.search_tasks_query(q);
	INSERT INTO once VALUES (n, who, extract(epoch FROM clock_timestamp() - t0) * 1000);
EXCEPTION WHEN query_canceled THEN
	INSERT INTO once VALUES (n, who, NULL);
END $f$;
SET statement_timeout = '30s';
SELECT format('SELECT pg_temp.warm(%L, %s, %L)', 'super', n, q) FROM w ORDER BY n \gexec
SET ROLE bench_admin;
SELECT format('SELECT pg_temp.warm(%L, %s, %L)', 'admin', n, q) FROM w ORDER BY n \gexec
RESET ROLE;
SELECT format('SET ROLE %I', :'prole') \gexec
SELECT format('SELECT pg_temp.warm(%L, %s, %L)', 'practitioner', n, q) FROM w ORDER BY n \gexec
RESET ROLE;
RESET statement_timeout;
CREATE TEMP TABLE fast AS SELECT n FROM w WHERE NOT EXISTS (SELECT FROM once o WHERE o.n = w.n AND (o.ms IS NULL OR o.ms > 5000));
GRANT SELECT ON fast TO PUBLIC;
-- interleaved: each round runs every search as each caller
SELECT format($g$
	RESET ROLE; SELECT pg_temp.measure('super', n, q) FROM w NATURAL JOIN fast;
	SET ROLE bench_admin; SELECT pg_temp.measure('admin', n, q) FROM w NATURAL JOIN fast;
	SET ROLE %I; SELECT pg_temp.measure('practitioner', n, q) FROM w NATURAL JOIN fast;
	RESET ROLE$g$, :'prole')
FROM generate_series(1, :calls) \gexec
SELECT '| search | query | superuser (no RLS) ms | admin (RLS) ms | RLS / no RLS | practitioner (own tasks) ms |';
SELECT '|---|---|---|---|---|---|';
SELECT format('| %s | `%s` | %s | %s | %sx | %s |', w.label, w.q, round(s::numeric, 3), round(a::numeric, 3),
			  round((a / NULLIF(s, 0))::numeric, 2), round(p::numeric, 3))
FROM w NATURAL JOIN fast, LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE who = 'super') AS s,
						percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE who = 'admin') AS a,
						percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE who = 'practitioner') AS p
				 FROM m WHERE m.n = w.n) x
ORDER BY w.n;
SELECT format('| %s (one call each: over 5 s, or over 30 s = timeout) | `%s` | %s | %s | | %s |', w.label, w.q,
			  coalesce(round(s::numeric)::text, 'timeout'), coalesce(round(a::numeric)::text, 'timeout'),
			  coalesce(round(p::numeric)::text, 'timeout'))
FROM w, LATERAL (SELECT max(ms) FILTER (WHERE who = 'super') AS s, max(ms) FILTER (WHERE who = 'admin') AS a,
						max(ms) FILTER (WHERE who = 'practitioner') AS p FROM once o WHERE o.n = w.n) x
WHERE w.n NOT IN (SELECT n FROM fast)
ORDER BY w.n;
SELECT format('accurate / none (%s, admin): %sx', label,
	round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM m WHERE n = a AND who = 'admin')::numeric
		  / NULLIF((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM m WHERE n = b AND who = 'admin'), 0)::numeric, 2))
FROM (VALUES (61, 62, 'status, large result set'), (64, 65, 'code, large result set')) v(a, b, label);
SQL
{
	echo "Search benchmark, $(date -u +%Y-%m-%d) commit $(git rev-parse --short HEAD), $SCALE tasks,"
	echo "$(nproc) cores, PostgreSQL $($PGBIN/pg_config --version | cut -d' ' -f2), median of $CALLS calls per caller, load average at start $(cut -d' ' -f1 /proc/loadavg)."
	echo
	sed "/^$/d" "$T/table.md"
} >"$OUT"
cat "$OUT"
