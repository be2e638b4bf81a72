#!/usr/bin/env bash
# omnitask write paths in durable mode: CPU time per operation of the whole
# cluster (client backends, the NOTIFY relay, the WAL writer, everything the
# postmaster started), this tree against an older build, notify on and off.
#
#   bash test/bench/cpu_ab.sh [--tx N] [--rounds R] [--tasks N]
#
# What icount.sh cannot see: it counts one single-user process, where NOTIFY
# is sent by the writer itself and no relay, WAL writer or group commit
# exists.  Wall-clock ratios (run.sh) see all of it but swing with the load
# of a shared machine; CPU time (utime + stime from /proc, 10 ms ticks,
# summed over the postmaster, its live children and the children it has
# reaped) is what the writes cost the machine and moves far less with load.
#
# Needs the old build of run.sh --ab (test/tmp/bench/ab: its PostgreSQL copy
# and its source tree, whose sample data and workloads the old side uses).
# Each side gets its own cluster (synchronous_commit = on, autovacuum off)
# with --tasks generated tasks; each round runs pgbench -M prepared with 4
# clients x N transactions per workload: create_task and set_task_status,
# notify on and off, and their floors, the two sides alternating first.
# Prints CPU ms per operation, the median of the rounds.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TOP=$(pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PORT:-54339}
TX=500
ROUNDS=3
TASKS=5000
CLIENTS=4
while [ $# -gt 0 ]; do
	case "$1" in
		--tx) TX=$2; shift 2 ;;
		--rounds) ROUNDS=$2; shift 2 ;;
		--tasks) TASKS=$2; shift 2 ;;
		-h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) echo "cpu_ab.sh: unrecognized argument \"$1\" (see --help)" >&2; exit 2 ;;
	esac
done
AB=$TOP/test/tmp/bench/ab
T=$TOP/test/tmp/cpu_ab
[ -f "$AB/rev" ] || { echo "cpu_ab.sh: no old build in test/tmp/bench/ab (run.sh --ab REV builds it)" >&2; exit 1; }
OLD_PGBIN=$(dirname "$(find "$AB/pg" -path '*/bin/pg_config' | head -1)")
HZ=$(getconf CLK_TCK)

note() { printf '== %s\n' "$*"; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
side_bin() { if [ "$1" = new ]; then echo "$PGBIN"; else echo "$OLD_PGBIN"; fi; }
side_src() { if [ "$1" = new ]; then echo "$TOP"; else echo "$AB/src"; fi; }
side_port() { if [ "$1" = new ]; then echo "$PORT"; else echo $((PORT + 1)); fi; }
psql_side() { local s=$1; shift; as_pg "$(side_bin "$s")/psql" -X -q -v ON_ERROR_STOP=1 -h "$T/sock-$s" -p "$(side_port "$s")" -U postgres "$@"; }

# cluster_ticks SIDE: CPU ticks used so far by the side's postmaster and every process it started
cluster_ticks() {
	local pm kids
	pm=$(head -1 "$T/$1/postmaster.pid")
	kids=$(pgrep -P "$pm" | tr '\n' ' ')
	# utime stime (fields 14 15) of each, cutime cstime (16 17) of the postmaster: its reaped children
	# shellcheck disable=SC2086
	for p in $pm $kids; do cat "/proc/$p/stat" 2>/dev/null || true; done |
		sed 's/^.*) //' | awk -v pm="$pm" 'NR == 1 { t += $12 + $13 + $14 + $15; next } { t += $12 + $13 } END { print t }'
}

stop_all() {
	local s
	for s in new old; do
		[ -f "$T/$s/postmaster.pid" ] && as_pg "$(side_bin $s)/pg_ctl" -D "$T/$s" -m fast -w stop >/dev/null 2>&1 || true
	done
}
trap stop_all EXIT

for s in new old; do
	rm -rf "${T:?}/$s" "$T/sock-$s"; mkdir -p "$T/sock-$s"
	[ "$(id -u)" = 0 ] && chown -R postgres: "$T"
	as_pg "$(side_bin $s)/initdb" -D "$T/$s" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
	cat >>"$T/$s/postgresql.conf" <<-EOF
	listen_addresses = ''
	shared_buffers = 256MB
	max_wal_size = 4GB
	checkpoint_timeout = 30min
	synchronous_commit = on
	autovacuum = off
	jit = off
	shared_preload_libraries = 'omnitask'
	EOF
	as_pg "$(side_bin $s)/pg_ctl" -D "$T/$s" -l "$T/$s.log" -w -o "-p $(side_port $s) -k $T/sock-$s" start >/dev/null
	note "$s: loading $TASKS tasks and the bench fixtures ($(side_src $s))"
	psql_side $s -d postgres -c "CREATE DATABASE b" >/dev/null
	psql_side $s -d b -c "CREATE EXTENSION omnitask" >/dev/null
	psql_side $s -d b -v n="$TASKS" -v practitioners=40 -v patients=2000 -f "$(side_src $s)/test/sample/generate.sql" >/dev/null
	psql_side $s -d b -f "$(side_src $s)/test/bench/plpgsql_baseline.sql" >/dev/null
	psql_side $s -d b -v ndocs=1000 -v nval=10 -v owner=pr-0001 -f "$(side_src $s)/test/bench/setup.sql" >/dev/null 2>&1
	psql_side $s -d b -c "VACUUM ANALYZE" -c CHECKPOINT >/dev/null
done

# run SIDE WORKLOAD: CPU ms and WAL bytes per operation of one pgbench run
run() {
	local s=$1 w=$2 file opts= pool t0 t1 l0 l1
	case $w in
		*_nonotify) file=${w%_nonotify}.sql; opts="-c omnitask.notify=off" ;;
		*) file=$w.sql ;;
	esac
	pool=$(psql_side "$s" -d b -A -t -c "SELECT count(*) FROM bench.status_pool")
	psql_side "$s" -d b -c CHECKPOINT >/dev/null
	l0=$(psql_side "$s" -d b -A -t -c "SELECT pg_current_wal_lsn()")
	t0=$(cluster_ticks "$s")
	as_pg env PGOPTIONS="$opts" "$(side_bin "$s")/pgbench" -n -M prepared -c $CLIENTS -j 2 -t "$TX" \
		-h "$T/sock-$s" -p "$(side_port "$s")" -U postgres -f "$(side_src "$s")/test/bench/workloads/$file" \
		-D ndocs=1000 -D nclients=$CLIENTS -D perclient=$((pool / CLIENTS)) -D owner=pr-0001 b >"$T/pgbench.out" 2>&1 ||
		{ cat "$T/pgbench.out"; exit 1; }
	sleep 0.5					# the relay's last batch, the backends' exit
	t1=$(cluster_ticks "$s")
	l1=$(psql_side "$s" -d b -A -t -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$l0') / $((CLIENTS * TX)))")
	awk -v d=$((t1 - t0)) -v hz="$HZ" -v n=$((CLIENTS * TX)) -v wal="$l1" 'BEGIN { printf "%.4f\t%d", d * 1000 / hz / n, wal }'
}

WORKLOADS="create_omni create_omni_nonotify create_floor status_omni status_omni_nonotify status_floor"
RESULTS=$T/results.tsv
: >"$RESULTS"
note "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
	for w in $WORKLOADS; do
		if [ $((r % 2)) = 1 ]; then order="new old"; else order="old new"; fi
		for s in $order; do
			m=$(run "$s" "$w")
			printf '%s\t%s\t%s\t%s\n' "$r" "$s" "$w" "$m" >>"$RESULTS"
			note "round $r $s $w: ${m%%$'\t'*} CPU ms/op, ${m##*$'\t'} WAL bytes/op"
		done
	done
done
note "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# the medians, and the ratios to each side's floor
python3 - "$RESULTS" "$(git -C "$TOP" rev-parse --short HEAD)" "$(git -C "$TOP" rev-parse --short "$(cat "$AB/rev")")" <<'EOF'
import sys, statistics, collections
rows = collections.defaultdict(list)
wals = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r, s, w, ms, wal = line.split('\t')
    rows[(s, w)].append(float(ms))
    wals[(s, w)].append(int(wal))
med = {k: statistics.median(v) for k, v in rows.items()}
print(f"| workload | new ({sys.argv[2]}) CPU ms/op | ratio to floor | WAL bytes/op | old ({sys.argv[3]}) CPU ms/op | ratio to floor | WAL bytes/op |")
print("|---|---|---|---|---|---|---|")
for w in ("create_omni", "create_omni_nonotify", "create_floor", "status_omni", "status_omni_nonotify", "status_floor"):
    floor = w.split('_')[0] + "_floor"
    cells = []
    for s in ("new", "old"):
        m = med.get((s, w))
        f = med.get((s, floor))
        cells += [f"{m:.3f}", f"{m / f:.2f}x" if m and f else "-", f"{statistics.median(wals[(s, w)]):,.0f}"]
    print(f"| {w} | " + " | ".join(cells) + " |")
EOF
