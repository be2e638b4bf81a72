#!/usr/bin/env bash
# Planner statistics on the PHI columns: worklist and search with and without
# them, on the same data in the same run (issue 11).
#
#   bash test/bench/stats_ab.sh [--rounds N] [--duration S]
#
# Needs the benchmark cluster left running by `bash test/bench/run.sh --keep`
# (port $BENCH_PORT, database bench_<scale>; the first bench_* database is
# used).  Alternates, round after round, between
#   "stats":    the PHI columns (task.description, patient_id, requester,
#               code, resource; task_history.resource) with the default
#               statistics target, ANALYZEd -- omnitask 0.2;
#   "no stats": SET STATISTICS 0 and their pg_statistic rows deleted --
#               omnitask 0.3;
# and runs the practitioner's worklist, search_tasks(status, priority) and
# search_tasks(patient) with pgbench (-M prepared, 2 clients).  Prints each
# workload's plan in both states and the median latency of each, and the
# ratio no stats / stats (target: at most 1.10).  Leaves the database as
# 0.3 has it (no statistics on the PHI columns).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PORT:-54339}
SOCK=$(pwd)/test/tmp/bench/sock
ROUNDS=5 DURATION=5
while [ $# -gt 0 ]; do
	case "$1" in
		--rounds) ROUNDS=$2; shift 2 ;;
		--duration) DURATION=$2; shift 2 ;;
		*) echo "stats_ab.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PSQL=(as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres)
DB=$("${PSQL[@]}" -d postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'bench\_%' ORDER BY datname LIMIT 1")
[ -n "$DB" ] || { echo "no bench_* database on port $PORT: run test/bench/run.sh --keep first" >&2; exit 1; }
NPAT=$("${PSQL[@]}" -d "$DB" -Atc "SELECT count(DISTINCT patient_id) FROM omnitask.task")
NTASKS=$("${PSQL[@]}" -d "$DB" -Atc "SELECT count(*) FROM omnitask.task")
OUT=$(pwd)/test/tmp/bench/stats_ab; mkdir -p "$OUT"; [ "$(id -u)" = 0 ] && chown -R postgres: "$OUT"
COLS="task:description task:patient_id task:requester task:code task:resource task_history:resource"

set_stats() {	# -1 (default target) or 0
	local sql="" t c
	for tc in $COLS; do t=${tc%%:*} c=${tc#*:}; sql+="ALTER TABLE omnitask.$t ALTER COLUMN $c SET STATISTICS $1; "; done
	if [ "$1" = 0 ]; then
		sql+="DELETE FROM pg_statistic s USING pg_attribute a WHERE a.attrelid = s.starelid AND a.attnum = s.staattnum AND a.attstattarget = 0 AND a.attrelid IN ('omnitask.task'::regclass, 'omnitask.task_history'::regclass); "
	fi
	"${PSQL[@]}" -d "$DB" -c "$sql ANALYZE omnitask.task; ANALYZE omnitask.task_history;"
}

WL=(worklist_rls search_rls search_patient_rls)
plans() {
	local state=$1
	for w in "${WL[@]}"; do
		local q
		q=$(grep -v '^--\|^\\set' test/bench/workloads/$w.sql | sed "s/:p::text/'17'/")
		case $w in search*)
			# the searches' own queries, as search_tasks builds them
			q=$(case $w in
				search_rls) echo "SELECT t.id, t.resource FROM omnitask.task t WHERE true AND t.status = ANY ('{requested,accepted,in-progress}'::omnitask.task_status[]) AND t.priority = ANY ('{stat,asap,urgent}'::omnitask.task_priority[]) ORDER BY t.priority DESC, t.due_at ASC NULLS LAST, t.authored_on ASC, t.id LIMIT 50" ;;
				search_patient_rls) echo "SELECT t.id, t.resource FROM omnitask.task t WHERE true AND t.patient_id = 'pat-00017' ORDER BY t.priority DESC, t.due_at ASC NULLS LAST, t.authored_on ASC, t.id LIMIT 50" ;;
			esac) ;;
		esac
		echo "-- $w ($state)"
		"${PSQL[@]}" -d "$DB" -c "SET ROLE pract_0001; EXPLAIN (COSTS OFF) $q"
	done
}

run() {	# workload state round
	as_pg "$PGBIN/pgbench" -n -M prepared -c 2 -j 2 -T "$DURATION" -h "$SOCK" -p "$PORT" -U pract_0001 \
		-D npatients="$NPAT" -D ntasks="$NTASKS" -f "test/bench/workloads/$1.sql" "$DB" 2>&1 |
		awk -v w="$1" -v s="$2" -v r="$3" '/latency average/ {print w "\t" s "\t" r "\t" $4}'
}

echo "database $DB: $NTASKS tasks, $NPAT patients; $ROUNDS rounds of $DURATION s per workload and state"
set_stats -1; plans stats >"$OUT/plans.txt"
set_stats 0; plans "no stats" >>"$OUT/plans.txt"
: >"$OUT/latency.tsv"
for r in $(seq 1 "$ROUNDS"); do
	for state in stats nostats; do
		if [ $state = stats ]; then set_stats -1; else set_stats 0; fi
		for w in "${WL[@]}"; do run "$w" "$state" "$r" >>"$OUT/latency.tsv"; done
	done
done
set_stats 0
cat "$OUT/plans.txt"
python3 - "$OUT/latency.tsv" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    w, s, r, ms = line.split('\t'); d[(w, s, r)].append(float(ms))
print("\n| workload | stats (median ms) | no stats (median ms) | no stats / stats (median of per-round ratios) |")
print("|---|---|---|---|")
for w in sorted({k[0] for k in d}):
    rounds = sorted({k[2] for k in d if k[0] == w})
    a = [d[(w, 'stats', r)][0] for r in rounds if (w, 'stats', r) in d]
    b = [d[(w, 'nostats', r)][0] for r in rounds if (w, 'nostats', r) in d]
    ratios = [d[(w, 'nostats', r)][0] / d[(w, 'stats', r)][0] for r in rounds if (w, 'stats', r) in d and (w, 'nostats', r) in d]
    print(f"| {w} | {statistics.median(a):.3f} | {statistics.median(b):.3f} | {statistics.median(ratios):.2f}x |")
PY
