#!/usr/bin/perl
#
# 100_notify_relay.pl: NOTIFY omnitask_task through the relay (omnitask in
# shared_preload_libraries) and without it.
#
# What a LISTENing client relies on:
#   - every committed change is announced once, after its commit, with id
#     and version only (any login may LISTEN: the payload is a hint, never
#     a fact; the consumer reads the task through row-level security);
#   - nothing is announced for a rolled-back transaction or savepoint;
#   - the notifications of one task arrive in the order of its versions,
#     under concurrent writers too;
#   - when the relay cannot take a transaction's notifications (more than
#     the queue holds, no background-worker slot, the relay terminated) the
#     transaction sends them itself: nothing is lost;
#   - the relay leaves when idle, so DROP DATABASE (without FORCE) works
#     right after writes;
#   - PREPARE TRANSACTION of a notifying transaction is refused as
#     PostgreSQL refuses it for NOTIFY (0A000);
#   - without the preload, notifications come from the writer itself;
#   - the relay's shared queues are cache-line aligned for an odd
#     omnitask.notify_queue_size (17 here), it reloads its configuration on
#     SIGHUP (pg_reload_conf()), and it reports its activity in
#     pg_stat_activity.
#
# Environment (set by test/run_tests.sh): OMNITASK_TOP, PGBIN.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run qw(start pump finish timeout);
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('relay');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'omnitask'
omnitask.notify_queue_size = 17
# a relay stays until a test lets it go: no assertion races its idle exit
omnitask.notify_relay_idle_timeout = '1h'
log_min_messages = debug1
max_worker_processes = 3
max_parallel_workers = 0
max_prepared_transactions = 5
log_statement = none
));
$node->start;
# the layout of the queues is logged (DEBUG1) when the postmaster creates them
my ($layout) = slurp_file($node->logfile) =~ /(omnitask notify relay: \d+ queues of \d+ bytes .*)/;
like($layout // '', qr/ queues of (\d+) bytes \(17 slots of 252 bytes\), largest misalignment 0 bytes$/,
	'an odd queue size (17 slots of 252 bytes): every queue and slot array starts on a cache line');
my ($qbytes) = ($layout // '') =~ / queues of (\d+) bytes/;
is(($qbytes // 1) % 64, 0, "each queue is a whole number of cache lines ($qbytes bytes)");
$node->safe_psql('postgres', "ALTER SYSTEM SET log_min_messages = warning; SELECT pg_reload_conf();");

my $TASK = '{"resourceType": "Task", "status": "requested", "intent": "order", "priority": "routine", '
  . '"for": {"reference": "Patient/relay-pat"}, "owner": {"reference": "Practitioner/relay-p1"}, '
  . '"description": "relay test"}';

# a database with omnitask and one practitioner
sub make_db
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION omnitask; SELECT omnitask.register_practitioner('postgres', 'relay-p1');");
}

# a psql session kept open, for LISTEN
sub listener
{
	my ($db, $n) = @_;
	$n //= $node;
	my $s = { in => '', out => '', err => '' };
	$s->{h} = start([ 'psql', '-X', '-q', '-A', '-t', '-d', $n->connstr($db) ],
		\$s->{in}, \$s->{out}, \$s->{err}, timeout(180));
	q_session($s, 'LISTEN omnitask_task;');
	$s->{pid} = q_session($s, 'SELECT pg_backend_pid();');
	return $s;
}

sub q_session
{
	my ($s, $sql) = @_;
	$s->{out} = '';
	$s->{in} .= "$sql\n\\echo __done__\n";
	pump $s->{h} until $s->{out} =~ /__done__\n/;
	(my $out = $s->{out}) =~ s/__done__\n//;
	chomp $out;
	return $out;
}

# notifications heard so far: [payload, pid] in arrival order
sub heard
{
	my ($s) = @_;
	my $out = q_session($s, 'SELECT 1;');
	my @n;
	while ($out =~ /Asynchronous notification "omnitask_task" with payload "(.*?)" received from server process with PID (\d+)\./g)
	{
		push @n, [ $1, $2 ];
	}
	return @n;
}

# polls until $want notifications are heard (or 30 s); returns them all
sub wait_for
{
	my ($s, $want) = @_;
	my @all;
	for (1 .. 300)
	{
		push @all, heard($s);
		last if @all >= $want;
		usleep(100_000);
	}
	push @all, heard($s);	# and anything more that should not be there
	return @all;
}

# sets omnitask.notify_relay_idle_timeout and waits until new sessions (and
# so the relays started from now on) have it
sub set_idle_timeout
{
	my ($t) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET omnitask.notify_relay_idle_timeout = '$t'; SELECT pg_reload_conf();");
	$node->poll_query_until('postgres', "SELECT current_setting('omnitask.notify_relay_idle_timeout') = '$t'")
	  or die "omnitask.notify_relay_idle_timeout did not become $t";
}

sub ids { return map { $_->[0] =~ /"id": "([^"]+)"/ ? $1 : '?' } @_ }

sub relay_pids
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE backend_type = 'omnitask notify relay'"
		  . ($db ? " AND datname = '$db'" : ''));
}

make_db('r1');
my $L = listener('r1');

# ---------------------------------------------------------------------------
# one change: announced after commit, by the relay
# ---------------------------------------------------------------------------
my ($id, $wpid) = split /\|/, $node->safe_psql('r1',
	"SELECT omnitask.create_task('$TASK') ->> 'id', pg_backend_pid()");
my @n = wait_for($L, 1);
is(scalar @n, 1, 'one change, one notification');
is($n[0][0], qq({"id": "$id", "version": 1}),
	'payload: id and version only (no status, no owner)');
my $rpid = relay_pids('r1');
like($rpid, qr/^\d+$/, 'a relay runs for the database');
is($n[0][1], $rpid, 'the notification comes from the relay');
isnt($n[0][1], $wpid, '... not from the writer');

# ---------------------------------------------------------------------------
# several versions in one transaction: in order; rollbacks announce nothing
# ---------------------------------------------------------------------------
$node->safe_psql('r1', qq{
BEGIN;
SELECT omnitask.set_task_status('$id', 'accepted');
SELECT omnitask.set_task_status('$id', 'in-progress');
SAVEPOINT s1;
SELECT omnitask.set_task_status('$id', 'on-hold');
ROLLBACK TO s1;
SAVEPOINT s2;
SELECT omnitask.set_task_status('$id', 'completed');
RELEASE s2;
COMMIT;
});
$node->safe_psql('r1', "BEGIN; SELECT omnitask.create_task('$TASK'); ROLLBACK;");
my ($sentinel) = $node->safe_psql('r1', "SELECT omnitask.create_task('$TASK') ->> 'id'");
@n = wait_for($L, 4);
is(join(' ', map { $_->[0] =~ /^\{"id": "([^"]+)", "version": (\d+)\}$/ ? ($1 eq $id ? "$2" : "other:$2") : '?' } @n),
	"2 3 4 other:1",
	'versions in commit order; the rolled-back savepoint and transaction are not announced');
is((ids(@n))[3], $sentinel, 'the last one is the later task');
is($node->safe_psql('r1', "SELECT version_id FROM omnitask.task WHERE id = '$id'"), '4',
	'the stored version agrees');

# ---------------------------------------------------------------------------
# more changes in one transaction than the queue holds (17): sent directly
# ---------------------------------------------------------------------------
is($node->safe_psql('r1', 'SHOW omnitask.notify_queue_size'), '17', 'the queue holds 17 notifications');
($wpid) = $node->safe_psql('r1', qq{
BEGIN;
SELECT count(omnitask.create_task('$TASK')) FROM generate_series(1, 40);
SELECT pg_backend_pid();
COMMIT;
}) =~ /(\d+)\s*$/;
@n = wait_for($L, 40);
is(scalar @n, 40, '40 changes in one transaction: 40 notifications');
is(scalar(grep { $_->[1] eq $wpid } @n), 40, '... sent by the writer itself (the queue holds 17)');
my %distinct = map { $_ => 1 } ids(@n);
is(scalar(keys %distinct), 40, '... 40 distinct tasks');

# ---------------------------------------------------------------------------
# concurrent writers: every change announced once, per task in version order
# ---------------------------------------------------------------------------
$node->safe_psql('r1', "CREATE TABLE public.ids AS SELECT id FROM omnitask.task");
my $before = $node->safe_psql('r1', 'SELECT count(*) FROM omnitask.task_history');
my $script = $node->basedir . '/relay.sql';
open my $fh, '>', $script or die $!;
print $fh "SELECT quote_literal(omnitask.create_task('$TASK') ->> 'id') AS nid \\gset\n"
  . "SELECT omnitask.set_task_status(:nid, 'accepted') IS NOT NULL;\n"
  . "SELECT omnitask.set_task_status(:nid, 'in-progress') IS NOT NULL;\n";
close $fh;
$node->command_ok([ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '3', '-f', $script, $node->connstr('r1') ],
	'pgbench: 4 clients create and move tasks for 3 s');
my $changes = $node->safe_psql('r1', 'SELECT count(*) FROM omnitask.task_history') - $before;
cmp_ok($changes, '>', 300, "$changes changes written");
@n = wait_for($L, $changes);
is(scalar @n, $changes, 'every change is announced exactly once');
my (%last, $out_of_order, %seen, $dup);
for my $x (@n)
{
	my ($tid, $v) = $x->[0] =~ /"id": "([^"]+)", "version": (\d+)/ or next;
	$dup++ if $seen{"$tid/$v"}++;
	$out_of_order++ if defined $last{$tid} && $v <= $last{$tid};
	$last{$tid} = $v;
}
ok(!$dup, 'no change announced twice');
ok(!$out_of_order, 'per task, versions arrive in order');
is($node->safe_psql('r1', "SELECT count(*) FROM omnitask.task t WHERE id NOT IN (SELECT id FROM public.ids) AND version_id <> 3"),
	'0', 'the stored tasks agree (every pgbench task at version 3)');

# ---------------------------------------------------------------------------
# the relay in pg_stat_activity, and SIGHUP
# ---------------------------------------------------------------------------
($id) = $node->safe_psql('r1', "SELECT omnitask.create_task('$TASK') ->> 'id'");
@n = wait_for($L, 1);
is(join(',', ids(@n)), $id, 'a change is announced by the relay');
is($node->safe_psql('postgres',
	"SELECT state || '|' || query || '|' || (query_start IS NOT NULL) || '|' || (backend_start <= query_start) "
	  . "FROM pg_stat_activity WHERE backend_type = 'omnitask notify relay' AND datname = 'r1'"),
	'idle|NOTIFY omnitask_task|true|true',
	'pg_stat_activity shows the relay idle after its last NOTIFY, with its statement start time');
# a reload that turns DEBUG1 on: the relay already running (it stays: idle
# timeout 1 h) then logs what it sends
my $log_offset = -s $node->logfile;
my $rpid_before = relay_pids('r1');
$node->safe_psql('postgres', "ALTER SYSTEM SET log_min_messages = debug1; SELECT pg_reload_conf();");
# each write after the reload is sent by that relay; poll until it logs one
# (it handles the SIGHUP when its latch is set: by the reload or a write)
my ($logged, $writes) = (0, 0);
for (1 .. 600)
{
	$node->safe_psql('r1', "SELECT omnitask.create_task('$TASK')");
	$writes++;
	last if $logged = slurp_file($node->logfile, $log_offset)
	  =~ /\[$rpid_before\][^\n]*omnitask notify relay: sent \d+ notifications/;
	usleep(100_000);
}
my $rpid_after = relay_pids('r1');
@n = wait_for($L, $writes);
is(scalar @n, $writes, "the $writes changes after the reload are announced");
$node->safe_psql('postgres', "ALTER SYSTEM RESET log_min_messages; SELECT pg_reload_conf();");
like($rpid_before // '', qr/^\d+$/, 'a relay was running before the reload');
is($rpid_after, $rpid_before, 'the relay keeps running through pg_reload_conf()');
ok($logged, 'after pg_reload_conf() the running relay uses the new log_min_messages (it handles SIGHUP)');

# ---------------------------------------------------------------------------
# the relay terminated: the next write starts another, nothing is lost
# ---------------------------------------------------------------------------
$rpid = relay_pids('r1');
if ($rpid)
{
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($rpid)");
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $rpid") or diag('relay did not exit');
}
($id) = $node->safe_psql('r1', "SELECT omnitask.create_task('$TASK') ->> 'id'");
@n = wait_for($L, 1);
is(join(',', ids(@n)), $id, 'after the relay was terminated, the next change is announced');
my $rpid2 = relay_pids('r1');
ok($rpid2 && $rpid2 ne ($rpid // ''), 'by a new relay');

# ---------------------------------------------------------------------------
# idle: the relay leaves; DROP DATABASE right after writes works
# ---------------------------------------------------------------------------
set_idle_timeout('1s');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'omnitask notify relay'"),
	'the relay exits when idle (omnitask.notify_relay_idle_timeout, reloaded)');
make_db('r_drop');
# the relay may already have left again (1 s idle) when a check of
# pg_stat_activity runs on a loaded machine: the notification's sender says
# who served it, whatever the timing
my $L_drop = listener('r_drop');
my $writer = $node->safe_psql('r_drop', "SELECT pg_backend_pid() FROM omnitask.create_task('$TASK')");
my @drop_n = wait_for($L_drop, 1);
is(scalar(@drop_n), 1, 'the write in the new database is announced');
ok(@drop_n && $drop_n[0][1] ne $writer && $drop_n[0][1] ne $L_drop->{pid},
	'a relay serves the new database (the NOTIFY comes from neither the writer nor the listener)');
$L_drop->{in} .= "\\q\n";
finish $L_drop->{h};
my ($rc, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE r_drop');
is($rc, 0, 'DROP DATABASE without FORCE right after a write succeeds') or diag($stderr);

# ---------------------------------------------------------------------------
# no background-worker slot (max_worker_processes = 3): sent directly
# ---------------------------------------------------------------------------
# the relays started now stay: the slots remain taken whatever the timing
set_idle_timeout('1h');
make_db("r_$_") for 2 .. 5;
my %L = map { ($_ => listener("r_$_")) } 2 .. 5;
my %w;
for my $k (2 .. 5)
{
	($w{$k}{id}, $w{$k}{pid}) = split /\|/, $node->safe_psql("r_$k",
		"SELECT omnitask.create_task('$TASK') ->> 'id', pg_backend_pid()");
}
my $direct = 0;
for my $k (2 .. 5)
{
	my @m = wait_for($L{$k}, 1);
	is(join(',', ids(@m)), $w{$k}{id}, "database r_$k hears its own change, once");
	$direct++ if @m && $m[0][1] eq $w{$k}{pid};
}
cmp_ok($direct, '>=', 1, "with 3 worker slots for 4 databases, $direct sent directly");

# ---------------------------------------------------------------------------
# PREPARE TRANSACTION: refused with NOTIFY's error, allowed with notify off
# ---------------------------------------------------------------------------
($rc, $stdout, $stderr) = $node->psql('r1', "BEGIN; SELECT omnitask.create_task('$TASK'); PREPARE TRANSACTION 'p1';",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($stderr, qr/0A000: cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or NOTIFY/,
	'PREPARE of a notifying transaction: 0A000');
($rc, $stdout, $stderr) = $node->psql('r1',
	"SET omnitask.notify = off; BEGIN; SELECT omnitask.create_task('$TASK') IS NOT NULL; PREPARE TRANSACTION 'p2'; COMMIT PREPARED 'p2';");
is($rc, 0, 'with omnitask.notify = off a two-phase commit works') or diag($stderr);

# ---------------------------------------------------------------------------
# without shared_preload_libraries: the writer sends its own notifications
# ---------------------------------------------------------------------------
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', "CREATE EXTENSION omnitask; SELECT omnitask.register_practitioner('postgres', 'relay-p1');");
is($plain->safe_psql('postgres', "SHOW shared_preload_libraries"), '', 'a cluster without the preload');
my $P = listener('postgres', $plain);
($id, $wpid) = split /\|/, $plain->safe_psql('postgres',
	"SELECT omnitask.create_task('$TASK') ->> 'id', pg_backend_pid()");
@n = wait_for($P, 1);
is(join(',', ids(@n)), $id, 'the change is announced');
is($n[0][1], $wpid, '... by the writer');
$plain->safe_psql('postgres', "BEGIN; SELECT omnitask.create_task('$TASK'); ROLLBACK;");
($sentinel) = $plain->safe_psql('postgres', "SELECT omnitask.create_task('$TASK') ->> 'id'");
@n = wait_for($P, 1);
is(join(',', ids(@n)), $sentinel, 'a rolled-back change is not announced');
# a non-superuser's placeholder set before the library loads does not turn it off
$plain->safe_psql('postgres', 'CREATE ROLE relay_admin LOGIN IN ROLE omnitask_admin');
$plain->safe_psql('postgres', "SELECT omnitask.register_practitioner('relay_admin', 'relay-p2')");
($rc, $stdout, $stderr) = $plain->psql('postgres',
	"SET omnitask.notify = off; SELECT omnitask.create_task('$TASK') IS NOT NULL; SHOW omnitask.notify;",
	extra_params => [ '-U', 'relay_admin' ]);
is($stdout, "t\non", 'without the preload, a placeholder omnitask.notify = off by a non-superuser is dropped at load')
  or diag($stderr);
@n = wait_for($P, 1);
is(scalar @n, 1, '... and the change is announced');
$plain->stop;

done_testing();
