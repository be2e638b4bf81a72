#!/usr/bin/env bash
# omnitask benchmark harness: omnitask against the floor (same table, no
# triggers, no RLS), a straightforward PL/pgSQL trigger doing the same checks,
# and RLS on/off, on the same data in the same run.
#
#   bash test/bench/run.sh [--scales 10000,100000,1000000] [--quick]
#                          [--duration S] [--rounds N] [--read-clients N] [--write-clients N]
#                          [--no-build] [--keep] [--writes-only] [--ab REV]
#
#   --quick          scales 10k,100k; 2 rounds of 2 s per read, 2 rounds of 3 s per write
#                    (default: 10k,100k,1M; 3 rounds of 3 s per read, 5 rounds of 3 s per write)
#   --duration S     seconds per pgbench run (one round of a workload)
#   --rounds N       rounds of the write workloads (reads: at most 3), interleaved with their baselines
#                    (omnitask, floor, ..., omnitask, floor, ...); ratios are the median of the per-round
#                    ratios, so one slow WAL flush or one noisy neighbour does not decide one; before
#                    each write run the tables written get the same number of rows (even_up)
#   --no-build       use the installed omnitask as it is (default: make && make install first)
#   --keep           leave the benchmark cluster running at the end (default: stop it)
#   --writes-only    only the write workloads (create, status change); their table goes to
#                    results/writes-<date>.md, and summary.md and the CSV files are left as they are
#   --ab REV         --writes-only, on this tree and on the git revision REV in the same run: REV is
#                    built into a copy of $PGBIN's PostgreSQL (test/tmp/bench/ab) with a cluster of its
#                    own (port $BENCH_PORT + 1), each side loads its data with its own sample and bench
#                    scripts (its floor has its schema), and every round runs both sides' workloads
#                    back to back (which side goes first alternates); ratios to each side's own floor
#                    (omnitask, notify = off and the floor only: no bare floor, no PL/pgSQL baseline)
#
# Runs its own throwaway cluster in test/tmp/bench/cluster (port $BENCH_PORT,
# default 54339, socket dir test/tmp/bench/sock); the test cluster (54329) and
# any system cluster are never touched.  Writes test/bench/results/
# results-<scale>.csv, summary.md and bench.png; raw pgbench logs go to
# test/tmp/bench/logs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TOP=$(pwd)
BENCH=$TOP/test/bench
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PORT:-54339}
TMPB=$TOP/test/tmp/bench
DATA=$TMPB/cluster
SOCK=$TMPB/sock
LOGS=$TMPB/logs
RES=$BENCH/results
CMDLINE="bash test/bench/run.sh $*"

SCALES=10000,100000,1000000
QUICK=0
DURATION=
ROUNDS=
READ_CLIENTS=2
WRITE_CLIENTS=4
BUILD=1
KEEP=0
WRITES_ONLY=0
AB_REV=
while [ $# -gt 0 ]; do
	case "$1" in
		--scales) SCALES=$2; shift 2 ;;
		--scales=*) SCALES=${1#*=}; shift ;;
		--quick) QUICK=1; shift ;;
		--duration) DURATION=$2; shift 2 ;;
		--rounds) ROUNDS=$2; shift 2 ;;
		--read-clients) READ_CLIENTS=$2; shift 2 ;;
		--write-clients) WRITE_CLIENTS=$2; shift 2 ;;
		--no-build) BUILD=0; shift ;;
		--keep) KEEP=1; shift ;;
		--writes-only) WRITES_ONLY=1; shift ;;
		--ab) AB_REV=$2; WRITES_ONLY=1; shift 2 ;;
		-h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
if [ "$QUICK" = 1 ]; then
	case "$CMDLINE" in *--scales*) ;; *) SCALES=10000,100000 ;; esac
	READ_T=${DURATION:-2}; WRITE_T=${DURATION:-3}; ROUNDS=${ROUNDS:-2}
else
	READ_T=${DURATION:-3}; WRITE_T=${DURATION:-3}; ROUNDS=${ROUNDS:-5}
fi
READ_ROUNDS=$(( ROUNDS < 3 ? ROUNDS : 3 ))
# an A/B run compares omnitask with its floor on each side: the other baselines are left out
WRITE_WORKLOADS="omni floor bare plpgsql omni_nonotify"
[ -n "$AB_REV" ] && WRITE_WORKLOADS="omni floor omni_nonotify"
IFS=, read -r -a SCALE_LIST <<<"$SCALES"

say() { printf '\n== %s  [%s]\n' "$*" "$(date +%H:%M:%S)"; }
note() { printf '   %s\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_db() { local db=$1; shift; "${PSQL[@]}" -d "$db" "$@"; }
psql_val() { local db=$1; shift; "${PSQL[@]}" -d "$db" -Atc "$@"; }

# The sides of the run: "new" is this tree in $PGBIN's PostgreSQL; with --ab, "old" is
# revision $AB_REV built into a copy of that PostgreSQL.
PGBIN_NEW=$PGBIN
PORT_NEW=$PORT
AB=$TMPB/ab
SIDES=(new)
[ -n "$AB_REV" ] && SIDES=(new old)

# use_side NEW|OLD: point PGBIN, PORT, DATA, SOCK, PSQL, SRC (the tree whose sample data and
# bench scripts the side uses) and SFX (appended to the names of its runs) at that side.
use_side() {
	case $1 in
		new) PGBIN=$PGBIN_NEW; PORT=$PORT_NEW; DATA=$TMPB/cluster; SOCK=$TMPB/sock; SRC=$TOP; SFX= ;;
		old) PGBIN=$AB/pg${PGBIN_NEW#"$AB_PREFIX"}; PORT=$((PORT_NEW + 1)); DATA=$TMPB/cluster-old; SOCK=$TMPB/sock-old
			SRC=$AB/src; SFX=_old ;;
	esac
	PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres)
}

# The directories of $PGBIN's PostgreSQL that a build and a server use, and the longest
# path they share (a copy keeps their places relative to each other: PostgreSQL is relocatable).
pg_dirs() { local k; for k in bindir sharedir pkglibdir pkgincludedir; do "$PGBIN_NEW/pg_config" --$k; done; }
AB_PREFIX=$(pg_dirs | sed -e 'N;N;N;s/^\(.*\).*\n\1.*\n\1.*\n\1.*$/\1/' -e 's,/[^/]*$,,')

# Builds revision $AB_REV (its tree in $AB/src) and installs it into a copy of $PGBIN's
# PostgreSQL in $AB/pg.
ab_install() {
	local d rev
	rev=$(git -C "$TOP" rev-parse "$AB_REV^{commit}")
	if [ "$(cat "$AB/rev" 2>/dev/null)" = "$rev" ]; then
		note "$AB_REV is built already (test/tmp/bench/ab/rev)"
		return 0
	fi
	rm -rf "$AB" && mkdir -p "$AB/src" "$AB/build"
	git -C "$TOP" archive "$AB_REV" | tar -x -C "$AB/src"
	for d in $(pg_dirs); do
		mkdir -p "$AB/pg${d#"$AB_PREFIX"}"
		cp -a "$d/." "$AB/pg${d#"$AB_PREFIX"}/"
	done
	use_side old
	make -s -C "$AB/build" -f "$AB/src/Makefile" VPATH="$AB/src" PG_CONFIG="$PGBIN/pg_config" >"$AB/build.log" 2>&1 &&
		make -s -C "$AB/build" -f "$AB/src/Makefile" VPATH="$AB/src" PG_CONFIG="$PGBIN/pg_config" install >>"$AB/build.log" 2>&1 ||
		{ tail -20 "$AB/build.log"; echo "run.sh: the build of $AB_REV failed" >&2; exit 1; }
	echo "$rev" >"$AB/rev"
	use_side new
}

T_START=$(date +%s)

# ---------------------------------------------------------------------------
# build, cluster
# ---------------------------------------------------------------------------
command -v gnuplot >/dev/null || { say "installing gnuplot-nox"; as_root apt-get update -qq; as_root apt-get install -y -qq gnuplot-nox >/dev/null; }
command -v python3 >/dev/null || { say "installing python3"; as_root apt-get install -y -qq python3 >/dev/null; }

if [ "$BUILD" = 1 ]; then
	# the project's own set-up: PostgreSQL 15 and the build tools on a fresh machine, then make install
	if ! bash "$TOP/test/omnitask.sh" install; then
		echo "run.sh: the build failed; fix it, or rerun with --no-build to measure the installed omnitask" >&2
		exit 1
	fi
fi
[ -f "$($PGBIN/pg_config --sharedir)/extension/omnitask.control" ] || { echo "run.sh: omnitask is not installed" >&2; exit 1; }
if [ -n "$AB_REV" ]; then
	say "building $AB_REV ($(git -C "$TOP" log -1 --format='%h %ad' --date=short "$AB_REV")) into test/tmp/bench/ab"
	ab_install
fi

stop_cluster() {
	if [ -f "$DATA/postmaster.pid" ]; then
		as_pg $PGBIN/pg_ctl -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
}
stop_all() { local side; for side in "${SIDES[@]}"; do use_side "$side"; stop_cluster; done; }

mkdir -p "$TMPB" "$LOGS" "$RES"
if [ "$(id -u)" = 0 ]; then
	d=$TOP
	while [ "$d" != / ]; do
		runuser -u postgres -- test -x "$d" 2>/dev/null || chmod o+x "$d"
		d=$(dirname "$d")
	done
	chown postgres: "$TOP/test/tmp" 2>/dev/null || true
	chown -R postgres: "$TMPB"
fi
OTHER_PG=$(pgrep -c -x postgres 2>/dev/null || true)
rm -rf "$LOGS"
as_pg mkdir -p "$LOGS"
# two clusters of a write-only A/B run fit in less memory than the full run's one
SHARED_BUFFERS=4GB
[ -n "$AB_REV" ] && SHARED_BUFFERS=1GB
for side in "${SIDES[@]}"; do
	use_side "$side"
	stop_cluster
	rm -rf "$DATA"
	as_pg mkdir -p "$DATA" "$SOCK"
	say "starting the benchmark cluster ($side) in ${DATA#$TOP/} on port $PORT"
	as_pg $PGBIN/initdb -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
	# Settings for a 2-core / 24 GB machine.  synchronous_commit stays on: every
	# write waits for its WAL flush, as in production, for omnitask and its
	# baselines alike.
	cat >>"$DATA/postgresql.conf" <<-EOF

	# --- omnitask benchmark (test/bench/run.sh) ---
	listen_addresses = ''
	max_connections = 50
	shared_buffers = $SHARED_BUFFERS
	effective_cache_size = 16GB
	work_mem = 32MB
	maintenance_work_mem = 1GB
	max_wal_size = 8GB
	min_wal_size = 1GB
	checkpoint_timeout = 30min
	checkpoint_completion_target = 0.9
	synchronous_commit = on
	wal_compression = off
	autovacuum = on
	jit = off
	random_page_cost = 1.1
	shared_preload_libraries = 'pg_stat_statements,omnitask'
	pg_stat_statements.track = top
	pg_stat_statements.max = 1000
	log_min_messages = warning
	log_checkpoints = on
	track_wal_io_timing = on
	EOF
	as_pg $PGBIN/pg_ctl -D "$DATA" -l "$DATA.log" -w -o "-p $PORT -k $SOCK" start >/dev/null
done
use_side new
trap '[ "$KEEP" = 1 ] || stop_all' EXIT

# machine and settings, for the summary
{
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "command=$CMDLINE"
	echo "nproc=$(nproc)"
	echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
	echo "ram=$(free -g | awk '/^Mem:/ {print $2 " GB"}')"
	echo "pg=$(psql_val postgres 'SHOW server_version')"
	echo "settings=$(psql_val postgres "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers','max_wal_size','checkpoint_timeout','synchronous_commit','autovacuum','jit','work_mem','effective_cache_size','wal_sync_method','max_parallel_workers_per_gather','full_page_writes')")"
	echo "commit=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- src sql 2>/dev/null || echo ' + uncommitted changes in src/ or sql/')"
	echo "read_clients=$READ_CLIENTS"
	echo "write_clients=$WRITE_CLIENTS"
	echo "read_t=$READ_T"
	echo "write_t=$WRITE_T"
	echo "rounds=$ROUNDS"
	echo "read_rounds=$READ_ROUNDS"
	echo "scales=$SCALES"
	echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "other_postgres=${OTHER_PG:-0} processes of other PostgreSQL clusters were running when it started"
} >"$LOGS/machine.txt"

# ---------------------------------------------------------------------------
# one pgbench run: NAME USER CLIENTS SECONDS SCRIPT [ROUND] [PGOPTIONS]
# appends "scale name round user clients secs tps exec_ms wal_syncs/tx wal_bytes/tx" to $LOGS/$SCALE/runs.tsv
# ---------------------------------------------------------------------------
run_pgbench() {
	local name=$1$SFX user=$2 clients=$3 secs=$4 script=$5 round=${6:-1} opts=${7:-}
	local dir=$LOGS/$SCALE/$name/r$round rc tps exec_ms wal ntx
	as_pg mkdir -p "$dir"
	psql_val "$DB" "SELECT pg_stat_statements_reset(), pg_stat_reset_shared('wal')" >/dev/null
	set +e
	as_pg env PGOPTIONS="$opts" $PGBIN/pgbench -n -M prepared -c "$clients" -j 2 -T "$secs" -h "$SOCK" -p "$PORT" -U "$user" \
		--log --log-prefix="$dir/tx" -f "$SRC/test/bench/workloads/$script" \
		-D ntasks="$SCALE" -D ndocs="$NDOCS" -D nclients="$clients" -D perclient="$PERCLIENT" \
		-D owner="$OWNER" "$DB" >"$dir/pgbench.out" 2>&1
	rc=$?
	set -e
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$dir/pgbench.out")
	# server time per call of the script's statement, without the commit's WAL flush
	exec_ms=$(psql_val "$DB" "SELECT round((total_exec_time / nullif(calls, 0))::numeric, 4) FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC LIMIT 1")
	# WAL flushes and bytes per transaction (the clients' backends report their WAL stats as they exit)
	ntx=$(cat "$dir"/tx.* 2>/dev/null | wc -l); [ "$ntx" -gt 0 ] || ntx=1
	sleep 0.3
	wal=$(psql_val "$DB" "SELECT round(wal_sync::numeric / $ntx, 3) || E'\t' || round(wal_bytes / $ntx) FROM pg_stat_wal")
	if [ "$rc" -ne 0 ] || [ -z "$tps" ]; then
		note "$(printf '%-24s FAILED (pgbench exit %s): %s' "$name" "$rc" "$(grep -m1 -E 'ERROR|aborted|FATAL' "$dir/pgbench.out" | cut -c1-200)")"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\tERROR\t\t\n' "$SCALE" "$name" "$round" "$user" "$clients" "$secs" "${tps:-0}" >>"$LOGS/$SCALE/runs.tsv"
		return 0
	fi
	note "$(printf '%-24s %10.1f tps   server %7s ms/op   WAL flushes/tx %s' "$name${6:+ #$round}" "$tps" "${exec_ms:-?}" "${wal%%$'\t'*}")"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$SCALE" "$name" "$round" "$user" "$clients" "$secs" "$tps" "${exec_ms:-}" "$wal" >>"$LOGS/$SCALE/runs.tsv"
}

# a timed statement in psql: NAME SQL (one statement; best of REPEAT runs, in ms)
time_sql() {
	local name=$1 sql=$2 repeat=${3:-3} i ms best=
	for ((i = 0; i < repeat; i++)); do
		ms=$(psql_db "$DB" -At -c "SET max_parallel_workers_per_gather = 0" -c '\timing on' -c "$sql" 2>&1 |
			sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
		[ -z "$ms" ] && { note "$name: failed"; return 0; }
		if [ -z "$best" ] || awk "BEGIN {exit !($ms < $best)}"; then best=$ms; fi
	done
	note "$(printf '%-22s %10.1f ms (best of %d)' "$name" "$best" "$repeat")"
	printf '%s\t%s\t%s\n' "$SCALE" "$name" "$best" >>"$LOGS/$SCALE/timings.tsv"
}

checkpoint() { psql_val "$DB" "CHECKPOINT" >/dev/null; }

# even_up: before each write run, the task tables the write workloads write to (omnitask's, the
# floor's, the PL/pgSQL baseline's when it runs) get as many rows as the largest of them, and so do
# their history tables, copied from it without triggers (session_replication_role = replica;
# untimed, before the CHECKPOINT).  Each round runs omnitask twice (notify on and off) and each
# baseline once, so without it omnitask's tables grew about twice as fast as the floor's (at 10k,
# after this session's runs: 40k rows against 30k), with more index leaf pages per insert and more
# full-page images after each CHECKPOINT for omnitask alone.  A copied history row gets the id
# "<id>.e": the status workloads change the same tasks on every side, so a copy under its own id
# would take a version number the other side writes next.  Inline SQL, so that it works on an --ab
# revision's database as well.
even_up() {
	local plt=bench_plpgsql
	# with --ab the PL/pgSQL baseline does not run: leave its tables alone
	[[ " $WRITE_WORKLOADS " == *" plpgsql "* ]] || plt=no_such_schema
	psql_val "$DB" "DO \$\$
DECLARE
	kinds text[][] := ARRAY[['omnitask.task', 'bench.task_plain', '$plt.task'],
							['omnitask.task_history', 'bench.task_history_plain', '$plt.task_history']];
	k int;
	t text;
	big text;
	nbig bigint;
	n bigint;
BEGIN
	PERFORM set_config('session_replication_role', 'replica', true);
	FOR k IN 1 .. 2 LOOP
		big := NULL;
		nbig := -1;
		FOREACH t IN ARRAY kinds[k:k] LOOP
			CONTINUE WHEN to_regclass(t) IS NULL;
			EXECUTE format('SELECT count(*) FROM %s', t) INTO n;
			IF n > nbig THEN big := t; nbig := n; END IF;
		END LOOP;
		FOREACH t IN ARRAY kinds[k:k] LOOP
			CONTINUE WHEN to_regclass(t) IS NULL OR t = big;
			EXECUTE format('SELECT count(*) FROM %s', t) INTO n;
			CONTINUE WHEN n >= nbig;
			IF k = 1 THEN
				EXECUTE format('INSERT INTO %s SELECT * FROM %s b WHERE NOT EXISTS (SELECT 1 FROM %s s WHERE s.id = b.id) LIMIT %s',
							   t, big, t, nbig - n);
			ELSE
				EXECUTE format('INSERT INTO %1\$s SELECT r.* FROM (SELECT b.* FROM %2\$s b WHERE length(b.id) <= 62 AND NOT EXISTS '
							   '(SELECT 1 FROM %1\$s s WHERE s.id = b.id || ''.e'' AND s.version_id = b.version_id) LIMIT %3\$s) b, '
							   'LATERAL jsonb_populate_record(NULL::%1\$s, to_jsonb(b) || jsonb_build_object(''id'', b.id || ''.e'')) r',
							   t, big, nbig - n);
			END IF;
		END LOOP;
	END LOOP;
END \$\$" >/dev/null
}

# ---------------------------------------------------------------------------
# per scale
# ---------------------------------------------------------------------------
declare -A PERC
for SCALE in "${SCALE_LIST[@]}"; do
	DB=bench_$SCALE
	PRACT=$(( SCALE * 2000 / 1000000 )); [ $PRACT -lt 20 ] && PRACT=20
	PATIENTS=$(( SCALE * 100000 / 1000000 )); [ $PATIENTS -lt 200 ] && PATIENTS=200
	NDOCS=1000
	OWNER=pr-0001
	as_pg mkdir -p "$LOGS/$SCALE"
	: >"$LOGS/$SCALE/runs.tsv"; : >"$LOGS/$SCALE/timings.tsv"; : >"$LOGS/$SCALE/memory.txt"
	[ "$(id -u)" = 0 ] && chown postgres: "$LOGS/$SCALE"/*.tsv

	for side in "${SIDES[@]}"; do
		use_side "$side"
		say "scale $SCALE${AB_REV:+ ($side)}: database $DB, $PRACT practitioners, $PATIENTS patients"
		psql_db postgres -c "CREATE DATABASE $DB" >/dev/null
		psql_db "$DB" -c "CREATE EXTENSION omnitask" -c "CREATE EXTENSION pg_stat_statements" -c "CREATE EXTENSION pg_prewarm" >/dev/null
		if [ "$SCALE" = "${SCALE_LIST[0]}" ]; then
			# login roles for the practitioners the workloads act as (cluster-wide)
			psql_db "$DB" >/dev/null <<-'EOF'
			DO $$
			BEGIN
				FOR k IN 1..10 LOOP
					IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = format('pract_%s', lpad(k::text, 4, '0'))) THEN
						EXECUTE format('CREATE ROLE %I LOGIN IN ROLE omnitask_practitioner', format('pract_%s', lpad(k::text, 4, '0')));
					END IF;
				END LOOP;
			END $$;
			EOF
		fi

		note "loading $SCALE tasks with test/sample/generate.sql"
		t0=$(date +%s.%N)
		psql_db "$DB" -v n="$SCALE" -v practitioners="$PRACT" -v patients="$PATIENTS" \
			-f "$SRC/test/sample/generate.sql" >"$LOGS/$SCALE/generate$SFX.out" 2>&1 ||
			{ cat "$LOGS/$SCALE/generate$SFX.out"; exit 1; }
		t1=$(date +%s.%N)
		LOAD_S=$(awk "BEGIN {printf \"%.1f\", $t1 - $t0}")
		note "loaded in $LOAD_S s"
		printf '%s\tload_generate%s_s\t%s\n' "$SCALE" "$SFX" "$LOAD_S" >>"$LOGS/$SCALE/timings.tsv"

		note "baselines: plain copy, PL/pgSQL copy, document pools, validation documents"
		t0=$(date +%s.%N)
		psql_db "$DB" -f "$SRC/test/bench/plpgsql_baseline.sql" >/dev/null
		psql_db "$DB" -v ndocs="$NDOCS" -v nval="${NVAL:-100000}" -v owner="$OWNER" \
			-f "$SRC/test/bench/setup.sql" >"$LOGS/$SCALE/setup$SFX.out" 2>&1 || { cat "$LOGS/$SCALE/setup$SFX.out"; exit 1; }
		t1=$(date +%s.%N)
		printf '%s\tsetup%s_s\t%s\n' "$SCALE" "$SFX" "$(awk "BEGIN {printf \"%.1f\", $t1 - $t0}")" >>"$LOGS/$SCALE/timings.tsv"
		POOL=$(psql_val "$DB" "SELECT count(*) FROM bench.status_pool")
		PERCLIENT=$(( POOL / WRITE_CLIENTS ))
		grep -E '^(bench|NOTICE)' "$LOGS/$SCALE/setup$SFX.out" | sed 's/^/   /' || true
		note "setup in $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") s; status pool $POOL tasks"
		checkpoint
		# the load leaves gigabytes of dirty pages in the OS cache at 1M; their write-back would slow
		# every fdatasync of the first write workloads (seen: 25-165 ms per op for a minute), so wait for it
		t0=$(date +%s.%N); sync; t1=$(date +%s.%N)
		note "OS write-back (sync) in $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") s"
		# every table and index of omnitask and the baselines into the OS cache, so that no workload
		# pays for the disk reads another one made unnecessary (at 1M the data outgrows shared_buffers)
		t0=$(date +%s.%N)
		psql_val "$DB" "WITH rels AS (
				SELECT c.oid, c.reltoastrelid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname IN ('omnitask', 'bench', 'bench_plpgsql') AND c.relkind IN ('r', 'i')),
			all_rels AS (
				SELECT oid FROM rels
				UNION SELECT reltoastrelid FROM rels WHERE reltoastrelid <> 0
				UNION SELECT i.indexrelid FROM pg_index i JOIN rels r ON i.indrelid = r.reltoastrelid)
			SELECT pg_size_pretty(sum(pg_prewarm(oid, 'read')) * 8192) FROM all_rels" |
			sed 's/^/   prewarmed (OS cache) /'
		t1=$(date +%s.%N)
		note "prewarm in $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") s"

		PERC[$side]=$PERCLIENT
	done
	use_side new
	PERCLIENT=${PERC[new]}

	if [ "$WRITES_ONLY" = 0 ]; then
		say "scale $SCALE: reads (${READ_CLIENTS} clients, $READ_ROUNDS interleaved rounds of ${READ_T} s)"
		for group in "read_task:postgres read_floor:postgres" \
			"worklist_rls:pract_0001 worklist_norls:postgres" \
			"search_rls:pract_0001 search_admin:postgres search_floor:postgres" \
			"workload_view:postgres workload_floor:postgres" \
			"task_counts:postgres task_counts_floor:postgres"; do
			# the RLS ratio is a target within 10%: it gets as many rounds as the writes
			nr=$READ_ROUNDS
			case $group in *worklist*) nr=$ROUNDS ;; esac
			for ((round = 1; round <= nr; round++)); do
				for w in $group; do
					run_pgbench "${w%%:*}" "${w#*:}" "$READ_CLIENTS" "$READ_T" "${w%%:*}.sql" "$round"
				done
			done
		done

		say "scale $SCALE: validation throughput (one core, $(psql_val "$DB" "SELECT count(*) FROM bench.val_docs") documents)"
		time_sql val_scan      "SELECT count(resource) FROM bench.val_docs"
		time_sql val_detoast   "SELECT count(jsonb_typeof(resource)) FROM bench.val_docs"
		time_sql val_omnitask  "SELECT count(omnitask.validate_task(resource)) FROM bench.val_docs" 5
		time_sql val_plpgsql   "SELECT count(bench_plpgsql.validate_task(resource)) FROM bench.val_docs" 1
		# the generated Tasks (no narrative, 0.5-5 KB): up to 100,000 of them
		time_sql valgen_detoast  "SELECT count(jsonb_typeof(resource)) FROM (SELECT resource FROM bench.task_plain WHERE id LIKE 't-%' ORDER BY id LIMIT 100000) s"
		time_sql valgen_omnitask "SELECT count(omnitask.validate_task(resource)) FROM (SELECT resource FROM bench.task_plain WHERE id LIKE 't-%' ORDER BY id LIMIT 100000) s"
		psql_val "$DB" "SELECT count(*) || E'\t' || round(avg(octet_length(resource::text))) FROM (SELECT resource FROM bench.task_plain WHERE id LIKE 't-%' ORDER BY id LIMIT 100000) s" |
			awk -v s="$SCALE" '{print s "\tvalgen_n\t" $1; print s "\tvalgen_avg_bytes\t" $2}' >>"$LOGS/$SCALE/timings.tsv"
		psql_val "$DB" "SELECT count(*) FROM bench.val_docs" | sed "s/^/$SCALE\tval_n\t/" >>"$LOGS/$SCALE/timings.tsv"
		psql_val "$DB" "SELECT round(avg(octet_length(resource::text))) FROM bench.val_docs" | sed "s/^/$SCALE\tval_avg_bytes\t/" >>"$LOGS/$SCALE/timings.tsv"
		psql_val "$DB" "SELECT count(*) FROM bench.val_docs WHERE NOT bench.is_valid(omnitask.validate_task(resource))" |
			sed "s/^/$SCALE\tval_invalid\t/" >>"$LOGS/$SCALE/timings.tsv"
	fi

	for side in "${SIDES[@]}"; do use_side "$side"; checkpoint; done; sync
	say "scale $SCALE: writes (${WRITE_CLIENTS} clients, $ROUNDS interleaved rounds of ${WRITE_T} s, CHECKPOINT before each run${AB_REV:+; sides new and old alternate in each round})"
	for group in create status; do
		for ((round = 1; round <= ROUNDS; round++)); do
			# with --ab, the side that goes first alternates from round to round
			order=("${SIDES[@]}")
			[ $((round % 2)) = 0 ] && [ "${#SIDES[@]}" = 2 ] && order=(old new)
			for side in "${order[@]}"; do
				use_side "$side"
				PERCLIENT=${PERC[$side]}
				for w in $WRITE_WORKLOADS; do
					even_up
					checkpoint
					if [ "$w" = omni_nonotify ]; then
						run_pgbench "${group}_$w" postgres "$WRITE_CLIENTS" "$WRITE_T" "${group}_omni.sql" "$round" "-c omnitask.notify=off"
					else
						run_pgbench "${group}_$w" postgres "$WRITE_CLIENTS" "$WRITE_T" "${group}_$w.sql" "$round"
					fi
				done
			done
		done
	done
	use_side new
	PERCLIENT=${PERC[new]}
	echo "loadavg_after_$SCALE=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOGS/machine.txt"

	if [ "$WRITES_ONLY" = 0 ]; then
		say "scale $SCALE: memory for the largest Task ($(psql_val "$DB" "SELECT pg_size_pretty(octet_length(doc::text)::bigint) || ', ' || jsonb_array_length(doc->'note') || ' notes' FROM bench.big_doc"))"
		psql_val "$DB" "SELECT octet_length(doc::text) || E'\t' || jsonb_array_length(doc->'note') FROM bench.big_doc" |
			awk -v s="$SCALE" '{print s "\tbig_doc_bytes\t" $1; print s "\tbig_doc_notes\t" $2}' >>"$LOGS/$SCALE/timings.tsv"
		for m in floor validate create plpgsql leak; do
			psql_db "$DB" -At -v op=$m -f "$BENCH/memory.sql" 2>&1 | grep -E '^mem' | tee -a "$LOGS/$SCALE/memory.txt" | sed 's/^/   /' || true
		done
		awk -F'|' -v s="$SCALE" 'NF == 3 {print s "\tmem_" $2 "\t" $3} NF == 4 {print s "\tmem_" $2 "_peak_mb\t" $3; print s "\tmem_" $2 "_ms\t" $4}' \
			"$LOGS/$SCALE/memory.txt" >>"$LOGS/$SCALE/timings.tsv"
	fi

	for side in "${SIDES[@]}"; do
		use_side "$side"
		psql_val "$DB" "SELECT pg_size_pretty(pg_database_size(current_database()))" | sed "s/^/   database size ($side) /"
		# free the memory and disk for the next scale (--keep keeps every database)
		[ "$KEEP" = 1 ] || psql_val postgres "DROP DATABASE $DB" >/dev/null
	done
	use_side new
done

say "report"
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOGS/machine.txt"
echo "total_s=$(( $(date +%s) - T_START ))" >>"$LOGS/machine.txt"
if [ -n "$AB_REV" ]; then
	echo "ab_rev=$(git -C "$TOP" log -1 --format='%h (%ad)' --date=short "$AB_REV")" >>"$LOGS/machine.txt"
fi
if [ "$WRITES_ONLY" = 1 ]; then
	# summary.md and the CSV files stay the full run's
	# a dated file that never rewrites an earlier run's: -2, -3, ... when the name is taken
	base=$RES/writes-$(date -u +%Y-%m-%d)${AB_REV:+-ab}
	OUT=$base.md
	n=2
	while [ -e "$OUT" ]; do OUT=$base-$n.md; n=$((n + 1)); done
	python3 "$BENCH/writes_report.py" "$LOGS" "$OUT"
	note "results in ${OUT#$TOP/}"
else
	rm -f "$RES"/results-*.csv
	python3 "$BENCH/report.py" "$LOGS" "$RES"
fi
T_END=$(date +%s)
note "total time $(( (T_END - T_START) / 60 )) min $(( (T_END - T_START) % 60 )) s"
if [ "$KEEP" = 1 ]; then
	note "the cluster keeps running: psql -h $SOCK -p $PORT -U postgres bench_${SCALE_LIST[0]}"
else
	stop_all
	note "benchmark cluster stopped"
fi
