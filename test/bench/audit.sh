#!/usr/bin/env bash
# Read audit benchmark: the read workloads of test/bench with omnitask.audit
# off against table, log and both, interleaved in the same run, on the same
# data.  A ratio is (time per op with the mode) / (time per op with off),
# the median of the per-round ratios; also best of N (the fastest round of
# the mode against the fastest round of off).
#
#   bash test/bench/audit.sh [--scale N] [--duration S] [--rounds N] [--clients N] [--modes "off table"]
#                            [--no-build] [--keep] [--reuse]
#                            [--callgrind [--n1 N] [--n2 N] [--workloads "read_task ..."]]
#   --reuse: use the cluster and data a previous --keep run left (restarted, not reloaded)
#   --callgrind: count instructions instead of timing (below); scale 10000 unless given
#
# Runs its own throwaway cluster in test/tmp/bench_audit (port $BENCH_PORT,
# default 54339; omnitask preloaded); writes test/bench/results/audit.md
# (--callgrind: audit-callgrind.md).
# Targets (issue 16): read_task and the worklist within 1.1x, search within 1.15x.
#
# --callgrind: the whole server (postmaster, every backend, the audit
# writer, the WAL writer, ...) runs under valgrind's callgrind, which counts
# the instructions each process executes, from its main function on (a
# forked child's output would otherwise also hold the postmaster's start-up
# again); the outputs' totals are summed.  Each workload runs N1 and then N2
# reads (pgbench, 1 client, fixed random seed), each in a fresh server with
# autovacuum off (its timed runs would land in one run only); the marginal
# cost of one read is (total(N2) - total(N1)) / (N2 - N1), which cancels what
# every run pays once (start, connection, shutdown).  Unlike time or /proc
# CPU it does not depend on what else the machine runs; it does not count
# the kernel's work (fdatasync, page faults) nor waiting.  Under valgrind a
# read is ~50x slower, so the writer's batches (one per 200 ms) hold fewer
# records than at full speed, and its per-batch work weighs more per read.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TOP=$(pwd)
BENCH=$TOP/test/bench
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PORT:-54339}
TMPB=$TOP/test/tmp/bench_audit
DATA=$TMPB/cluster
SOCK=$TMPB/sock
SCALE=100000
DURATION=5
ROUNDS=3
CLIENTS=2
BUILD=1
KEEP=0
REUSE=0
MODES="off table log both"
CALLGRIND=0
N1=200
N2=1200
WORKLOADS="read_task worklist_rls search_rls"
SCALE_SET=0
while [ $# -gt 0 ]; do
	case "$1" in
		--scale) SCALE=$2; SCALE_SET=1; shift 2 ;;
		--callgrind) CALLGRIND=1; shift ;;
		--n1) N1=$2; shift 2 ;;
		--n2) N2=$2; shift 2 ;;
		--workloads) WORKLOADS=$2; shift 2 ;;
		--duration) DURATION=$2; shift 2 ;;
		--rounds) ROUNDS=$2; shift 2 ;;
		--clients) CLIENTS=$2; shift 2 ;;
		--modes) MODES=$2; shift 2 ;;
		--no-build) BUILD=0; shift ;;
		--keep) KEEP=1; shift ;;
		--reuse) REUSE=1; shift ;;
		-h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) echo "audit.sh: unrecognized argument $1" >&2; exit 2 ;;
	esac
done
if [ "$CALLGRIND" = 1 ]; then
	[ "$SCALE_SET" = 1 ] || SCALE=10000
	[ "$MODES" = "off table log both" ] && MODES="off table"
	TMPB=$TOP/test/tmp/bench_callgrind
	DATA=$TMPB/cluster
	SOCK=$TMPB/sock
fi

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres)
DB=bench_audit

if [ "$BUILD" = 1 ]; then
	make -s PG_CONFIG="$PGBIN/pg_config" >/dev/null
	if [ "$(id -u)" = 0 ]; then make -s PG_CONFIG="$PGBIN/pg_config" install >/dev/null; else sudo make -s PG_CONFIG="$PGBIN/pg_config" install >/dev/null; fi
fi

stop_cluster() { as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true; }
stop_cluster
if [ "$REUSE" = 1 ] && [ -d "$DATA" ]; then
	as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$TMPB/cluster.log" -w -o "-p $PORT -k $SOCK" start >/dev/null
	[ "$KEEP" = 1 ] || trap stop_cluster EXIT
	"${PSQL[@]}" -d bench_audit -c "ALTER TABLE omnitask.audit_log DISABLE TRIGGER audit_log_append_only" -c "TRUNCATE omnitask.audit_log" -c "ALTER TABLE omnitask.audit_log ENABLE TRIGGER audit_log_append_only" >/dev/null
else
REUSE=0
rm -rf "$TMPB"
mkdir -p "$TMPB" "$SOCK"
[ "$(id -u)" = 0 ] && chown -R postgres: "$TMPB"
as_pg "$PGBIN/initdb" -D "$DATA" -U postgres >/dev/null
cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = ''
shared_buffers = 512MB
max_wal_size = 4GB
checkpoint_timeout = 30min
synchronous_commit = on
jit = off
shared_preload_libraries = 'omnitask'
log_min_messages = log
EOF
as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$TMPB/cluster.log" -w -o "-p $PORT -k $SOCK" start >/dev/null
[ "$KEEP" = 1 ] || trap stop_cluster EXIT

PRACT=$(( SCALE * 2000 / 1000000 )); [ $PRACT -lt 20 ] && PRACT=20
PATIENTS=$(( SCALE * 100000 / 1000000 )); [ $PATIENTS -lt 200 ] && PATIENTS=200
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" >/dev/null
"${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION omnitask" -c "CREATE ROLE pract_0001 LOGIN IN ROLE omnitask_practitioner" >/dev/null 2>&1 || true
echo "loading $SCALE tasks"
"${PSQL[@]}" -d "$DB" -v n="$SCALE" -v practitioners="$PRACT" -v patients="$PATIENTS" -f test/sample/generate.sql >"$TMPB/generate.out" 2>&1 ||
	{ cat "$TMPB/generate.out"; exit 1; }
"${PSQL[@]}" -d "$DB" -c "VACUUM ANALYZE" >/dev/null
sync
fi

if [ "$CALLGRIND" = 1 ]; then
	stop_cluster
	SERVER_PID=
	# wait_ready: polls until the server accepts connections (valgrind makes
	# its start slow), at most 10 minutes.
	wait_ready() {
		local i
		for i in $(seq 1 1200); do
			"$PGBIN/pg_isready" -q -h "$SOCK" -p "$PORT" && return 0
			sleep 0.5
		done
		echo "audit_callgrind.sh: the server did not start" >&2
		exit 1
	}

	stop_server() {
		as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 900 stop >/dev/null 2>&1 || true
		[ -n "$SERVER_PID" ] && wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	}

	# wal_writer_warm_up: the first time the WAL writer flushes WAL that
	# someone else wrote (here the audit writer's asynchronous commits), it
	# also initializes every free WAL buffer ahead of use (PostgreSQL's
	# XLogBackgroundFlush: 16 MB of wal_buffers, ~2.2 million instructions
	# under callgrind), once per server start.  Without a warm-up only the
	# longer run of a mode that writes WAL pays it, and the marginal cost of
	# a read would include ~4,500 instructions that no read causes.  So
	# every run first leaves one asynchronous commit for the WAL writer and
	# waits until it is flushed.
	wal_writer_warm_up() {
		"${PSQL[@]}" -d "$DB" -c "SET synchronous_commit = off" -c "SELECT txid_current()" \
			-c "DO \$\$ DECLARE target pg_lsn := pg_current_wal_insert_lsn(); BEGIN
				FOR i IN 1..6000 LOOP EXIT WHEN pg_current_wal_flush_lsn() >= target; PERFORM pg_sleep(0.1); END LOOP;
				IF pg_current_wal_flush_lsn() < target THEN RAISE 'the WAL writer did not flush'; END IF; END \$\$" >/dev/null
	}

	# run WORKLOAD USER MODE N -> "total_instructions writer_instructions"
	cg_run() {
		local wl=$1 user=$2 mode=$3 n=$4 out
		out=$TMPB/cg/$wl-$mode-$n
		rm -rf "$out"
		mkdir -p "$out"
		[ "$(id -u)" = 0 ] && chown postgres: "$out"
		# a fresh server per run; start from the same table state
		as_pg "$PGBIN/postgres" -D "$DATA" -p "$PORT" -k "$SOCK" -c "omnitask.audit=off" >"$TMPB/truncate.log" 2>&1 &
		SERVER_PID=$!
		wait_ready
		"${PSQL[@]}" -d "$DB" -c "ALTER TABLE omnitask.audit_log DISABLE TRIGGER audit_log_append_only" \
			-c "TRUNCATE omnitask.audit_log" -c "ALTER TABLE omnitask.audit_log ENABLE TRIGGER audit_log_append_only" \
			-c "CHECKPOINT" >/dev/null
		stop_server
		as_pg valgrind --tool=callgrind --trace-children=yes --dump-instr=no --collect-jumps=no \
			"${TOGGLES[@]}" \
			--callgrind-out-file="$out/cg.%p" \
			"$PGBIN/postgres" -D "$DATA" -p "$PORT" -k "$SOCK" -c "omnitask.audit=$mode" -c autovacuum=off >"$out/server.log" 2>&1 &
		SERVER_PID=$!
		wait_ready
		wal_writer_warm_up
		as_pg "$PGBIN/pgbench" -n -M prepared -c 1 -t "$n" --random-seed=42 -h "$SOCK" -p "$PORT" -U "$user" \
			-f "$BENCH/workloads/$wl.sql" -D ntasks="$SCALE" -D owner=pr-0001 "$DB" >"$out/pgbench.out" 2>&1 ||
			{ cat "$out/pgbench.out"; exit 1; }
		# fast shutdown: the audit writer drains its ring before it exits
		stop_server
		python3 - "$out" <<-'PY'
	import glob, re, sys
	total = writer = 0
	for f in glob.glob(sys.argv[1] + '/cg.*'):
	    text = open(f, errors='replace').read()
	    m = re.search(r'^totals: (\d+)', text, re.M) or re.search(r'^summary: (\d+)', text, re.M)
	    if not m:
	        continue
	    total += int(m.group(1))
	    if 'omnitask_audit_writer_main' in text:
	        writer += int(m.group(1))
	print(total, writer)
	PY
	}

	# Only the work of the processes that serve reads is counted, from their
	# main function on: a forked child's output would otherwise also hold the
	# postmaster's start-up, counted again for every child.
	TOGGLES=()
	for f in PostgresMain omnitask_audit_writer_main WalWriterMain CheckpointerMain BackgroundWriterMain; do
		TOGGLES+=("--toggle-collect=$f")
	done

	RES=$TMPB/cg_runs.tsv
	: >"$RES"
	for wl in $WORKLOADS; do
		user=postgres
		[ "$wl" = read_task ] || user=pract_0001
		for mode in $MODES; do
			for n in "$N1" "$N2"; do
				read -r total writer <<<"$(cg_run "$wl" "$user" "$mode" "$n")"
				printf '%s\t%s\t%s\t%s\t%s\n' "$wl" "$mode" "$n" "$total" "$writer" | tee -a "$RES"
			done
		done
	done

	OUT=$BENCH/results/audit-callgrind.md
	{
		echo "# Read audit: instructions per read (test/bench/audit.sh --callgrind)"
		echo
		echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $SCALE tasks, 1 client, $N1 and $N2 reads per run, modes $MODES, commit $(git rev-parse --short HEAD)"
		echo
		echo "Marginal instructions per read of the whole server, (total($N2) - total($N1)) / ($N2 - $N1); the audit writer's share; ratio to off."
		echo
		echo "| workload | mode | instructions per read | of which the audit writer | vs off | target |"
		echo "|---|---|---|---|---|---|"
		python3 - "$RES" "$N1" "$N2" <<-'PY'
	import sys, collections
	rows = [l.split('\t') for l in open(sys.argv[1]).read().split('\n') if l.strip()]
	n1, n2 = int(sys.argv[2]), int(sys.argv[3])
	d = collections.defaultdict(dict)
	order = []
	for wl, mode, n, total, writer in rows:
	    d[(wl, mode)][int(n)] = (int(total), int(writer))
	    if (wl, mode) not in order:
	        order.append((wl, mode))
	target = {'read_task': 1.10, 'worklist_rls': 1.10, 'search_rls': 1.15}
	def marginal(wl, mode, i):
	    a, b = d[(wl, mode)].get(n1), d[(wl, mode)].get(n2)
	    return (b[i] - a[i]) / (n2 - n1) if a and b else float('nan')
	for wl, mode in order:
	    m = marginal(wl, mode, 0)
	    w = marginal(wl, mode, 1)
	    off = marginal(wl, 'off', 0) if (wl, 'off') in d else float('nan')
	    r = m / off
	    mark = '' if mode == 'off' else ('PASS' if r <= target.get(wl, 1.1) else 'MISS') + ' (%.2fx)' % target.get(wl, 1.1)
	    print('| %s | %s | %.0f | %.0f | %.3f | %s |' % (wl, mode, m, w, r, mark))
	PY
	} >"$OUT"
	cat "$OUT"
	exit 0
fi

# CPU seconds the cluster used so far: the postmaster's reaped children
# (backends that exited) plus every live child (the audit writer, the
# checkpointer, ...).  Robust to other work on the machine, unlike tps.
cluster_cpu() {
	local pm hz
	pm=$(head -1 "$DATA/postmaster.pid")
	hz=$(getconf CLK_TCK)
	python3 - "$pm" "$hz" <<'PY'
import os, sys
pm, hz = sys.argv[1], int(sys.argv[2])
def stat(p):
    s = open('/proc/%s/stat' % p).read()
    return s[s.rindex(')') + 2:].split()
f = stat(pm)
ticks = int(f[13]) + int(f[14]) + int(f[15]) + int(f[16])
for p in os.listdir('/proc'):
    if not p.isdigit():
        continue
    try:
        g = stat(p)
    except OSError:
        continue
    if g[1] == pm:
        ticks += int(g[11]) + int(g[12])
print('%.2f' % (ticks / hz))
PY
}

# one run: WORKLOAD USER MODE -> "tps ops cpu_seconds"
run() {
	local wl=$1 user=$2 mode=$3 out c0 c1 ops
	"${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET omnitask.audit = '$mode'" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.3
	c0=$(cluster_cpu)
	out=$(as_pg "$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j 2 -T "$DURATION" -h "$SOCK" -p "$PORT" -U "$user" \
		-f "$BENCH/workloads/$wl.sql" -D ntasks="$SCALE" -D owner=pr-0001 "$DB" 2>&1)
	# the writer's share: wait until it has inserted everything queued
	for _ in $(seq 1 100); do
		[ "$("${PSQL[@]}" -d "$DB" -Atc 'SELECT coalesce(pending_bytes, 0) FROM omnitask.audit_stats()')" = 0 ] && break
		sleep 0.1
	done
	c1=$(cluster_cpu)
	ops=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
	echo "$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out") $ops $(awk "BEGIN {print $c1 - $c0}")"
}

RES=$TMPB/runs.tsv
: >"$RES"
for round in $(seq 1 "$ROUNDS"); do
	for w in read_task:postgres worklist_rls:pract_0001 search_rls:pract_0001; do
		for mode in $MODES; do
			read -r tps ops cpu <<<"$(run "${w%%:*}" "${w#*:}" "$mode")"
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${w%%:*}" "$mode" "$round" "$tps" "$ops" "$cpu" | tee -a "$RES"
		done
	done
done
"${PSQL[@]}" -d "$DB" -c "SELECT * FROM omnitask.audit_stats()" | tee "$TMPB/audit_stats.txt"

# ratios: per round (tps_off / tps_mode), median over rounds
OUT=$BENCH/results/audit.md
{
	echo "# Read audit: cost of omnitask.audit (test/bench/audit.sh)"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $SCALE tasks, $CLIENTS clients, $ROUNDS rounds of $DURATION s, nproc $(nproc), loadavg $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)"
	echo
	echo "| workload | mode | tps (median) | time per op vs off | time per op vs off, best of $ROUNDS | server CPU per op vs off | target |"
	echo "|---|---|---|---|---|---|---|"
	python3 - "$RES" "$MODES" <<'PY'
import sys, statistics, collections
rows = [l.split('\t') for l in open(sys.argv[1]).read().split('\n') if l.strip()]
modes = sys.argv[2].split()
tps = collections.defaultdict(dict)
cpu = collections.defaultdict(dict)
for wl, mode, rnd, t, ops, c in rows:
    if t and ops and float(ops) > 0:
        tps[(wl, mode)][rnd] = float(t)
        cpu[(wl, mode)][rnd] = float(c) / float(ops)
target = {'read_task': 1.10, 'worklist_rls': 1.10, 'search_rls': 1.15}
def med_ratio(d, wl, mode, inv):
    r = [(d[(wl, 'off')][k] / v if inv else v / d[(wl, 'off')][k])
         for k, v in d[(wl, mode)].items() if v and d[(wl, 'off')].get(k)]
    return statistics.median(r) if r else float('nan')
for wl in ['read_task', 'worklist_rls', 'search_rls']:
    for mode in modes:
        vals = list(tps[(wl, mode)].values())
        rt = med_ratio(tps, wl, mode, True)
        rc = med_ratio(cpu, wl, mode, False)
        # best of N: the fastest round of the mode against the fastest of off
        best = max(vals) if vals else 0
        best_off = max(tps[(wl, 'off')].values()) if tps[(wl, 'off')] else 0
        rb = best_off / best if best else float('nan')
        mark = '' if mode == 'off' else '%s by time, %s by CPU (%.2fx)' % (
            'PASS' if rt <= target[wl] else 'MISS', 'PASS' if rc <= target[wl] else 'MISS', target[wl])
        print('| %s | %s | %.0f | %.3f | %.3f | %.3f | %s |' % (wl, mode, statistics.median(vals) if vals else 0, rt, rb, rc, mark))
PY
	echo
	echo "audit_stats() at the end:"
	echo
	echo '```'
	cat "$TMPB/audit_stats.txt"
	echo '```'
} >"$OUT"
cat "$OUT"
