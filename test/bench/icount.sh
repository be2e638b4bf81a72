#!/usr/bin/env bash
# omnitask instruction-count benchmark: the CPU cost of each write path, in
# instructions counted by valgrind's callgrind on a single-user
# `postgres --single` running the statements, against the floor (the same
# tables and indexes without triggers or RLS, derived columns computed in
# SQL, history row written in the same statement) -- deterministic where
# wall-clock ratios on a shared machine swing by a third.
#
#   bash test/bench/icount.sh [--rows N] [--paths bulk,create,...] [--sides floor,omni]
#                             [--no-build] [--reuse] [--set N=V]
#
#   --rows N     rows per batch (default 2000)
#   --paths L    comma-separated subset of: bulk copy stage create status update import migrate validate
#   --sides L    floor,omni (default) or one of them: the floor does not depend on omnitask's
#                code, so after a change "--sides omni" is enough (the table shows - for the other)
#   --no-build   use the installed omnitask as it is (default: make && make install first)
#   --reuse      keep the template cluster of a previous run (same --rows)
#   --set N=V    a setting for every run (repeatable), e.g. --set omnitask.revalidate_unchanged=on
#   (ICOUNT_TMP=DIR: its clusters and files in DIR instead of test/tmp/icount)
#
# Each path is measured as the marginal cost of a second batch of N rows over
# the first: run 1 executes batch 1, run 2 batch 1 then batch 2, each on a
# fresh copy of the same template cluster; (I2 - I1) / N is the cost per row
# without start-up, catalog caches or first plans.  Bulk paths start from
# empty tables (database ic_empty), the status change and the update work on
# generated tasks (database ic_data).
#
#   bulk      INSERT INTO omnitask.task (resource) SELECT ...   vs the floor's INSERT ... SELECT + history
#   copy      COPY omnitask.task (resource) FROM file (superuser) vs the floor's bulk insert
#   stage     the admins' bulk path under RLS (README "Bulk writes"): COPY into a temporary staging
#             table, then INSERT INTO omnitask.task ... SELECT as omnitask_admin; vs the floor's bulk insert
#   create    one create_task() per statement                   vs workloads/create_floor.sql per statement
#   status    one set_task_status() per statement                vs workloads/status_floor.sql per statement
#   update    one update_task() (new description) per statement  vs UPDATE + history row per statement
#             (the single-row statements are prepared once and executed per row, as pgbench -M prepared)
#   import    import_task() over N stored Tasks in one statement vs the floor's bulk insert
#   migrate   import_tasks() of the same Tasks as NDJSON text      vs the floor's bulk insert
#   validate  validate_task() over Task-example5-like documents  vs printing the same jsonb as text
#             (stored inline uncompressed; both net of the scan: count(resource) over the same rows)
#
# Writes test/bench/results/icount.md (the table and, for bulk, create and
# status, where the marginal instructions go: callgrind_annotate's top
# functions by self cost, run 2 minus run 1, per row).  Its own cluster lives
# in test/tmp/icount (started on $BENCH_PORT only while the template is built).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TOP=$(pwd)
BENCH=$TOP/test/bench
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PORT:-54339}
TMPI=${ICOUNT_TMP:-$TOP/test/tmp/icount}	# ICOUNT_TMP: another directory, for a second run at the same time
TEMPLATE=$TMPI/template
SOCK=$TMPI/sock
RES=$BENCH/results
ROWS=2000
PATHS=bulk,copy,stage,create,status,update,import,migrate,validate
SIDES=floor,omni
BUILD=1
REUSE=0
SETTINGS=()
while [ $# -gt 0 ]; do
	case "$1" in
		--rows) ROWS=$2; shift 2 ;;
		--paths) PATHS=$2; shift 2 ;;
		--sides) SIDES=$2; shift 2 ;;
		--no-build) BUILD=0; shift ;;
		--reuse) REUSE=1; shift ;;
		--set) SETTINGS+=(-c "$2"); shift 2 ;;
		-h|--help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) echo "icount.sh: unrecognized argument \"$1\" (see --help)" >&2; exit 2 ;;
	esac
done

note() { printf '== %s\n' "$*"; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_db() { as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d "$@"; }

if [ "$BUILD" = 1 ]; then
	note "building and installing omnitask for $("$PGBIN/postgres" --version)"
	B=$TMPI/build
	mkdir -p "$B"
	make -s -C "$B" -f "$TOP/Makefile" VPATH="$TOP" PG_CONFIG="$PGBIN/pg_config" >/dev/null
	make -s -C "$B" -f "$TOP/Makefile" VPATH="$TOP" PG_CONFIG="$PGBIN/pg_config" install >/dev/null
fi

# build_template: a cluster with ic_data (generated tasks, the bench fixtures)
# and ic_empty (the same without tasks or history), stopped.
build_template() {
	local n2=$((2 * ROWS)) ntasks
	ntasks=$((n2 * 8 < 20000 ? 20000 : n2 * 8))	# the status pool (in-progress tasks, ~16%) needs n2
	rm -rf "$TMPI/template" "$TMPI/files" "$SOCK"
	mkdir -p "$TMPI/files" "$SOCK"
	[ "$(id -u)" = 0 ] && chown -R postgres: "$TMPI"
	note "template cluster: $ntasks generated tasks, $n2 documents per path"
	as_pg "$PGBIN/initdb" -D "$TEMPLATE" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
	cat >>"$TEMPLATE/postgresql.conf" <<-EOF
	shared_preload_libraries = 'omnitask'
	fsync = off
	max_parallel_workers_per_gather = 0
	autovacuum = off
	max_wal_size = 96MB
	min_wal_size = 32MB
	EOF
	as_pg "$PGBIN/pg_ctl" -D "$TEMPLATE" -l "$TMPI/template.log" -w \
		-o "-p $PORT -k $SOCK -c listen_addresses=''" start >/dev/null
	trap 'as_pg "$PGBIN/pg_ctl" -D "$TEMPLATE" -m fast -w stop >/dev/null 2>&1 || true' EXIT
	as_pg "$PGBIN/psql" -X -q -h "$SOCK" -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE ic_data" >/dev/null
	psql_db ic_data -c "CREATE EXTENSION omnitask" >/dev/null
	psql_db ic_data -v n="$ntasks" -v practitioners=40 -v patients=2000 -v asof=2026-11-01 \
		-f test/sample/generate.sql >/dev/null
	psql_db ic_data -f "$BENCH/plpgsql_baseline.sql" >/dev/null
	psql_db ic_data -v ndocs="$n2" -v nval="$n2" -v owner=pr-0001 -f "$BENCH/setup.sql" | grep '^bench' || true
	psql_db ic_data >/dev/null <<-EOF
	-- Tasks as another system exports them: ids, statuses, times kept by import_task()
	CREATE TABLE bench.import_docs AS
	SELECT row_number() OVER (ORDER BY id) AS k, resource FROM omnitask.task ORDER BY id LIMIT $n2;
	EOF
	# validate's documents stored inline and uncompressed (as bench.docs): what both sides of
	# validate compare is validating and printing the document, not decompressing it (pglz,
	# ~40k instructions per 4 KB document, which val_docs' default storage adds to both)
	psql_db ic_data >/dev/null <<-EOF
	CREATE TABLE bench.val_plain (i int PRIMARY KEY, resource jsonb NOT NULL);
	ALTER TABLE bench.val_plain ALTER COLUMN resource SET STORAGE PLAIN;
	INSERT INTO bench.val_plain SELECT i, resource FROM bench.val_docs ORDER BY i;
	VACUUM ANALYZE bench.val_plain;
	EOF
	# the PL/pgSQL baseline only served setup.sql's check; every run copies the template
	psql_db ic_data -c "DROP SCHEMA bench_plpgsql CASCADE" >/dev/null 2>&1
	local pool
	pool=$(psql_db ic_data -A -t -c "SELECT count(*) FROM bench.status_pool")
	if [ "$pool" -lt "$n2" ]; then
		echo "icount.sh: the status pool has $pool tasks, $n2 needed" >&2; exit 1
	fi
	as_pg "$PGBIN/psql" -X -q -h "$SOCK" -p "$PORT" -U postgres -d postgres \
		-c "CREATE DATABASE ic_empty TEMPLATE ic_data" >/dev/null
	psql_db ic_empty >/dev/null <<-EOF
	SET session_replication_role = replica;
	TRUNCATE omnitask.task, omnitask.task_history, bench.task_plain, bench.task_history_plain;
	RESET session_replication_role;
	VACUUM ANALYZE omnitask.task, omnitask.task_history, bench.task_plain, bench.task_history_plain;
	EOF
	# COPY's input: the documents of each batch in COPY's text format
	psql_db ic_empty -c "COPY (SELECT doc FROM bench.docs WHERE k <= $ROWS ORDER BY k) TO '$TMPI/files/copy_1.txt'" \
		-c "COPY (SELECT doc FROM bench.docs WHERE k > $ROWS ORDER BY k) TO '$TMPI/files/copy_2.txt'" \
		-c "COPY (SELECT resource::text FROM bench.import_docs WHERE k <= $ROWS ORDER BY k) TO '$TMPI/files/import_1.ndjson' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" \
		-c "COPY (SELECT resource::text FROM bench.import_docs WHERE k > $ROWS ORDER BY k) TO '$TMPI/files/import_2.ndjson' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" >/dev/null
	psql_db postgres -c CHECKPOINT -c CHECKPOINT >/dev/null
	as_pg "$PGBIN/pg_ctl" -D "$TEMPLATE" -m fast -w stop >/dev/null
	trap - EXIT
	echo "$ROWS" >"$TMPI/template.rows"
}

if [ "$REUSE" = 0 ] || [ ! -d "$TEMPLATE" ] || [ "$(cat "$TMPI/template.rows" 2>/dev/null)" != "$ROWS" ]; then
	build_template
fi

# stmt_* NAME BATCH: the statements of one batch (1 or 2) of a path, for
# postgres --single -j (a statement ends with a semicolon and an empty line).
first() { echo $(( ($1 - 1) * ROWS + 1 )); }
last() { echo $(( $1 * ROWS )); }
# a pgbench workload file with its \set lines removed and :VAR replaced
workload() { grep -v '^\\set' "$BENCH/workloads/$1" | sed "s/:$2\b/$3/g"; printf '\n'; }
# per_row BATCH STATEMENT...: the statement prepared (as pgbench -M prepared
# does) with the row number as $1, then executed once per row of the batch
per_row() {
	local b=$1 i; shift
	if [ "$b" = 1 ]; then printf 'PREPARE p(int) AS\n'; "$@" | sed '/^$/d'; printf '\n'; fi
	for i in $(seq "$(first "$b")" "$(last "$b")"); do printf 'EXECUTE p(%s);\n\n' "$i"; done
}
bulk_floor() {					# create_floor.sql over a range, without printing the rows
	grep -v '^\\set' "$BENCH/workloads/create_floor.sql" |
		sed "s/d\.k = :k/d.k BETWEEN $(first "$1") AND $(last "$1")/; s/^RETURNING resource;/;/"
	printf '\n'
}
update_stmt() {					# SIDE: a new description for pool task $1
	if [ "$1" = omni ]; then
		cat <<-'EOF'
		SELECT omnitask.update_task(t.id, jsonb_set(t.resource, '{description}', to_jsonb(t.description || ' (updated)')))
		FROM bench.status_pool s JOIN omnitask.task t ON t.id = s.id WHERE s.n = $1;
		EOF
	else
		cat <<-'EOF'
		WITH u AS (
			UPDATE bench.task_plain t
			SET description = x.descr, version_id = t.version_id + 1, last_updated = now(), last_modified = now(),
				resource = jsonb_set(t.resource, '{description}', to_jsonb(x.descr))
					|| jsonb_build_object('meta', jsonb_build_object('versionId', (t.version_id + 1)::text, 'lastUpdated', x.ts_text),
										  'lastModified', x.ts_text)
			FROM (SELECT s.id, t0.description || ' (updated)' AS descr, (to_json(now() AT TIME ZONE 'UTC') #>> '{}') || 'Z' AS ts_text
				  FROM bench.status_pool s JOIN bench.task_plain t0 ON t0.id = s.id WHERE s.n = $1) x
			WHERE t.id = x.id
			RETURNING t.*)
		INSERT INTO bench.task_history_plain (id, version_id, operation, status, owner_id, resource, recorded_at, recorded_by, practitioner_id)
		SELECT u.id, u.version_id, 'update', u.status, u.owner_id, u.resource, u.last_updated, current_user, NULL FROM u
		RETURNING resource;
		EOF
	fi
}
stage_stmts() {					# BATCH: COPY into an admin's staging table, then one INSERT as the admin
	# (the COPY runs as the superuser, as psql's \copy feeds the server the same rows from the client)
	cat <<-EOF
	SET ROLE omnitask_admin;

	CREATE TEMP TABLE staging_$1 (line int GENERATED ALWAYS AS IDENTITY, doc jsonb) WITH (toast_tuple_target = 8160);

	RESET ROLE;

	COPY staging_$1 (doc) FROM '$TMPI/files/copy_$1.txt';

	SET ROLE omnitask_admin;

	INSERT INTO omnitask.task (resource) SELECT doc FROM staging_$1 ORDER BY line;

	RESET ROLE;

	EOF
}
# batch PATH SIDE BATCH: prints the statements; the database is in DB_OF
batch() {
	local path=$1 side=$2 b=$3
	case "$path/$side" in
		bulk/omni) printf 'INSERT INTO omnitask.task (resource) SELECT doc FROM bench.docs WHERE k BETWEEN %s AND %s ORDER BY k;\n\n' \
			"$(first "$b")" "$(last "$b")" ;;
		bulk/floor|copy/floor|stage/floor|import/floor|migrate/floor) bulk_floor "$b" ;;
		copy/omni) printf "COPY omnitask.task (resource) FROM '%s';\n\n" "$TMPI/files/copy_$b.txt" ;;
		stage/omni) stage_stmts "$b" ;;
		create/omni) per_row "$b" workload create_omni.sql k '$1' ;;
		create/floor) per_row "$b" workload create_floor.sql k '$1' ;;
		status/omni) per_row "$b" workload status_omni.sql n '$1' ;;
		status/floor) per_row "$b" workload status_floor.sql n '$1' ;;
		update/*) per_row "$b" update_stmt "$side" ;;
		import/omni) printf 'SELECT count(omnitask.import_task(resource)) FROM bench.import_docs WHERE k BETWEEN %s AND %s;\n\n' \
			"$(first "$b")" "$(last "$b")" ;;
		migrate/omni) printf "SELECT count(*) FROM omnitask.import_tasks(pg_read_file('%s'));\n\n" "$TMPI/files/import_$b.ndjson" ;;
		validate/omni) printf 'SELECT count(omnitask.validate_task(resource)) FROM bench.val_plain WHERE i BETWEEN %s AND %s;\n\n' \
			"$(first "$b")" "$(last "$b")" ;;
		validate/floor) printf 'SELECT count(resource::text) FROM bench.val_plain WHERE i BETWEEN %s AND %s;\n\n' \
			"$(first "$b")" "$(last "$b")" ;;
		validate/scan) printf 'SELECT count(resource) FROM bench.val_plain WHERE i BETWEEN %s AND %s;\n\n' \
			"$(first "$b")" "$(last "$b")" ;;
		*) echo "icount.sh: unrecognized path \"$path\"" >&2; exit 2 ;;
	esac
}
db_of() { case "$1" in status|update) echo ic_data ;; *) echo ic_empty ;; esac; }

# measure PATH SIDE RUN: runs batches 1..RUN on a fresh copy of the template
# under callgrind; prints the total instructions.
measure() {
	local path=$1 side=$2 run=$3 work=$TMPI/work out b
	out=$TMPI/out/$path-$side-$run
	rm -rf "$work"; cp -a "$TEMPLATE" "$work"
	for b in $(seq 1 "$run"); do batch "$path" "$side" "$b"; done >"$out.sql"
	[ "$(id -u)" = 0 ] && chown -R postgres: "$TMPI/out"
	as_pg valgrind --tool=callgrind --callgrind-out-file="$out.callgrind" \
		"$PGBIN/postgres" --single -j ${SETTINGS[@]+"${SETTINGS[@]}"} -D "$work" "$(db_of "$path")" <"$out.sql" >"$out.log" 2>&1 || true
	if grep -qE '^(ERROR|FATAL|PANIC):|[]0-9] (ERROR|FATAL|PANIC):' "$out.log" || ! grep -q '^totals:\|^summary:' "$out.callgrind" 2>/dev/null; then
		echo "icount.sh: $path/$side run $run failed; see $out.log" >&2
		grep -E 'ERROR|FATAL|PANIC' "$out.log" | head -5 >&2
		exit 1
	fi
	rm -rf "$work"
	grep -E '^(totals|summary):' "$out.callgrind" | head -1 | awk '{print $2}'
}

mkdir -p "$TMPI/out" "$RES"
rm -f "$TMPI/out"/*
declare -A PER_ROW=()
SCAN=0
for path in ${PATHS//,/ }; do
	sides=$SIDES
	# validate's two sides are net of reading the row (the scan and count() alone)
	[ "$path" = validate ] && sides="$sides,scan"
	for side in ${sides//,/ }; do
		# import and COPY are compared with the floor's bulk insert
		case "$path/$side" in
			copy/floor|stage/floor|import/floor|migrate/floor)
				if [ -n "${PER_ROW[bulk/floor]:-}" ]; then PER_ROW[$path/floor]=${PER_ROW[bulk/floor]}; continue; fi ;;
		esac
		t0=$SECONDS
		i1=$(measure "$path" "$side" 1)
		i2=$(measure "$path" "$side" 2)
		PER_ROW[$path/$side]=$(( (i2 - i1) / ROWS ))
		[ "$side" = scan ] && SCAN=${PER_ROW[$path/$side]}
		note "$path/$side: ${PER_ROW[$path/$side]} instructions/row (runs: $i1, $i2; $((SECONDS - t0)) s)"
	done
done

# the report: the table, then where the marginal instructions of the main paths go
{
	echo "# omnitask instruction counts"
	echo
	echo "\`bash test/bench/icount.sh --rows $ROWS\` on $("$PGBIN/postgres" --version), $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')."
	echo "Marginal instructions per row of a second batch of $ROWS rows over the first (callgrind, \`postgres --single\`)."
	echo
	echo "| path | floor | omnitask | ratio | target |"
	echo "|---|---|---|---|---|"
	for path in ${PATHS//,/ }; do
		f=${PER_ROW[$path/floor]:-}; o=${PER_ROW[$path/omni]:-}
		if [ "$path" = validate ]; then
			f=${f:+$((f - SCAN))}; o=${o:+$((o - SCAN))}
		fi
		case "$path" in
			bulk) what="\`INSERT ... SELECT\` (bulk)"; target="≤ 1.30×" ;;
			copy) what="\`COPY omnitask.task (resource) FROM\` vs the floor's bulk insert"; target="" ;;
			stage) what="an admin's \`COPY\` into a staging table + \`INSERT ... SELECT\` vs the floor's bulk insert"; target="" ;;
			create) what="single-row \`create_task\` calls"; target="≤ 1.15×" ;;
			status) what="single-row \`set_task_status\` calls vs \`UPDATE\` + history row"; target="≤ 1.30×" ;;
			update) what="single-row \`update_task\` calls (new description) vs \`UPDATE\` + history row"; target="" ;;
			import) what="\`import_task\` over many Tasks vs the floor's bulk insert"; target="≤ 1.40×" ;;
			migrate) what="\`import_tasks\` of NDJSON text vs the floor's bulk insert"; target="≤ 1.40×" ;;
			validate) what="\`validate_task\` (Task-example5, stored uncompressed) vs printing the same jsonb as text, both net of the scan ($((SCAN / 1000))k)"; target="≤ 0.35×" ;;
		esac
		if [ -n "$f" ] && [ -n "$o" ]; then
			printf '| %s | %sk | %sk | %s× | %s |\n' "$what" "$((f / 1000))" "$((o / 1000))" \
				"$(awk "BEGIN {printf \"%.2f\", $o / $f}")" "$target"
		else
			printf '| %s | %s | %s | - | %s |\n' "$what" "${f:+$((f / 1000))k}" "${o:+$((o / 1000))k}" "$target"
		fi
	done
	for path in bulk create status; do
		[ -f "$TMPI/out/$path-omni-2.callgrind" ] || continue
		echo
		echo "## Where a row of \`$path\` goes (top functions by self cost, run 2 minus run 1, per row)"
		echo
		echo '```'
		python3 "$BENCH/icount_profile.py" "$ROWS" \
			<(callgrind_annotate --auto=no --inclusive=no --threshold=100 "$TMPI/out/$path-omni-1.callgrind" 2>/dev/null) \
			<(callgrind_annotate --auto=no --inclusive=no --threshold=100 "$TMPI/out/$path-omni-2.callgrind" 2>/dev/null)
		echo '```'
	done
} >"$RES/icount.md"
cat "$RES/icount.md"
