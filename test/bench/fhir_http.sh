#!/usr/bin/env bash
# FHIR over HTTP benchmark: each endpoint of schema fhir against the bare
# SQL function it wraps, conditional create against plain create, and a
# change-feed page of 100, on the same data in the same run.
#
#   bash test/bench/fhir_http.sh [--scale N] [--duration S] [--rounds R] [--no-build]
#
# Own throwaway cluster in test/tmp/bench_fhir (port $BENCH_PORT, default
# 54339); sample data from test/sample/generate.sql at N tasks (default
# 100000).  Each pair runs interleaved (bare, http, bare, http, ...) for R
# rounds (default 3) of S seconds (default 5); the ratio is the median of
# the per-round throughput ratios bare/http (1.00 = no overhead).  Reads use
# 2 clients, writes 2 clients, pgbench -M prepared; every script runs the
# transaction PostgREST runs (request.headers set, then the call), the bare
# one included.  Writes a table to test/bench/results/fhir_http-N.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TOP=$(pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PORT:-54339}
T=$TOP/test/tmp/bench_fhir
SCALE=100000 DURATION=5 ROUNDS=3 BUILD=1
while [ $# -gt 0 ]; do
	case "$1" in
		--scale) SCALE=$2; shift 2 ;;
		--duration) DURATION=$2; shift 2 ;;
		--rounds) ROUNDS=$2; shift 2 ;;
		--no-build) BUILD=0; shift ;;
		*) echo "fhir_http.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_b() { as_pg $PGBIN/psql -X -q -v ON_ERROR_STOP=1 -h "$T/sock" -p "$PORT" -U postgres "$@"; }

if [ "$BUILD" = 1 ]; then
	make -s PG_CONFIG=$PGBIN/pg_config >/dev/null
	if [ "$(id -u)" = 0 ]; then make -s PG_CONFIG=$PGBIN/pg_config install >/dev/null; else sudo make -s PG_CONFIG=$PGBIN/pg_config install >/dev/null; fi
fi
stop() { [ -f "$T/cluster/postmaster.pid" ] && as_pg $PGBIN/pg_ctl -D "$T/cluster" -m fast stop >/dev/null || true; }
stop
rm -rf "$T" && mkdir -p "$T/sock" "$T/logs"
[ "$(id -u)" = 0 ] && chown -R postgres: "$T"
as_pg $PGBIN/initdb -D "$T/cluster" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
cat >>"$T/cluster/postgresql.conf" <<CONF
listen_addresses = ''
shared_buffers = 1GB
work_mem = 32MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
checkpoint_timeout = 30min
synchronous_commit = on
jit = off
random_page_cost = 1.1
shared_preload_libraries = 'omnitask'
CONF
as_pg $PGBIN/pg_ctl -D "$T/cluster" -l "$T/cluster.log" -w -o "-p $PORT -k $T/sock" start >/dev/null
trap stop EXIT

echo "== loading $SCALE tasks"
psql_b -d postgres -c 'CREATE DATABASE bench'
psql_b -d bench -c 'CREATE EXTENSION omnitask'
psql_b -d bench -v n="$SCALE" -v practitioners=$((SCALE / 500 + 20)) -v patients=$((SCALE / 10 + 200)) -f test/sample/generate.sql >/dev/null
psql_b -d bench -A -t -f test/bench/fhir/setup.sql | tail -1 | tee "$T/logs/setup.txt"
NPOOL=$(psql_b -d bench -A -t -c 'SELECT count(*) FROM bench_fhir.open_pool')
NCUR=$(psql_b -d bench -A -t -c 'SELECT count(*) FROM bench_fhir.cursors')

# one pgbench run; prints "tps latency_ms"
run() {
	local script=$1
	as_pg $PGBIN/pgbench -n -M prepared -c 2 -j 2 -T "$DURATION" -h "$T/sock" -p "$PORT" -U postgres \
		-D ntasks="$SCALE" -D npool="$NPOOL" -D ncursors="$NCUR" -f "test/bench/fhir/$script.sql" bench \
		>"$T/logs/$script.out" 2>&1 || { echo "pgbench $script failed:" >&2; tail -5 "$T/logs/$script.out" >&2; exit 1; }
	printf '%s %s\n' "$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$T/logs/$script.out")" \
		"$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$T/logs/$script.out")"
}

OUT=test/bench/results/fhir_http-$SCALE.md
{
	echo "FHIR over HTTP benchmark, $(date -u +%Y-%m-%d) commit $(git rev-parse --short HEAD), $SCALE tasks,"
	echo "$(nproc) cores, PostgreSQL $($PGBIN/pg_config --version | cut -d' ' -f2), $ROUNDS rounds x ${DURATION} s, 2 clients, load average at start $(cut -d' ' -f1 /proc/loadavg)."
	echo "Setup: $(cat "$T/logs/setup.txt")"
	echo
	echo "| pair (baseline / measured) | baseline tps | measured tps | measured latency | ratio (median of rounds) | target |"
	echo "|---|---|---|---|---|---|"
} >"$OUT"
for pair in read_bare:read_http:1.1 create_bare:create_http:1.1 patch_bare:patch_http:1.1 search_bare:search_http:1.1 \
			history_bare:history_http:1.1 feed_bare:feed_http:1.1 create_ident:create_cond:1.2; do
	IFS=: read -r a b target <<<"$pair"
	ratios=() ta=() tb=() lb=()
	for r in $(seq "$ROUNDS"); do
		read -r t1 l1 < <(run "$a")
		read -r t2 l2 < <(run "$b")
		ratios+=("$(awk -v x="$t1" -v y="$t2" 'BEGIN { printf "%.3f", x / y }')")
		ta+=("$t1") tb+=("$t2") lb+=("$l2")
	done
	med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
	line="| $a / $b | $(med "${ta[@]}") | $(med "${tb[@]}") | $(med "${lb[@]}") ms | $(med "${ratios[@]}")x | <= ${target}x |"
	echo "$line" | tee -a "$OUT"
done
