#!/usr/bin/env bash
# test/valgrind.sh: the pg_regress suites under valgrind (memcheck), with
# every error that valgrind attributes to omnitask's own code reported.
#
#   make && make install && bash test/valgrind.sh      (as root or as postgres)
#
# What it does:
#   1. a throwaway cluster in test/tmp/valgrind (port 54349, socket in
#      test/tmp/valgrind/sock), made with initdb outside valgrind;
#   2. its postmaster runs under
#        valgrind --tool=memcheck --leak-check=no --track-origins=yes
#                 --gen-suppressions=all --trace-children=yes
#                 --error-exitcode=128 --suppressions=test/valgrind.supp
#                 --log-file=test/tmp/valgrind/logs/%p.log
#      (every backend is a fork of the postmaster, so each gets its own
#      log; a backend that hit an error exits with 128, the postmaster
#      treats that as a crash and restarts the others);
#   3. runs every pg_regress script of sql/ (all sql/*.sql except the
#      extension scripts omnitask--*.sql) with --load-extension=omnitask;
#   4. then, for realistic documents, loads the sample data (n=300, the
#      import path), runs verify() (task_row_problem on every row), a
#      search and a few status changes;
#   5. reads the logs and keeps the errors with a frame in omnitask.so
#      anywhere in the record (error stack or origin stack): a frame
#      "(in .../omnitask.so)", a function defined in omnitask.so (nm), or
#      an inlined frame in one of the files under src/; prints each
#      distinct one with its stack, and a summary.
#
# VALGRIND_ERROR_EXITCODE=0 lets backends with errors live on (useful to
# collect every error in one run, e.g. when writing suppressions).
#
# Exit status: 0 no error in omnitask's code, 1 at least one, 2 the
# harness itself failed (no valgrind, server did not start, ...).
# pg_regress differences are reported but do not change the status (a
# statement can behave differently when it runs 20-50 times slower).
#
# Limits (Debian's PostgreSQL is not built with USE_VALGRIND): palloc
# chunks are not registered with memcheck, so a read or write past the
# end of a palloc'd chunk that stays inside its memory-context block, a
# use of a pfree'd chunk, and reads of recycled (previously written)
# palloc memory are NOT seen.  What IS seen: uninitialised values (fresh
# malloc'd context blocks are undefined) reaching a branch, a syscall or
# a libc call, invalid accesses outside any block (e.g. past the end of a
# large chunk, which has its own malloc block), invalid free/realloc, and
# errors in json-c and other malloc users.  Not seen either: uninitialised
# bytes that only reach a WAL or data-file write (test/valgrind.supp
# suppresses those writes, which always carry PostgreSQL's own struct
# padding).  Leaks are not checked
# (--leak-check=no: memory contexts are freed wholesale).  For the full
# picture, build PostgreSQL with -DUSE_VALGRIND and rerun this script
# with PGBIN pointing at that build.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOP=$(pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${VALGRIND_PORT:-54349}
TMP=$TOP/test/tmp/valgrind
DATA=$TMP/data
SOCK=$TMP/sock
LOGS=$TMP/logs
SUPP=$TOP/test/valgrind.supp
DB=omnitask_valgrind
STARTED=$(date +%s)

die() { echo "valgrind.sh: $*" >&2; exit 2; }

command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install -y valgrind)"
[ -x "$PGBIN/postgres" ] || die "no postgres in $PGBIN"
PKGLIB=$("$PGBIN/pg_config" --pkglibdir)
SO=$PKGLIB/omnitask.so
[ -f "$SO" ] || die "$SO is not installed (make install)"
[ -f "$SUPP" ] || die "no suppressions file $SUPP"
if [ -f "$TOP/omnitask.so" ] && ! cmp -s "$TOP/omnitask.so" "$SO"; then
	echo "valgrind.sh: warning: $SO differs from the build in $TOP (run make install?)"
fi

# Everything that touches the cluster runs as postgres when we are root.
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- env PATH="$PGBIN:$PATH" "$@"; else env PATH="$PGBIN:$PATH" "$@"; fi
}

# a cluster left running by an interrupted earlier run
if [ -f "$DATA/postmaster.pid" ]; then
	as_pg "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
fi
rm -rf "$TMP"
mkdir -p "$DATA" "$SOCK" "$LOGS" "$TMP/regress"
[ "$(id -u)" = 0 ] && chown -R postgres: "$TMP"

echo "== initdb ($TMP)"
as_pg "$PGBIN/initdb" -D "$DATA" -A trust -U postgres --no-sync >"$TMP/initdb.log" 2>&1 ||
	{ cat "$TMP/initdb.log"; die "initdb failed"; }
cat >>"$DATA/postgresql.conf" <<EOF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
fsync = off
max_connections = 10
shared_buffers = 16MB
autovacuum = off
jit = off
max_stack_depth = 2MB
log_min_messages = warning
log_line_prefix = '%m [%p] '
# as on the test cluster: the writers' side of the NOTIFY relay and the
# relay itself run under memcheck too
shared_preload_libraries = 'omnitask'
EOF

echo "== postgres under valgrind (port $PORT, logs in $LOGS)"
VALGRIND_OPTS=(--tool=memcheck --quiet --leak-check=no --track-origins=yes --read-var-info=no
	--num-callers=40 --gen-suppressions=all --trace-children=yes --error-exitcode=${VALGRIND_ERROR_EXITCODE:-128}
	--suppressions="$SUPP" --log-file="$LOGS/%p.log")
if [ "$(id -u)" = 0 ]; then
	runuser -u postgres -- valgrind "${VALGRIND_OPTS[@]}" "$PGBIN/postgres" -D "$DATA" >"$TMP/server.log" 2>&1 &
else
	valgrind "${VALGRIND_OPTS[@]}" "$PGBIN/postgres" -D "$DATA" >"$TMP/server.log" 2>&1 &
fi
VG_PID=$!

stop_server() {
	if [ -f "$DATA/postmaster.pid" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -t 300 -w stop >/dev/null 2>&1 ||
			as_pg "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1
	fi
	wait "$VG_PID" 2>/dev/null
}
trap 'stop_server' EXIT

# A loaded machine makes a backend under valgrind slow to answer: each probe
# waits up to 30 s (pg_isready's default is 3 s), and the whole wait 600 s.
deadline=$((SECONDS + 600))
until as_pg "$PGBIN/pg_isready" -q -t 30 -h "$SOCK" -p "$PORT"; do
	kill -0 "$VG_PID" 2>/dev/null || { cat "$TMP/server.log"; die "the server died while starting"; }
	[ "$SECONDS" -lt "$deadline" ] || { cat "$TMP/server.log"; die "the server did not start in 600 s"; }
	sleep 0.5
done

tests=$(ls sql/*.sql | grep -v '/omnitask--' | xargs -n1 basename | sed 's/\.sql$//' | sort)
echo "== pg_regress: $(echo $tests)"
PGXS_DIR=$PKGLIB/pgxs
as_pg "$PGXS_DIR/src/test/regress/pg_regress" --bindir="$PGBIN" --inputdir=. --outputdir="$TMP/regress" \
	--host="$SOCK" --port="$PORT" --user=postgres --dbname=$DB --load-extension=omnitask \
	$tests >"$TMP/regress/out.txt" 2>&1
regress_rc=$?
grep -E '^(test|     ) |^ok |^not ok |FAILED|failed|tests passed' "$TMP/regress/out.txt" || cat "$TMP/regress/out.txt"

# Realistic documents too: the sample data (import path), verify() over
# them (task_row_problem), a search and a few status changes.
echo "== extra: sample data (n=300), verify(), search, status changes"
as_pg "$PGBIN/psql" -X -q -h "$SOCK" -p "$PORT" -d postgres -c "CREATE DATABASE omnitask_valgrind_sample" &&
as_pg "$PGBIN/psql" -X -q -h "$SOCK" -p "$PORT" -d omnitask_valgrind_sample -c "CREATE EXTENSION omnitask" &&
as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -v n=300 -h "$SOCK" -p "$PORT" -d omnitask_valgrind_sample \
	-f test/sample/generate.sql >"$TMP/sample.log" 2>&1 &&
as_pg "$PGBIN/psql" -X -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -d omnitask_valgrind_sample >>"$TMP/sample.log" 2>&1 <<'SQL'
SELECT 'verify problems: ' || count(*) FROM omnitask.verify();
SELECT 'search total: ' || (omnitask.search_tasks(status => 'in-progress,on-hold', _sort => '-modified', _count => 100)->>'total');
SELECT 'status changes: ' || count(omnitask.set_task_status(id, CASE status WHEN 'in-progress' THEN 'on-hold' ELSE 'in-progress' END))
FROM (SELECT id, status FROM omnitask.task WHERE status IN ('in-progress', 'on-hold') ORDER BY id LIMIT 20) s;
SELECT 'verify problems after: ' || count(*) FROM omnitask.verify();
SQL
sample_rc=$?
grep -E '^(verify|search|status)' "$TMP/sample.log" || true
[ $sample_rc -eq 0 ] || echo "extra step failed (exit $sample_rc), see $TMP/sample.log"

echo "== stopping the server"
trap - EXIT
stop_server
crashes=$(grep -cE 'was terminated by signal|exited with exit code 128' "$TMP/server.log" || true)

echo "== valgrind logs"
# The functions omnitask.so defines, and the basenames of its sources:
# with debug info valgrind names a frame by function and file:line, not
# by object.
nm --defined-only "$SO" 2>/dev/null | awk '$2 ~ /^[tTwW]$/ { print $3 }' | sort -u >"$TMP/omnitask_functions.txt"
ls src/*.c src/*.h 2>/dev/null | xargs -n1 basename >"$TMP/omnitask_sources.txt"
nm -D --defined-only "$PGBIN/postgres" 2>/dev/null | awk '{ print $3 }' | sort -u >"$TMP/postgres_functions.txt"

perl - "$LOGS" "$TMP/omnitask_functions.txt" "$TMP/omnitask_sources.txt" "$TMP/omnitask_errors.txt" \
	"$TMP/postgres_functions.txt" <<'PERL'
use strict;
use warnings;
my ($logdir, $funcs_file, $srcs_file, $out_file, $pg_funcs_file) = @ARGV;
my %func = map { chomp; $_ => 1 } do { open my $f, '<', $funcs_file or die; <$f> };
my %src = map { chomp; $_ => 1 } do { open my $f, '<', $srcs_file or die; <$f> };
my %pgfunc = map { chomp; $_ => 1 } do { open my $f, '<', $pg_funcs_file or die; <$f> };

# a stack frame belongs to omnitask?
sub ours
{
	my ($frame) = @_;
	return 1 if $frame =~ m{/omnitask\.so\)};
	my ($fn) = $frame =~ /(?:at|by) 0x[0-9A-F]+: (\S+) /;
	return 0 unless defined $fn;
	return 1 if $func{$fn};
	# an inlined static function: named by our source file (and not a
	# function PostgreSQL exports: src/backend/catalog/catalog.c exists too)
	return 1 if $frame =~ /\(([^():]+\.[ch]):\d+\)$/ && $src{$1} && !$pgfunc{$fn};
	return 0;
}

my ($logs, $errors, $total_ours) = (0, 0, 0);
my (%ours, @order);
opendir(my $dh, $logdir) or die "$logdir: $!";
for my $log (sort grep { /\.log$/ } readdir $dh)
{
	$logs++;
	open my $fh, '<', "$logdir/$log" or die;
	my @lines = map { s/^==\d+== ?//r } <$fh>;
	close $fh;
	# records are separated by empty lines; a suppression block "{ ... }"
	# follows each error (--gen-suppressions=all) and is dropped
	my (@recs, @cur);
	my $in_supp = 0;
	for my $line (@lines)
	{
		chomp $line;
		if ($in_supp) { $in_supp = 0 if $line =~ /^\}\s*$/; next; }
		if ($line =~ /^\{\s*$/) { push @recs, [@cur] if @cur; @cur = (); $in_supp = 1; next; }
		if ($line =~ /^\s*$/) { push @recs, [@cur] if @cur; @cur = (); next; }
		push @cur, $line;
	}
	push @recs, [@cur] if @cur;
	for my $r (@recs)
	{
		my @l = @$r;
		next unless @l;
		next if $l[0] =~ /^(Memcheck|Copyright|Using Valgrind|Command:|Parent PID|HEAP SUMMARY|LEAK SUMMARY|ERROR SUMMARY|For lists|For counts|Warning:)/;
		next unless grep { /^\s+(at|by) 0x/ } @l;
		$errors++;
		my @frames = grep { /^\s+(at|by) 0x/ } @l;
		my @mine = grep { ours($_) } @frames;
		next unless @mine;
		$total_ours++;
		# distinct by kind + the omnitask frames (without addresses)
		my $kind = $l[0];
		$kind =~ s/\d+ bytes?/N bytes/g;
		$kind =~ s/size \d+/size N/g;
		my $key = $kind . '|' . join('|', map { s/0x[0-9A-F]+//r } @mine);
		my @keep = @l;
		if (!$ours{$key})
		{
			push @order, $key;
			$ours{$key} = { count => 0, log => $log, text => join("\n", @keep) };
		}
		$ours{$key}{count}++;
	}
}
open my $out, '>', $out_file or die;
for my $k (@order)
{
	print $out "---- $ours{$k}{count} x (first in $ours{$k}{log})\n$ours{$k}{text}\n\n";
}
close $out;
print "valgrind logs: $logs; errors reported (after suppressions): $errors; in omnitask: $total_ours ("
  . scalar(@order) . " distinct)\n";
PERL

n_ours=$(grep -c '^---- ' "$TMP/omnitask_errors.txt" || true)
echo
if [ "$n_ours" -gt 0 ]; then
	echo "== errors in omnitask's code"
	cat "$TMP/omnitask_errors.txt"
fi
other=$(grep -l 'at 0x\|by 0x' "$LOGS"/*.log 2>/dev/null | wc -l)
echo "== summary"
echo "pg_regress: $( [ $regress_rc -eq 0 ] && echo "all passed" || echo "FAILED (exit $regress_rc, see $TMP/regress/regression.diffs)")"
echo "backends that exited with valgrind's error code or crashed: $crashes"
echo "log files with any error: $other (all logs: $LOGS)"
echo "distinct errors in omnitask: $n_ours (details: $TMP/omnitask_errors.txt)"
echo "time: $(( $(date +%s) - STARTED )) s"
[ "$n_ours" -eq 0 ]
