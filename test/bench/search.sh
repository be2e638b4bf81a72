#!/usr/bin/env bash
# Search benchmark: the first page of search_tasks_query for each
# single-parameter search and the common worklist combinations, _total=none
# against accurate, and each with and without row-level security, on the
# same data in the same run.
#
#   bash test/bench/search.sh [--scale N] [--calls C] [--no-build]
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
SCALE=1000000 CALLS=31 BUILD=1
while [ $# -gt 0 ]; do
	case "$1" in
		--scale) SCALE=$2; shift 2 ;;
		--calls) CALLS=$2; shift 2 ;;
		--no-build) BUILD=0; shift ;;
		*) echo "search.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
. test/bench/lib.sh
[ "$BUILD" = 1 ] && bench_build
bench_new_cluster
trap bench_stop EXIT
bench_load "$SCALE"
psql_b -d bench -c 'VACUUM ANALYZE omnitask.task'

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
SELECT requester FROM omnitask.task WHERE requester IS NOT NULL GROUP BY requester ORDER BY count(*) DESC LIMIT 1 \gset
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
	(15, 'identifier', 'identifier=nonesuch'),
	(16, 'part-of', 'part-of=' || :'some_id'),
	(21, 'my open tasks', 'owner=' || :'owner' || '&status=requested,accepted,in-progress&_sort=-priority,due-date'),
	(22, 'my tasks due this week', 'owner=' || :'owner' || '&due-date=le' || :'today' || '&status:not=completed,cancelled&_sort=due-date'),
	(23, 'patient open tasks', 'patient=' || :'patient' || '&status:not=completed,cancelled,entered-in-error'),
	(24, 'code authored today', 'code=' || :'code' || '&authored-on=' || :'today'),
	(25, 'unassigned ready', 'owner:missing=true&status=ready'),
	(26, 'changed since', '_lastUpdated=gt' || :'today' || '&_sort=_lastUpdated'),
	(31, '_total=accurate (large)', 'status=requested,accepted,in-progress&_total=accurate'),
	(32, '_total=none (large)', 'status=requested,accepted,in-progress&_total=none');
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
SELECT omnitask.search_tasks_query(q) IS NOT NULL FROM w \g /dev/null
SET ROLE bench_admin; SELECT omnitask.search_tasks_query(q) IS NOT NULL FROM w \g /dev/null
RESET ROLE;
SELECT format('SET ROLE %I; SELECT omnitask.search_tasks_query(q) IS NOT NULL FROM w', :'prole') \gexec
RESET ROLE;
-- interleaved: each round runs every search as each caller
SELECT format($g$
	RESET ROLE; SELECT pg_temp.measure('super', n, q) FROM w;
	SET ROLE bench_admin; SELECT pg_temp.measure('admin', n, q) FROM w;
	SET ROLE %I; SELECT pg_temp.measure('practitioner', n, q) FROM w;
	RESET ROLE$g$, :'prole')
FROM generate_series(1, :calls) \gexec
SELECT '| search | query | superuser (no RLS) ms | admin (RLS) ms | RLS / no RLS | practitioner (own tasks) ms |';
SELECT '|---|---|---|---|---|---|';
SELECT format('| %s | `%s` | %s | %s | %sx | %s |', w.label, w.q, round(s::numeric, 3), round(a::numeric, 3),
			  round((a / NULLIF(s, 0))::numeric, 2), round(p::numeric, 3))
FROM w, LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE who = 'super') AS s,
						percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE who = 'admin') AS a,
						percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE who = 'practitioner') AS p
				 FROM m WHERE m.n = w.n) x
ORDER BY w.n;
SELECT format('accurate / none (large result set, admin): %sx',
	round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM m WHERE n = 31 AND who = 'admin')::numeric
		  / NULLIF((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM m WHERE n = 32 AND who = 'admin'), 0)::numeric, 2));
SQL
{
	echo "Search benchmark, $(date -u +%Y-%m-%d) commit $(git rev-parse --short HEAD), $SCALE tasks,"
	echo "$(nproc) cores, PostgreSQL $($PGBIN/pg_config --version | cut -d' ' -f2), median of $CALLS calls per caller, load average at start $(cut -d' ' -f1 /proc/loadavg)."
	echo
	sed "/^$/d" "$T/table.md"
} >"$OUT"
cat "$OUT"
