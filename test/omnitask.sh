#!/usr/bin/env bash
# omnitask: set up a machine, build, run a throwaway cluster, and run the
# demo or every test.  Works on a fresh Debian 12 machine (as root, or as a
# user with sudo), before PostgreSQL is installed, which is why it is a
# script and not the Makefile.
#
#   bash test/omnitask.sh demo     install, build, start a cluster, load sample data, show the main job
#   bash test/omnitask.sh test     install, build, run pg_regress, isolation, TAP and unit tests,
#                                  on every version of OMNITASK_PG_VERSIONS
#   bash test/omnitask.sh start    install, build, start the cluster and print how to connect
#   bash test/omnitask.sh stop     stop the clusters
#   bash test/omnitask.sh install  install the packages, build and install omnitask (no cluster)
#
# Versions: OMNITASK_PG_VERSIONS (default "15 18"; "15" for a quick run).
#   15: Debian 12's PostgreSQL ($PGBIN, default /usr/lib/postgresql/15/bin;
#       the packages are installed only when PGBIN is that packaged path).
#   18 (or any other): PostgreSQL built with --enable-cassert --enable-debug
#       --enable-tap-tests from Debian's source package by test/pg_build.sh,
#       cached in $OMNITASK_CACHE (default /var/cache/omnitask), or
#       $OMNITASK_PGBIN_18 if set.  A PGBIN of that major version is used too.
# demo, start and install use the first version.
#
# Each version gets test/tmp/pgNN: its build directory (a VPATH build, so
# the versions do not share objects), its cluster (port $OMNITASK_PORT or
# 54329, its own socket directory) and its logs; the system cluster is never
# touched.  The versions run one after the other; the closing line
# "N passed, N failed" counts them all.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOP=$(pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
VERSIONS=${OMNITASK_PG_VERSIONS:-15 18}
PORT=${OMNITASK_PORT:-54329}
TMP=${OMNITASK_TMP:-$TOP/test/tmp}
# Debian 12 packages every run needs (extend freely; PostgreSQL's own
# packages are added by pg_packages for the versions that use them)
PACKAGES=(libjson-c-dev pkg-config make gcc libipc-run-perl perl valgrind nginx)

say() { printf '\n== %s\n' "$*"; }

# as_root CMD...: run as root (directly, or through sudo).
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# as_pg CMD...: run as the cluster's OS user (postgres refuses to run as root).
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# major_of BINDIR: the major version of the PostgreSQL in BINDIR (15, 18).
major_of() {
	"$1/pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'
}

# pg_packages: Debian 12's PostgreSQL packages, for the versions taken from
# /usr/lib/postgresql (a private copy given as PGBIN needs none).
pg_packages() {
	local v
	for v in $VERSIONS; do
		if [ "$v" = 15 ] && [ "$PGBIN" = /usr/lib/postgresql/15/bin ]; then
			# pgaudit: test/t/141_pgaudit.pl (skipped where it is absent)
			echo postgresql-15 postgresql-server-dev-15 postgresql-15-pgaudit
		fi
	done
}

# bin_for VERSION: the bin directory of that PostgreSQL (building it if needed).
bin_for() {
	local v=$1 var="OMNITASK_PGBIN_$1"
	if [ -n "${!var:-}" ]; then
		echo "${!var}"
	elif [ -x "$PGBIN/pg_config" ] && [ "$(major_of "$PGBIN")" = "$v" ]; then
		echo "$PGBIN"
	elif [ "$v" = 15 ]; then
		echo /usr/lib/postgresql/15/bin
	else
		as_root env OMNITASK_CACHE="${OMNITASK_CACHE:-/var/cache/omnitask}" bash "$TOP/test/pg_build.sh" "$v"
	fi
}

install_packages() {
	local missing=()
	for p in "${PACKAGES[@]}" $(pg_packages); do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		as_root apt-get update -qq
		# the packaged cluster is not needed: only ours runs
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# build_install BINDIR BUILDDIR: build omnitask for that PostgreSQL in a
# directory of its own (-Wall -Wextra -Werror) and install it there.
build_install() {
	local bin=$1 b=$2
	say "building and installing omnitask for $("$bin/postgres" --version) (${b#$TOP/})"
	mkdir -p "$b"
	# objects of an in-tree build would be taken for this build's (VPATH)
	if ls "$TOP"/src/*.o "$TOP"/omnitask.so >/dev/null 2>&1; then
		make -s -C "$TOP" PG_CONFIG="$bin/pg_config" clean >/dev/null
	fi
	make -s -C "$b" -f "$TOP/Makefile" VPATH="$TOP" PG_CONFIG="$bin/pg_config" >/dev/null
	as_root make -s -C "$b" -f "$TOP/Makefile" VPATH="$TOP" PG_CONFIG="$bin/pg_config" install >/dev/null
}

# use_version VERSION: point BIN, VT, DATA, SOCK, LOG at that version.
use_version() {
	V=$1
	BIN=$(bin_for "$V")
	VT=$TMP/pg$V
	DATA=$VT/cluster
	SOCK=$VT/sock
	LOG=$VT/cluster.log
}

# Make test/tmp usable by the postgres OS user when we run as root, including
# the directories above it (a clone under a private mktemp directory).
prepare_tmp() {
	mkdir -p "$TMP" "$VT" "$SOCK"
	if [ "$(id -u)" = 0 ]; then
		local d=$TOP
		while [ "$d" != / ]; do
			runuser -u postgres -- test -x "$d" 2>/dev/null || chmod o+x "$d"
			d=$(dirname "$d")
		done
		chown -R postgres: "$TMP"
	fi
}

stop_cluster() {
	if [ -f "$DATA/postmaster.pid" ]; then
		as_pg $BIN/pg_ctl -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
}

# stop_all: stop the cluster of every version (and of the layout before
# versions, test/tmp/cluster).
stop_all() {
	local d
	for d in "$TMP"/pg*/cluster "$TMP"/cluster; do
		[ -f "$d/postmaster.pid" ] || continue
		as_pg "$(bin_for "$(cat "$d/PG_VERSION")")/pg_ctl" -D "$d" -m fast -w stop >/dev/null 2>&1 || true
	done
}

start_cluster() {
	prepare_tmp
	stop_cluster
	rm -rf "$DATA"
	as_pg mkdir -p "$DATA"
	say "starting a throwaway PostgreSQL $V cluster in ${DATA#$TOP/} on port $PORT"
	as_pg $BIN/initdb -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
	as_pg $BIN/pg_ctl -D "$DATA" -l "$LOG" -w -o "-p $PORT -k $SOCK -c listen_addresses='' -c max_prepared_transactions=10 -c shared_preload_libraries=omnitask" start >/dev/null
	export PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres
}

psql_q() { $BIN/psql -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres "$@"; }

demo() {
	start_cluster
	psql_q -d postgres -c "CREATE DATABASE omnitask_demo" >/dev/null
	psql_q -d omnitask_demo -c "CREATE EXTENSION omnitask" >/dev/null
	say "loading sample data"
	psql_q -d omnitask_demo -v n="${N:-300}" -f test/sample/generate.sql
	say "the main job"
	psql_q -d omnitask_demo -f test/demo.sql
	say "done; the cluster keeps running: psql -h $SOCK -p $PORT -U postgres omnitask_demo (stop: bash test/omnitask.sh stop)"
}

# run_tests: every test on every version; one closing line counts them all.
run_tests() {
	local v rc=0 total_p=0 total_f=0 line t0 oldest_bin="" sub
	local -A bins=()
	# build (or find) every PostgreSQL and install omnitask in each first:
	# test/t/120_pg_upgrade.pl needs two of them
	for v in $VERSIONS; do
		t0=$SECONDS
		use_version "$v"
		bins[$v]=$BIN
		say "PostgreSQL $v: $BIN (ready after $((SECONDS - t0)) s)"
		t0=$SECONDS
		build_install "$BIN" "$VT/build"
		say "PostgreSQL $v: omnitask built and installed in $((SECONDS - t0)) s"
		[ -n "$oldest_bin" ] || oldest_bin=$BIN
	done
	for v in $VERSIONS; do
		use_version "$v"
		t0=$SECONDS
		start_cluster
		sub=$VT/test-output.txt
		set +e
		# valgrind runs on 15 only (OMNITASK_VALGRIND_VERSIONS): an
		# assert-enabled build under memcheck would take hours
		OMNITASK_TMP=$VT OMNITASK_LABEL=pg$v OMNITASK_PG_OLD_BIN=${OMNITASK_PG_OLD_BIN:-$oldest_bin} \
			OMNITASK_SKIP_VALGRIND=$(case " ${OMNITASK_VALGRIND_VERSIONS:-15} " in *" $v "*) echo "${OMNITASK_SKIP_VALGRIND:-0}" ;; *) echo 1 ;; esac) \
			bash test/run_tests.sh "$BIN" "$SOCK" "$PORT" "$VT/build" 2>&1 | tee "$sub"
		[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
		set -e
		stop_cluster
		line=$(grep -E "^pg$v subtotal: [0-9]+ passed, [0-9]+ failed$" "$sub" | tail -1)
		if [ -z "$line" ]; then
			echo "pg$v: no subtotal (the run stopped early)"; total_f=$((total_f + 1)); rc=1
		else
			line=${line#*: }
			total_p=$((total_p + ${line%% passed*}))
			line=${line#*passed, }
			total_f=$((total_f + ${line%% failed*}))
		fi
		say "PostgreSQL $v: tests took $((SECONDS - t0)) s"
	done
	# the closing line comes last
	echo
	echo "$total_p passed, $total_f failed"
	return "$rc"
}

cmd=${1:-test}
first=${VERSIONS%% *}
case "$cmd" in
	demo) install_packages; use_version "$first"; build_install "$BIN" "$VT/build"; demo ;;
	test) install_packages; run_tests ;;
	start) install_packages; use_version "$first"; build_install "$BIN" "$VT/build"; start_cluster
		echo "psql -h $SOCK -p $PORT -U postgres postgres" ;;
	stop) stop_all ;;
	install) install_packages; use_version "$first"; build_install "$BIN" "$VT/build" ;;
	*) echo "usage: bash test/omnitask.sh demo|test|start|stop|install" >&2; exit 2 ;;
esac
