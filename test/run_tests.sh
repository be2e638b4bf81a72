#!/usr/bin/env bash
# Runs every omnitask test against a running throwaway cluster and prints one
# closing line "N passed, N failed".  Called by test/omnitask.sh test.
#
#   bash test/run_tests.sh PGBIN SOCKET_DIR PORT
#
# Counted: each unit-test assertion, each pg_regress script, each isolation
# spec, each TAP assertion (a TAP file that dies or misses its plan counts as
# one more failure).
set -uo pipefail

PGBIN=$1 SOCK=$2 PORT=$3
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOP=$(pwd)
TMP=${OMNITASK_TMP:-$TOP/test/tmp}
PGXS_DIR=$($PGBIN/pg_config --pkglibdir)/pgxs
passed=0 failed=0
failures=()

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- env PATH="$PGBIN:$PATH" "$@"; else env PATH="$PGBIN:$PATH" "$@"; fi
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

# count_regress NAME FILE: tallies pg_regress / pg_isolation_regress output.
count_regress() {
	local name=$1 file=$2 ok bad
	ok=$(grep -cE '^(test|     ) .* \.\.\. ok' "$file" || true)
	bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$file" || true)
	passed=$((passed + ok))
	failed=$((failed + bad))
	[ "$bad" -gt 0 ] && failures+=("$name: $bad failed (see $(dirname "$file")/regression.diffs)")
	if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
		failed=$((failed + 1)); failures+=("$name: did not run")
	fi
}

echo "== unit tests (src/fhir_types.c)"
mkdir -p "$TMP/unit"
if gcc -std=gnu99 -O1 -g -Wall -Wextra -Werror -Isrc src/fhir_types.c test/unit/test_fhir_types.c \
	-o "$TMP/unit/test_fhir_types" 2>"$TMP/unit/build.log"; then
	"$TMP/unit/test_fhir_types" >"$TMP/unit/out.tap" 2>&1; rc=$?
	count_tap unit "$TMP/unit/out.tap" $rc
	grep -E '^not ok' "$TMP/unit/out.tap" || true
else
	cat "$TMP/unit/build.log"; failed=$((failed + 1)); failures+=("unit: build failed")
fi

echo "== pg_regress"
tests=$(ls sql/*.sql | grep -v '/omnitask--' | xargs -n1 basename | sed 's/\.sql$//' | sort)
$PGXS_DIR/src/test/regress/pg_regress --bindir=$PGBIN --inputdir=. --outputdir="$TMP/regress" \
	--host="$SOCK" --port="$PORT" --user=postgres --dbname=omnitask_regress --load-extension=omnitask \
	$tests >"$TMP/regress/out.txt" 2>&1
cat "$TMP/regress/out.txt" | grep -E '^test |^     |FAILED|failed' || true
count_regress pg_regress "$TMP/regress/out.txt"

if ls test/isolation/*.spec >/dev/null 2>&1; then
	echo "== isolation"
	specs=$(ls test/isolation/*.spec | xargs -n1 basename | sed 's/\.spec$//' | sort)
	# pg_isolation_regress wants <inputdir>/specs and <inputdir>/expected
	rm -rf "$TMP/isolation/input" && mkdir -p "$TMP/isolation/input"
	ln -s "$TOP/test/isolation" "$TMP/isolation/input/specs"
	ln -s "$TOP/test/isolation/expected" "$TMP/isolation/input/expected"
	$PGXS_DIR/src/test/isolation/pg_isolation_regress --bindir=$PGBIN --inputdir="$TMP/isolation/input" \
		--outputdir="$TMP/isolation" --host="$SOCK" --port="$PORT" --user=postgres \
		--dbname=omnitask_isolation --load-extension=omnitask \
		$specs >"$TMP/isolation/out.txt" 2>&1
	cat "$TMP/isolation/out.txt" | grep -E '^test |^     |FAILED|failed' || true
	count_regress isolation "$TMP/isolation/out.txt"
fi

if ls test/t/*.pl >/dev/null 2>&1; then
	echo "== TAP"
	mkdir -p "$TMP/tap"
	[ "$(id -u)" = 0 ] && chown -R postgres: "$TMP"
	for t in test/t/*.pl; do
		name=$(basename "$t" .pl)
		rm -rf "$TMP/tap/$name" && mkdir -p "$TMP/tap/$name"
		[ "$(id -u)" = 0 ] && chown postgres: "$TMP/tap/$name"
		as_pg env PERL5LIB="$PGXS_DIR/src/test/perl" TESTDIR="$TMP/tap/$name" \
			PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
			OMNITASK_TOP="$TOP" OMNITASK_SOCK="$SOCK" OMNITASK_PORT="$PORT" PGBIN="$PGBIN" \
			perl "$t" >"$TMP/tap/$name.tap" 2>"$TMP/tap/$name.err"; rc=$?
		count_tap "tap/$name" "$TMP/tap/$name.tap" $rc
		printf '%-28s %s ok, %s not ok\n' "$name" "$(grep -cE '^ *ok ' "$TMP/tap/$name.tap")" \
			"$(grep -cE '^ *not ok ' "$TMP/tap/$name.tap")"
		grep -E '^ *not ok' "$TMP/tap/$name.tap" | head -20 || true
		[ "$rc" -ne 0 ] && tail -20 "$TMP/tap/$name.err"
	done
fi

if [ "${OMNITASK_SKIP_VALGRIND:-0}" != 1 ]; then
	echo "== valgrind (the pg_regress suites with postgres under memcheck)"
	if bash test/valgrind.sh >"$TMP/valgrind.out" 2>&1; then
		passed=$((passed + 1))
		tail -3 "$TMP/valgrind.out"
	else
		failed=$((failed + 1)); failures+=("valgrind: errors in omnitask's code or harness failure (see $TMP/valgrind.out)")
		tail -40 "$TMP/valgrind.out"
	fi
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo
	echo "Failures:"
	printf '  %s\n' "${failures[@]}"
	[ -f "$TMP/regress/regression.diffs" ] && head -100 "$TMP/regress/regression.diffs"
	[ -f "$TMP/isolation/regression.diffs" ] && head -100 "$TMP/isolation/regression.diffs"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
