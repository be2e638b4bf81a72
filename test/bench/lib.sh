# test/bench/lib.sh: the set-up the benchmark scripts share, sourced by them.
# Expects PGBIN, PORT and T (the script's directory under test/tmp: its
# cluster in $T/cluster, its socket in $T/sock) to be set.

# Runs a command as the cluster's owner (postgres when run as root).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# psql on the benchmark cluster, stopping at the first error.
psql_b() { as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$T/sock" -p "$PORT" -U postgres "$@"; }

# Builds omnitask and installs it into $PGBIN's PostgreSQL.
bench_build() {
	make -s PG_CONFIG="$PGBIN/pg_config" >/dev/null
	if [ "$(id -u)" = 0 ]; then make -s PG_CONFIG="$PGBIN/pg_config" install >/dev/null
	else sudo make -s PG_CONFIG="$PGBIN/pg_config" install >/dev/null; fi
}

# Stops the benchmark cluster if it runs.
bench_stop() { [ -f "$T/cluster/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$T/cluster" -m fast stop >/dev/null || true; }

# Starts the benchmark cluster.
bench_start() { as_pg "$PGBIN/pg_ctl" -D "$T/cluster" -l "$T/cluster.log" -w -o "-p $PORT -k $T/sock" start >/dev/null; }

# A new cluster in $T (whatever was there is removed), with the settings
# every benchmark uses plus the lines given as arguments, started.
bench_new_cluster() {
	local line
	bench_stop
	rm -rf "$T" && mkdir -p "$T/sock" "$T/logs"
	[ "$(id -u)" = 0 ] && chown -R postgres: "$T"
	as_pg "$PGBIN/initdb" -D "$T/cluster" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
	{
		cat <<CONF
listen_addresses = ''
shared_buffers = 1GB
work_mem = 32MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
checkpoint_timeout = 30min
jit = off
random_page_cost = 1.1
shared_preload_libraries = 'omnitask'
CONF
		for line in "$@"; do echo "$line"; done
	} | as_pg tee -a "$T/cluster/postgresql.conf" >/dev/null
	bench_start
}

# Database bench with omnitask and the sample data of $1 tasks.
bench_load() {
	local scale=$1
	echo "== loading $scale tasks"
	psql_b -d postgres -c 'CREATE DATABASE bench'
	psql_b -d bench -c 'CREATE EXTENSION omnitask'
	psql_b -d bench -v n="$scale" -v practitioners=$((scale / 500 + 20)) -v patients=$((scale / 10 + 200)) \
		-f test/sample/generate.sql >/dev/null
}
