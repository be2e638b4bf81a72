#!/usr/bin/env bash
# Search instruction counts: the cost of row-level security measured where a
# wall-clock ratio cannot be.  At a millisecond per search on a shared
# 2-core machine, the admin / superuser ratio of search.sh swung from 0.46x
# to 1.45x between runs of the same code; instructions counted by
# valgrind's callgrind do not depend on the load.
#
#   bash test/bench/search_icount.sh [--scale N] [--only REGEX] [--skip REGEX] [--set N=V]
#
# --only/--skip keep or leave out the searches whose label or query match
# (extended regex); --set passes a setting to the server (repeatable).
#
# Reads the searches (label, query) and the practitioner from the table the
# last `search.sh --scale N` run wrote (test/bench/results/search-N.md,
# default N 1000000), stops that run's cluster (test/tmp/bench_search) and
# runs every search in one `postgres --single` under callgrind as each
# caller in turn: the superuser (no RLS), an omnitask_admin role (RLS, a
# policy passing every row) and the practitioner (RLS, its own tasks).
# Each search runs twice per caller; the second call is counted (the first
# plans and fills the caches).  Only the instructions inside
# omnitask_search_tasks_query are counted (--toggle-collect), each call
# dumped on its own (--dump-after), so the statement around it and the
# other callers' work are left out.  Instructions are not time (a cache
# miss or a page read from the OS costs more than its instructions), but
# two callers running the same search on the same data and plans differ in
# instructions exactly by what RLS adds: the policy's qualifications and
# any other plan they lead to.
#
# Writes test/bench/results/search-icount-N.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TOP=$(pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
T=$TOP/test/tmp/bench_search
SCALE=1000000 ONLY=. SKIP='^$' SETTINGS=()
while [ $# -gt 0 ]; do
	case "$1" in
		--scale) SCALE=$2; shift 2 ;;
		--only) ONLY=$2; shift 2 ;;
		--skip) SKIP=$2; shift 2 ;;
		--set) SETTINGS+=(-c "$2"); shift 2 ;;
		*) echo "search_icount.sh: unrecognized argument \"$1\"" >&2; exit 2 ;;
	esac
done
. test/bench/lib.sh
SRC=test/bench/results/search-$SCALE.md
OUT=test/bench/results/search-icount-$SCALE.md
[ -f "$SRC" ] || { echo "search_icount.sh: $SRC not found: run search.sh --scale $SCALE first" >&2; exit 1; }
[ -d "$T/cluster" ] || { echo "search_icount.sh: no cluster in $T: run search.sh --scale $SCALE --load-only first" >&2; exit 1; }
# the practitioner: as the table names it, else the one owning the most
# tasks (search.sh's choice), found by the single-user session itself
PRACT=$(grep -o 'The practitioner `[^`]*`' "$SRC" | head -1 | sed 's/.*`\(.*\)`/\1/' || true)
PRACT_SQL="'$PRACT'"
[ -n "$PRACT" ] || PRACT_SQL="(SELECT owner_id FROM omnitask.task WHERE owner_id IS NOT NULL GROUP BY owner_id ORDER BY count(*) DESC, owner_id LIMIT 1)"
W=$T/icount
rm -rf "$W"
mkdir -p "$W"
# label<TAB>query of each row of the table ("| label | `query` | ..."),
# the one-call rows (over 5 s) left out: under callgrind they take minutes
grep '^| [^|]* | `' "$SRC" | grep -v 'one call each' |
	sed 's/^| \([^|]*\) | `\([^`]*\)` |.*/\1\t\2/' | grep -E -- "$ONLY" | grep -v -E -- "$SKIP" >"$W/searches.tsv" || true
[ -s "$W/searches.tsv" ] || { echo "search_icount.sh: no search matches \"$ONLY\"" >&2; exit 1; }

# one statement per line (postgres --single without -j); each search twice per caller
{
	echo "SET client_min_messages = warning;"
	echo "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_admin') THEN CREATE ROLE bench_admin IN ROLE omnitask_admin; END IF; END\$\$;"
	echo "SELECT set_config('omnitask_bench.practitioner', $PRACT_SQL, false);"
	echo "DO \$\$DECLARE r text := (SELECT role_name FROM omnitask.practitioner WHERE id = current_setting('omnitask_bench.practitioner')); BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN EXECUTE format('CREATE ROLE %I IN ROLE omnitask_practitioner', r); END IF; END\$\$;"
	for who in super admin pract; do
		case $who in
			super) echo "RESET ROLE;" ;;
			admin) echo "SET ROLE bench_admin;" ;;
			pract) echo "SELECT set_config('role', role_name, false) FROM omnitask.practitioner WHERE id = current_setting('omnitask_bench.practitioner');" ;;
		esac
		while IFS=$'\t' read -r label query; do
			echo "SELECT length(omnitask.search_tasks_query('${query//\'/\'\'}')::text);"
			echo "SELECT length(omnitask.search_tasks_query('${query//\'/\'\'}')::text);"
		done <"$W/searches.tsv"
	done
} >"$W/script.sql"
chown -R postgres "$W"

bench_stop
echo "== callgrind: $(wc -l <"$W/searches.tsv") searches x 3 callers x 2 calls (postgres --single)"
as_pg valgrind --tool=callgrind --collect-atstart=no --toggle-collect=omnitask_search_tasks_query \
	--dump-after=omnitask_search_tasks_query --callgrind-out-file="$W/cg.out" -q \
	"$PGBIN/postgres" --single -D "$T/cluster" -c shared_buffers=1GB "${SETTINGS[@]}" bench \
	<"$W/script.sql" >"$W/single.log" 2>&1 || { tail -20 "$W/single.log"; exit 1; }

# the dumps in call order: cg.out.1, cg.out.2, ... (one per call)
for f in $(ls "$W"/cg.out.* | sort -t. -k3 -n); do
	sed -n 's/^summary: \([0-9]*\).*/\1/p;s/^totals: \([0-9]*\).*/\1/p' "$f" | head -1
done >"$W/ir.txt"
n=$(wc -l <"$W/searches.tsv")
[ "$(wc -l <"$W/ir.txt")" = $((n * 6)) ] || { echo "search_icount.sh: expected $((n * 6)) dumps, got $(wc -l <"$W/ir.txt") (see $W/single.log)" >&2; exit 1; }
{
	echo "Search instruction counts, $(date -u +%F) commit $(git rev-parse --short HEAD), $SCALE tasks,"
	echo "$("$PGBIN/postgres" --version | sed 's/.*(PostgreSQL) //' | sed 's/^/PostgreSQL /'), the searches of $SRC, \`test/bench/search_icount.sh\`:"
	echo "instructions inside search_tasks_query (callgrind), the second of two calls per caller."
	echo "The practitioner \`${PRACT:-the owner of the most tasks}\`${SETTINGS[*]:+, settings ${SETTINGS[*]}}. Deterministic: the load average does not enter."
	echo
	echo "| search | query | superuser (no RLS) Ir | admin (RLS) Ir | RLS / no RLS | practitioner Ir |"
	echo "|---|---|---|---|---|---|"
	i=0
	while IFS=$'\t' read -r label query; do
		s=$(sed -n "$((i * 2 + 2))p" "$W/ir.txt")
		a=$(sed -n "$((n * 2 + i * 2 + 2))p" "$W/ir.txt")
		p=$(sed -n "$((n * 4 + i * 2 + 2))p" "$W/ir.txt")
		printf '| %s | `%s` | %s | %s | %.3fx | %s |\n' "$label" "$query" "$s" "$a" \
			"$(echo "$a / $s" | bc -l)" "$p"
		i=$((i + 1))
	done <"$W/searches.tsv"
} >"$OUT"
cat "$OUT"
