#!/usr/bin/env bash
# omnitask: set up a machine, build, run a throwaway cluster, and run the
# demo or every test.  Works on a fresh Debian 12 machine (as root, or as a
# user with sudo), before PostgreSQL is installed, which is why it is a
# script and not the Makefile.
#
#   bash test/omnitask.sh demo     install, build, start a cluster, load sample data, show the main job
#   bash test/omnitask.sh test     install, build, run pg_regress, isolation, TAP and unit tests
#   bash test/omnitask.sh start    install, build, start the cluster and print how to connect
#   bash test/omnitask.sh stop     stop the cluster
#   bash test/omnitask.sh install  install the packages, build and install omnitask (no cluster)
#
# The cluster lives in test/tmp/cluster (its own port, $OMNITASK_PORT or
# 54329, and its own socket directory); the system cluster is never touched.
# $PGBIN (default /usr/lib/postgresql/15/bin) picks the PostgreSQL to build
# against and run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOP=$(pwd)
# PGBIN: a relocated copy of PostgreSQL 15 may be used instead (for side-by-side builds)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${OMNITASK_PORT:-54329}
TMP=${OMNITASK_TMP:-$TOP/test/tmp}
export OMNITASK_TMP=$TMP
DATA=$TMP/cluster
SOCK=$TMP/sock
LOG=$TMP/cluster.log
PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-contrib libjson-c-dev pkg-config make gcc
          libipc-run-perl perl valgrind nginx)

say() { printf '\n== %s\n' "$*"; }

# as_root CMD...: run as root (directly, or through sudo).
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# as_pg CMD...: run as the cluster's OS user (postgres refuses to run as root).
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_packages() {
	local missing=()
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		as_root apt-get update -qq
		# the packaged cluster is not needed: only ours runs
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

build_install() {
	say "building and installing omnitask"
	make -s PG_CONFIG=$PGBIN/pg_config >/dev/null
	as_root make -s PG_CONFIG=$PGBIN/pg_config install >/dev/null
}

# Make test/tmp usable by the postgres OS user when we run as root, including
# the directories above it (a clone under a private mktemp directory).
prepare_tmp() {
	mkdir -p "$TMP" "$SOCK"
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
		as_pg $PGBIN/pg_ctl -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
}

start_cluster() {
	prepare_tmp
	stop_cluster
	rm -rf "$DATA"
	as_pg mkdir -p "$DATA"
	say "starting a throwaway cluster in ${DATA#$TOP/} on port $PORT"
	as_pg $PGBIN/initdb -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
	as_pg $PGBIN/pg_ctl -D "$DATA" -l "$LOG" -w -o "-p $PORT -k $SOCK -c listen_addresses='' -c max_prepared_transactions=10 -c shared_preload_libraries=omnitask" start >/dev/null
	export PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres
}

psql_q() { $PGBIN/psql -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres "$@"; }

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

run_tests() {
	start_cluster
	mkdir -p "$TMP/regress" "$TMP/isolation"
	[ "$(id -u)" = 0 ] && chown -R postgres: "$TMP"
	local rc
	set +e
	bash test/run_tests.sh "$PGBIN" "$SOCK" "$PORT" 2>&1 | tee "$TMP/test-output.txt" | grep -v -E '^[0-9]+ passed, [0-9]+ failed$'
	rc=${PIPESTATUS[0]}
	set -e
	stop_cluster
	# the closing line comes last
	grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/test-output.txt" | tail -1
	return "$rc"
}

cmd=${1:-test}
case "$cmd" in
	demo) install_packages; build_install; demo ;;
	test) install_packages; build_install; run_tests ;;
	start) install_packages; build_install; start_cluster
		echo "psql -h $SOCK -p $PORT -U postgres postgres" ;;
	stop) stop_cluster ;;
	install) install_packages; build_install ;;
	*) echo "usage: bash test/omnitask.sh demo|test|start|stop|install" >&2; exit 2 ;;
esac
