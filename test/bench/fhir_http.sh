#!/usr/bin/env bash
# FHIR over HTTP benchmark: each endpoint of schema fhir against the bare
# SQL function it wraps, conditional create against plain create, and a
# change-feed page of 100, on the same data in the same run.
#
#   bash test/bench/fhir_http.sh [--scale N] [--duration S] [--rounds R] [--no-build]
#                                [--clients C] [--pairs a:b:target,...]
#                                [--callgrind N:M] [--reuse] [--copies C]
#
# Own throwaway cluster in test/tmp/bench_fhir (port $BENCH_PORT, default
# 54339); sample data from test/sample/generate.sql at N tasks (default
# 100000).  Each pair runs interleaved (bare, http, bare, http, ...) for R
# rounds (default 3) of S seconds (default 5); the ratio is the median of
# the per-round throughput ratios bare/http (1.00 = no overhead).  Reads use
# 2 clients, writes 2 clients, pgbench -M prepared; every script runs the
# transaction PostgREST runs (request.headers set, then the call), the bare
# one included.  Writes a table to test/bench/results/fhir_http-N.md, with
# the median of each transaction's latency (pgbench's per-transaction log).
# The change feed's HTTP endpoint wraps omnitask.task_changes_json (the page
# printed straight to text), so that is its bare function (feed_json);
# feed_bare / feed_json compares the jsonb page, printed by jsonb_out, with it.
# feed_pract.sql is the text page as the practitioner with the most versions
# (role bench_pract, set up by setup.sql): --pairs feed_json:feed_pract:1.0
# compares a practitioner's page with the superuser's (every other script
# runs as postgres, whom the policies do not filter).
#
# --callgrind N:M counts instructions instead of timing (wall-clock ratios
# on a shared machine swing by +-30%; PMU counters are not available in
# this VM): after the load the cluster is stopped and each script of each
# pair runs N and then M times in `postgres --single` under valgrind's
# callgrind, one transaction per call as above, each statement PREPAREd
# once and EXECUTEd (as pgbench -M prepared), the same pseudo-random values
# for both scripts of a pair.  The cost of a call is the marginal
# instruction count (I(M) - I(N)) / (M - N): start-up, catalog caches and
# first-call planning cancel out.  Writes
# test/bench/results/fhir_http-callgrind-N.md; the callgrind files stay in
# test/tmp/bench_fhir_cg/cg for callgrind_annotate.
#
# --copies C copies the N loaded tasks C times in SQL (test/bench/fhir/copies.sql:
# new ids, no identifiers, triggers off, history copied) before the set-up:
# --scale 20000 --copies 49 is the million tasks and versions of the feed's
# measurement at 1M, loaded in minutes; the read, write and search scripts
# pick tasks among the N originals.
#
# --reuse runs the pairs on the cluster and data a previous run left in
# test/tmp/bench_fhir (a 1M load takes long): it starts that cluster if it
# is stopped and loads nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TOP=$(pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PORT:-54339}
CALLGRIND=
T=$TOP/test/tmp/bench_fhir
SCALE=100000 DURATION=5 ROUNDS=3 BUILD=1 CLIENTS=2 REUSE=0 COPIES=0
PAIRS="read_bare:read_http:1.1 create_bare:create_http:1.1 patch_bare:patch_http:1.1 search_bare:search_http:1.1
	history_bare:history_http:1.1 feed_json:feed_http:1.1 feed_bare:feed_json:1.0 create_ident:create_cond:1.2"
while [ $# -gt 0 ]; do
	case "$1" in
		--scale) SCALE=$2; shift 2 ;;
		--duration) DURATION=$2; shift 2 ;;
		--rounds) ROUNDS=$2; shift 2 ;;
		--no-build) BUILD=0; shift ;;
		--clients) CLIENTS=$2; shift 2 ;;
		--pairs) PAIRS=${2//,/ }; shift 2 ;;
		--callgrind) CALLGRIND=$2; shift 2 ;;
		--reuse) REUSE=1; BUILD=0; shift ;;
		--copies) COPIES=$2; shift 2 ;;
		*) echo "fhir_http.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$CALLGRIND" ] && T=${T}_cg
. test/bench/lib.sh
[ "$BUILD" = 1 ] && bench_build
if [ "$REUSE" = 1 ]; then
	[ -f "$T/logs/setup.txt" ] || { echo "fhir_http.sh: no loaded cluster in $T to reuse" >&2; exit 2; }
	[ -f "$T/cluster/postmaster.pid" ] || bench_start
	trap bench_stop EXIT
else
bench_new_cluster 'synchronous_commit = on'
trap bench_stop EXIT
bench_load "$SCALE"
[ "$COPIES" -gt 0 ] && psql_b -d bench -v copies="$COPIES" -f test/bench/fhir/copies.sql >/dev/null
psql_b -d bench -A -t -f test/bench/fhir/setup.sql | tail -1 | tee "$T/logs/setup.txt.new"
mv "$T/logs/setup.txt.new" "$T/logs/setup.txt"
fi
# the tasks loaded (with --copies more than --scale; a reused cluster's own)
TASKS=$(cut -d'|' -f1 "$T/logs/setup.txt")
NPOOL=$(psql_b -d bench -A -t -c 'SELECT count(*) FROM bench_fhir.open_pool')
NCUR=$(psql_b -d bench -A -t -c 'SELECT count(*) FROM bench_fhir.cursors')

# one pgbench run; prints "tps median_latency_ms" (the median of every
# transaction's latency, from pgbench's per-transaction log)
run() {
	local script=$1
	rm -f "$T/logs/$script.tx".*
	as_pg $PGBIN/pgbench -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -h "$T/sock" -p "$PORT" -U postgres \
		-l --log-prefix="$T/logs/$script.tx" \
		-D ntasks="$SCALE" -D npool="$NPOOL" -D ncursors="$NCUR" -f "test/bench/fhir/$script.sql" bench \
		>"$T/logs/$script.out" 2>&1 || { echo "pgbench $script failed:" >&2; tail -5 "$T/logs/$script.out" >&2; exit 1; }
	printf '%s %s\n' "$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$T/logs/$script.out")" \
		"$(cat "$T/logs/$script.tx".* | awk '{ print $3 / 1000 }' | sort -g \
		   | awk '{ v[NR] = $1 } END { printf "%.3f", v[int((NR + 1) / 2)] }')"
}

# results_head TITLE HOW COLUMNS: the head of a results file (the table's
# separator row has as many cells as COLUMNS)
results_head() {
	echo "$1, $(date -u +%Y-%m-%d) commit $(git rev-parse --short HEAD), $TASKS tasks,"
	echo "PostgreSQL $($PGBIN/pg_config --version | cut -d' ' -f2), $2."
	echo "Setup: $(cat "$T/logs/setup.txt")"
	echo
	echo "$3"
	echo "$3" | sed 's/[^|]*|/---|/g; s/^---|/|/'
}

# callgrind mode: SCRIPT CALLS -> the input of postgres --single -j (one
# statement per paragraph): each statement PREPAREd once with its \set
# variables as parameters, then CALLS transactions of EXECUTEs.
single_input() {
	perl -e '
		my ($file, $calls, %d) = @ARGV;
		open(my $f, "<", $file) or die; local $/; my $src = <$f>;
		$src =~ s/^--.*\n//mg;
		my @sets = $src =~ /^\\set (\w+) random\((\S+), (\S+)\)$/mg;
		$src =~ s/^\\set .*\n//mg;
		my @stmts = map { s/^\s+|\s+$//gr } grep { /\S/ } split /;\s*\n/, $src;
		my (@names, @vars);
		for my $i (0 .. $#stmts) {
			next if $stmts[$i] =~ /^(BEGIN|END)$/;
			my @v; my $q = $stmts[$i];
			$q =~ s/(?<!:):(\w+)/my $n = $1; my ($k) = grep { $v[$_] eq $n } 0 .. $#v;
				unless (defined $k) { push @v, $n; $k = $#v } "\$" . ($k + 1)/ge;
			print "PREPARE s$i", (@v ? "(" . join(",", ("int") x @v) . ")" : ""), " AS $q;\n\n";
			$names[$i] = "s$i"; $vars[$i] = \@v;
		}
		srand(15);
		for (1 .. $calls) {
			my %val;
			for (my $j = 0; $j < @sets; $j += 3) {
				my ($n, $lo, $hi) = @sets[$j .. $j + 2];
				($lo, $hi) = map { /^:(\w+)$/ ? $d{$1} : $_ } ($lo, $hi);
				$val{$n} = $lo + int(rand($hi - $lo + 1));
			}
			for my $i (0 .. $#stmts) {
				print defined $names[$i]
					? "EXECUTE $names[$i]" . (@{$vars[$i]} ? "(" . join(",", map { $val{$_} } @{$vars[$i]}) . ")" : "") . ";\n\n"
					: "$stmts[$i];\n\n";
			}
		}' "test/bench/fhir/$1.sql" "$2" ntasks "$SCALE" npool "$NPOOL" ncursors "$NCUR"
}
# callgrind_run SCRIPT CALLS -> total instructions of that single-user session
callgrind_run() {
	local out=$T/cg/$1.$2
	single_input "$1" "$2" >"$out.in"
	as_pg valgrind --tool=callgrind --callgrind-out-file="$out.cg" -q \
		$PGBIN/postgres --single -j -D "$T/cluster" -c synchronous_commit=off bench <"$out.in" >"$out.log" 2>&1
	if grep -q 'ERROR:' "$out.log"; then echo "callgrind $1 $2: $(grep -m1 'ERROR:' "$out.log")" >&2; exit 1; fi
	sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out.cg"
}
if [ -n "$CALLGRIND" ]; then
	IFS=: read -r CN CM <<<"$CALLGRIND"
	bench_stop
	mkdir -p "$T/cg" && chown postgres: "$T/cg" 2>/dev/null || true
	OUT=test/bench/results/fhir_http-callgrind-$TASKS.md
	results_head "FHIR over HTTP, instructions per call (callgrind)" \
		"postgres --single, marginal cost between $CN and $CM calls" \
		"| pair (baseline / measured) | baseline instr./call | measured instr./call | ratio | target |" >"$OUT"
	for pair in $PAIRS; do
		IFS=: read -r a b target <<<"$pair"
		per=()
		for s in "$a" "$b"; do
			i1=$(callgrind_run "$s" "$CN")
			i2=$(callgrind_run "$s" "$CM")
			per+=("$(( (i2 - i1) / (CM - CN) ))")
		done
		echo "| $a / $b | ${per[0]} | ${per[1]} | $(awk -v x="${per[0]}" -v y="${per[1]}" 'BEGIN { printf "%.3f", y / x }')x | <= ${target}x |" | tee -a "$OUT"
	done
	exit 0
fi

OUT=test/bench/results/fhir_http-$TASKS${OUT_SUFFIX:-}.md
results_head "FHIR over HTTP benchmark" \
	"$(nproc) cores, $ROUNDS rounds x ${DURATION} s, $CLIENTS clients, load average at start $(cut -d' ' -f1 /proc/loadavg)" \
	"| pair (baseline / measured) | baseline tps | measured tps | baseline median latency | measured median latency | ratio (median of rounds) | target |" >"$OUT"
for pair in $PAIRS; do
	IFS=: read -r a b target <<<"$pair"
	ratios=() ta=() tb=() la=() lb=()
	for r in $(seq "$ROUNDS"); do
		read -r t1 l1 < <(run "$a")
		read -r t2 l2 < <(run "$b")
		ratios+=("$(awk -v x="$t1" -v y="$t2" 'BEGIN { printf "%.3f", x / y }')")
		ta+=("$t1") tb+=("$t2") la+=("$l1") lb+=("$l2")
	done
	med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
	line="| $a / $b | $(med "${ta[@]}") | $(med "${tb[@]}") | $(med "${la[@]}") ms | $(med "${lb[@]}") ms | $(med "${ratios[@]}")x | <= ${target}x |"
	echo "$line" | tee -a "$OUT"
done
