#!/usr/bin/env bash
# Runs every omnitask test against one running throwaway cluster and prints
# one closing line "LABEL subtotal: N passed, N failed".  Called by
# test/omnitask.sh test, once per PostgreSQL version.
#
#   bash test/run_tests.sh PGBIN SOCKET_DIR PORT BUILD_DIR
#
# BUILD_DIR is where omnitask was built for this PGBIN (test/omnitask.sh
# builds each version in a directory of its own).  pg_regress, isolation and
# TAP tests are run by PGXS's own `make installcheck` (the Makefile declares
# REGRESS, ISOLATION and TAP_TESTS); this script adds what PGXS cannot do:
# the unit tests, the counting, the scan of the server logs for assertion
# failures and leak warnings, the debug_discard_caches run, and valgrind.
# make installcheck is run once per kind of test so that each is counted and
# timed on its own.
#
# Counted: each unit-test assertion, each pg_regress script, each isolation
# spec, each TAP assertion (a TAP file that dies or misses its plan counts as
# one more failure), the log scan, the valgrind run.
#
# Environment: OMNITASK_LABEL (e.g. pg18; prefixes every heading),
# OMNITASK_TMP (this run's scratch directory), OMNITASK_SKIP_VALGRIND=1,
# OMNITASK_DDC_SUITES (the pg_regress scripts run again under
# debug_discard_caches = 1 on an assert-enabled server; "none" to skip),
# OMNITASK_PG_OLD_BIN / OMNITASK_PG_NEW_BIN (for test/t/120_pg_upgrade.pl).
set -uo pipefail

PGBIN=$1 SOCK=$2 PORT=$3 BUILD=$4
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOP=$(pwd)
TMP=${OMNITASK_TMP:-$TOP/test/tmp}
LABEL=${OMNITASK_LABEL:-pg$("$PGBIN/pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')}
DDC_SUITES=${OMNITASK_DDC_SUITES:-security}
passed=0 failed=0
failures=()

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- env PATH="$PGBIN:$PATH" "$@"; else env PATH="$PGBIN:$PATH" "$@"; fi
}
psql_c() { "$PGBIN/psql" -X -A -t -h "$SOCK" -p "$PORT" -U postgres -d postgres -c "$1"; }

SECONDS_AT=$SECONDS
heading() { SECONDS_AT=$SECONDS; echo "== $LABEL: $*"; }
took() { echo "   ($LABEL: $1 took $((SECONDS - SECONDS_AT)) s)"; }

# pgxs_installcheck OUT ARGS...: make installcheck in the build directory,
# as the cluster's OS user (TAP tests start servers, which refuse root).
pgxs_installcheck() {
	local out=$1; shift
	as_pg env PGHOST="$SOCK" PGPORT="$PORT" PGUSER=postgres PGOPTIONS="${PGOPTIONS:-}" \
		OMNITASK_TMP="$TMP" \
		make -C "$BUILD" -f "$TOP/Makefile" VPATH="$TOP" PG_CONFIG="$PGBIN/pg_config" \
		installcheck "$@" >"$out" 2>&1
}

# count_tap NAME FILE EXIT: tallies a TAP stream.
count_tap() {
	local name=$1 file=$2 rc=$3 ok notok plan
	ok=$(grep -cE '^ *ok [0-9]+' "$file" || true)
	notok=$(grep -cE '^ *not ok [0-9]+' "$file" || true)
	plan=$(grep -oE '^1\.\.[0-9]+' "$file" | head -1 | cut -d. -f3 || true)
	passed=$((passed + ok))
	failed=$((failed + notok))
	[ "$notok" -gt 0 ] && failures+=("$name: $notok failed assertion(s)")
	if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
		failed=$((failed + 1)); failures+=("$name: exited with $rc")
	elif [ -n "$plan" ] && [ "$plan" -ne $((ok + notok)) ]; then
		failed=$((failed + 1)); failures+=("$name: planned $plan, ran $((ok + notok))")
	fi
}

# count_regress NAME FILE EXIT: tallies pg_regress / pg_isolation_regress
# output, in 15's format ("test NAME ... ok") and 16's TAP format
# ("ok 1 - NAME", "not ok 2 - NAME").
count_regress() {
	local name=$1 file=$2 rc=$3 ok bad
	ok=$(grep -cE '^(test|     ) .* \.\.\. ok|^ok [0-9]+ ' "$file" || true)
	bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed|^not ok [0-9]+ ' "$file" || true)
	passed=$((passed + ok))
	failed=$((failed + bad))
	[ "$bad" -gt 0 ] && failures+=("$name: $bad failed (regression.diffs below)")
	if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
		failed=$((failed + 1)); failures+=("$name: did not run (see $file)")
	elif [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		failed=$((failed + 1)); failures+=("$name: make installcheck exited with $rc (see $file)")
	fi
}
show_regress() { grep -E '^(test|     ) |^ok [0-9]|^not ok [0-9]|FAILED|failed|could not' "$1" || true; }

mkdir -p "$TMP"
echo "== $LABEL: $("$PGBIN/postgres" --version), debug_assertions $(psql_c 'SHOW debug_assertions')"

heading "unit tests (src/fhir_types.c, src/fhir_xhtml.c)"
mkdir -p "$TMP/unit"
if gcc -DFHIR_TYPES_UNIT_TEST -std=gnu99 -O1 -g -Wall -Wextra -Werror -Isrc src/fhir_types.c src/fhir_xhtml.c src/fhir_tables.c test/unit/test_fhir_types.c \
	-o "$TMP/unit/test_fhir_types" 2>"$TMP/unit/build.log"; then
	"$TMP/unit/test_fhir_types" >"$TMP/unit/out.tap" 2>&1; rc=$?
	count_tap unit "$TMP/unit/out.tap" $rc
	grep -E '^not ok' "$TMP/unit/out.tap" || true
else
	cat "$TMP/unit/build.log"; failed=$((failed + 1)); failures+=("unit: build failed")
fi
# again with the narrative's text scanned eight bytes at a time (as without SSE2)
if gcc -DFHIR_TYPES_UNIT_TEST -DFHIR_XHTML_NO_SIMD -std=gnu99 -O1 -g -Wall -Wextra -Werror -Isrc src/fhir_types.c src/fhir_xhtml.c src/fhir_tables.c \
	test/unit/test_fhir_types.c -o "$TMP/unit/test_fhir_types_nosimd" 2>"$TMP/unit/build_nosimd.log"; then
	"$TMP/unit/test_fhir_types_nosimd" >"$TMP/unit/out_nosimd.tap" 2>&1; rc=$?
	count_tap unit-nosimd "$TMP/unit/out_nosimd.tap" $rc
	grep -E '^not ok' "$TMP/unit/out_nosimd.tap" || true
else
	cat "$TMP/unit/build_nosimd.log"; failed=$((failed + 1)); failures+=("unit-nosimd: build failed")
fi
took "unit tests"

heading "pg_regress (make installcheck ISOLATION= TAP_TESTS=)"
pgxs_installcheck "$TMP/regress.out" ISOLATION= TAP_TESTS=; rc=$?
show_regress "$TMP/regress.out"
count_regress "$LABEL pg_regress" "$TMP/regress.out" $rc
took "pg_regress"

heading "isolation (make installcheck REGRESS= TAP_TESTS=)"
pgxs_installcheck "$TMP/isolation.out" REGRESS= TAP_TESTS=; rc=$?
show_regress "$TMP/isolation.out"
count_regress "$LABEL isolation" "$TMP/isolation.out" $rc
took "isolation"

heading "TAP (make installcheck REGRESS= ISOLATION=, prove -v --timer)"
pgxs_installcheck "$TMP/tap.out" REGRESS= ISOLATION= PROVE_FLAGS="-v --timer"; rc=$?
# split prove's verbose output into one stream per test file
rm -rf "$TMP/tap" && mkdir -p "$TMP/tap"
awk -v dir="$TMP/tap" '
	/^(\[[0-9:]+\] )?test\/t\/[^ ]+\.pl \.+ ?/ {
		f = $0; sub(/^(\[[0-9:]+\] )?test\/t\//, "", f); sub(/\.pl .*$/, "", f)
		out = dir "/" f ".tap"; printf "" > out
		rest = $0; sub(/^.*\.pl \.+ ?/, "", rest); if (rest != "") print rest > out
		next }
	/^Test Summary Report|^All tests successful|^Files=/ { out = "" }
	# prove --timer: "ok   1234 ms ( ... CPU)" closes a file; kept apart from the TAP
	# (the time stamps of prove --timer are in tap.out)
	out != "" && / ms \( *[0-9.]+ usr/ { print > (out ".time"); next }
	out != "" { print > out }' "$TMP/tap.out"
for f in "$TMP"/tap/*.tap; do
	[ -e "$f" ] || continue
	name=$(basename "$f" .tap)
	frc=0
	# prove reports a file that died or missed its plan
	grep -qE '^(Dubious|No subtests run|Bad plan|No plan found|Parse errors)' "$f" && frc=1
	count_tap "$LABEL tap/$name" "$f" $frc
	skip=$(grep -oE '^ *skipped: .*|^1\.\.0 # [Ss]kip.*' "$f" | head -1)
	printf '%-28s %s ok, %s not ok %s\n' "$name" "$(grep -cE '^ *ok [0-9]' "$f")" \
		"$(grep -cE '^ *not ok [0-9]' "$f")" "$skip"
	grep -E '^ *not ok' "$f" | head -20 || true
done
if ! ls "$TMP"/tap/*.tap >/dev/null 2>&1; then
	failed=$((failed + 1)); failures+=("$LABEL TAP: prove did not run (see $TMP/tap.out)")
	tail -20 "$TMP/tap.out"
fi
took "TAP"

# debug_discard_caches = 1 (an assert-enabled server only): every cache
# entry is thrown away at every opportunity, which finds a cached plan,
# snapshot or OID that outlives what it points to.  10-100x slower, so only
# the suites that finish in minutes.
if [ "$(psql_c 'SHOW debug_assertions')" = on ] && [ "$DDC_SUITES" != none ]; then
	heading "pg_regress under debug_discard_caches = 1: $DDC_SUITES"
	as_pg mkdir -p "$TMP/regress-ddc"
	PGOPTIONS="-c debug_discard_caches=1" pgxs_installcheck "$TMP/regress-ddc.out" \
		ISOLATION= TAP_TESTS= REGRESS="$DDC_SUITES" REGRESS_OUT="$TMP/regress-ddc"; rc=$?
	show_regress "$TMP/regress-ddc.out"
	count_regress "$LABEL pg_regress (debug_discard_caches)" "$TMP/regress-ddc.out" $rc
	took "debug_discard_caches"
fi

# No server log of this run may hold an assertion failure (TRAP:) or a
# warning about a leaked resource or a damaged memory context.
heading "server logs: no assertion failure, no leak warning"
logs=$(find "$TMP" "$BUILD" -name '*.log' -type f ! -name 'regress_log_*' ! -name '*.tap' 2>/dev/null)
pattern='TRAP: |WARNING: .*(leak|was not closed|still active|not released|problem in alloc set|detected write past chunk end|refcount)'
bad=$(echo "$logs" | xargs -r grep -HE "$pattern" 2>/dev/null | head -20)
if [ -n "$bad" ]; then
	echo "$bad"
	failed=$((failed + 1)); failures+=("$LABEL server logs: assertion failure or leak warning (above)")
else
	passed=$((passed + 1))
	echo "   $(echo "$logs" | grep -c .) server logs scanned: clean"
fi

if [ "${OMNITASK_SKIP_VALGRIND:-0}" != 1 ]; then
	heading "valgrind (the pg_regress suites with postgres under memcheck)"
	if PGBIN=$PGBIN bash test/valgrind.sh >"$TMP/valgrind.out" 2>&1; then
		passed=$((passed + 1))
		tail -3 "$TMP/valgrind.out"
	else
		failed=$((failed + 1)); failures+=("$LABEL valgrind: errors in omnitask's code or harness failure (see $TMP/valgrind.out)")
		tail -40 "$TMP/valgrind.out"
	fi
	took "valgrind"
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo
	echo "Failures ($LABEL):"
	printf '  %s\n' "${failures[@]}"
	for d in "$BUILD/test/tmp/regress" "$BUILD/test/tmp/isolation" "$TMP/regress-ddc"; do
		[ -f "$d/regression.diffs" ] && head -100 "$d/regression.diffs"
	done
fi
echo
echo "$LABEL subtotal: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
