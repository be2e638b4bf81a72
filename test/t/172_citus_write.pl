#!/usr/bin/perl
#
# 172_citus_write.pl: writes on Citus (a coordinator and two workers) that
# need more than routing a row by its id: business identifiers unique
# across workers (conditional create and update), bulk imports, and a
# worker restart under writers.
#
# Runs only when Citus is installed for the PostgreSQL under test
# (citus.so in its pkglibdir); otherwise the whole file is skipped, and
# says why.  Citus is never built or shipped by this project.
#
# Checked, through the coordinator, against a single node running the
# same calls (same answers, SQLSTATEs and messages, ids aside):
#   - conditional create and update: no match, one visible match, a match
#     the caller cannot see (23505), several matches (PT412), a plain
#     create carrying an identifier already held;
#   - 8 concurrent conditional creates of one identifier (several rounds)
#     store one task with one history row; 8 concurrent conditional
#     updates of a new identifier create it once and update it 7 times;
#   - the refusals that keep it race-free: on a worker, and outside READ
#     COMMITTED (0A000);
#   - import_tasks() (NDJSON in chunks through import_batch(), an array, a
#     Bundle): ids, statuses and times kept, bad lines reported as on one
#     node, verify() empty;
#   - a worker stopped and started under 2 writers (idempotent conditional
#     creates, retried): errors only while it is down, then nothing lost or
#     duplicated, history complete, verify() empty;
#   - a task shard (and its colocated history shard) moved to the other
#     worker by logical replication (force_logical) under 2 writers: no
#     writer error, nothing lost or duplicated, verify() empty.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use OmnitaskCitus;

citus_skip_unless_installed();

# wal_level = logical: a shard move by logical replication
my ($coord, $w1, $w2) = map { citus_node($_, "wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10\n") } qw(coordinator worker1 worker2);
citus_cluster($coord, $w1, $w2);
# a shard move connects a node to itself by citus.local_hostname
# (localhost by default: these nodes use sockets)
for my $node ($coord, $w1, $w2)
{
	$node->append_conf('postgresql.conf', "citus.local_hostname = '" . $node->host . "'\n");
	$node->reload;
}
my $single = PostgreSQL::Test::Cluster->new('single');
$single->init;
$single->append_conf('postgresql.conf', "shared_preload_libraries = 'omnitask'\nlog_statement = none\n");
$single->start;
$single->safe_psql($DB, 'CREATE EXTENSION omnitask');

my $roles = q{
CREATE ROLE clinic_admin LOGIN IN ROLE omnitask_admin;
CREATE ROLE pract_a LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE pract_b LOGIN IN ROLE omnitask_practitioner;
};
$_->safe_psql($DB, $roles) for ($coord, $single);
$coord->safe_psql($DB, 'SELECT omnitask.distribute(8)');
for my $node ($coord, $single)
{
	ok_as($node, 'clinic_admin', q{SELECT omnitask.register_practitioner('pract_a', 'pa', 'Dr A');
		SELECT omnitask.register_practitioner('pract_b', 'pb', 'Dr B')}, $node->name . ': practitioners registered');
}

# A Task with the given identifiers ([system, value] pairs), as SQL (one
# authoredOn: an update must keep it).
sub task_with
{
	my ($desc, @ids) = @_;
	my $idents = join ', ', map { qq{{"system": "$_->[0]", "value": "$_->[1]"}} } @ids;
	return qq{'{"resourceType": "Task", "status": "requested", "intent": "order", "authoredOn": "2026-01-02T03:04:05Z",
		"description": "$desc", "for": {"reference": "Patient/p-1"}, "identifier": [$idents]}'::jsonb};
}

# A conditional create: "id created" or "SQLSTATE: message".
sub cc_sql
{
	my ($cond, $desc, @ids) = @_;
	return "SELECT (c.task ->> 'id') || ' ' || c.created FROM omnitask.create_task_if_none_exist("
	  . task_with($desc, @ids) . ", '$cond') c";
}

# A conditional update by practitioner $who: "id version created" (the
# requester and owner a create gave the Task must stay).
sub cu_sql
{
	my ($who, $cond, $desc, @ids) = @_;
	return "SELECT (c.task ->> 'id') || ' ' || (c.task -> 'meta' ->> 'versionId') || ' ' || c.created "
	  . "FROM omnitask.update_task_by_identifier(" . task_with($desc, @ids)
	  . " || '{\"requester\": {\"reference\": \"Practitioner/$who\"}, \"owner\": {\"reference\": \"Practitioner/$who\"}}', '$cond') c";
}

# --- conditional create and update: the single node's answers --------------

# [name, user, SQL, name for the id it returns]
my @steps = (
	[ 'create, no match', 'pract_a', cc_sql('identifier=urn:a|ord-1', 'one', [ 'urn:a', 'ord-1' ]), 'one' ],
	[ 'create, one match', 'pract_a', cc_sql('identifier=urn:a|ord-1', 'one again', [ 'urn:a', 'ord-1' ]) ],
	[ 'create, match by value', 'pract_a', cc_sql('identifier=ord-1', 'one again', [ 'urn:a', 'ord-1' ]) ],
	[ 'create, URL-encoded', 'pract_a', cc_sql('identifier=urn%3Aa%7Cord-1', 'one again', [ 'urn:a', 'ord-1' ]) ],
	[ 'create, hidden match (23505)', 'pract_b', cc_sql('identifier=urn:a|ord-1', 'b', [ 'urn:a', 'ord-1' ]) ],
	[ 'create, other system', 'pract_a', cc_sql('identifier=urn:b|ord-1', 'two', [ 'urn:b', 'ord-1' ]), 'two' ],
	[ 'create, several (PT412)', 'pract_a', cc_sql('identifier=ord-1', 'three', [ 'urn:a', 'ord-1' ]) ],
	[ 'create, not an identifier of the Task (22023)', 'pract_a', cc_sql('identifier=urn:a|ord-9', 'x', [ 'urn:a', 'ord-1' ]) ],
	[ 'create, no system (22023)', 'pract_a', cc_sql('identifier=|ord-1', 'x', [ 'urn:a', 'ord-1' ]) ],
	[ 'plain create of a held identifier', 'pract_a', "SELECT omnitask.create_task(" . task_with('dup', [ 'urn:c', 'dup-1' ]) . ") ->> 'id'", 'dup1' ],
	[ 'plain create again', 'pract_a', "SELECT omnitask.create_task(" . task_with('dup', [ 'urn:c', 'dup-1' ]) . ") ->> 'id'", 'dup2' ],
	[ 'create, the first holder answers', 'pract_a', cc_sql('identifier=urn:c|dup-1', 'dup', [ 'urn:c', 'dup-1' ]) ],
	[ 'update, one match', 'pract_a', cu_sql('pa', 'identifier=urn:a|ord-1', 'one, updated', [ 'urn:a', 'ord-1' ]) ],
	[ 'update, no match creates', 'pract_a', cu_sql('pa', 'identifier=urn:a|ord-2', 'four', [ 'urn:a', 'ord-2' ]), 'four' ],
	[ 'update, hidden match (23505)', 'pract_b', cu_sql('pb', 'identifier=urn:a|ord-2', 'b', [ 'urn:a', 'ord-2' ]) ],
	[ 'update, several (PT412)', 'pract_a', cu_sql('pa', 'identifier=ord-1', 'x', [ 'urn:a', 'ord-1' ]) ],
	[ 'update drops the identifier', 'pract_a', cu_sql('pa', 'identifier=urn:a|ord-2', 'four, other id', [ 'urn:d', 'ord-2' ]) ],
	[ 'create after the drop', 'pract_a', cc_sql('identifier=urn:a|ord-2', 'five', [ 'urn:a', 'ord-2' ]), 'five' ],
	[ 'verify', 'clinic_admin', 'SELECT * FROM omnitask.verify()' ],
);

# Runs @steps on $node: the answers with the ids replaced by their names.
sub run_steps
{
	my ($node) = @_;
	my (%ids, @answers);
	for my $step (@steps)
	{
		my ($name, $user, $sql, $remember) = @$step;
		my ($out, $err) = run_as($node, $user, $sql);
		my $id = (split / /, $out)[0] // '';
		$ids{$remember} = $id if $remember && $err eq '' && !grep { $_ eq $id } values %ids;
		my $answer = $err ne '' ? "ERROR $err" : $out;
		$answer =~ s/\Q$ids{$_}\E/{$_}/g for keys %ids;
		push @answers, $answer;
	}
	return \@answers;
}

my $expected = run_steps($single);
my $got = run_steps($coord);
for my $i (0 .. $#steps)
{
	is($got->[$i], $expected->[$i], "conditional writes as on one node: $steps[$i][0]");
}
# what one node answers (so that the comparison cannot pass vacuously)
is($expected->[0], '{one} true', 'one node: the first conditional create stores the task');
is($expected->[1], '{one} false', 'one node: the second returns it');
like($expected->[4], qr/^ERROR 23505: identifier "urn:a\|ord-1" is already in use$/, 'one node: a hidden holder is 23505');
like($expected->[6], qr/^ERROR PT412: If-None-Exist "identifier=ord-1" matches more than one task$/,
	'one node: several holders are PT412');
is($expected->[11], '{dup1} false', 'one node: the first task stored with an identifier holds it');
is($expected->[12], '{one} 2 false', 'one node: a conditional update of the holder is version 2');

# --- the refusals that keep it race-free on Citus -------------------------

error_as($w1, 'pract_a', cc_sql('identifier=urn:e|w-1', 'w', [ 'urn:e', 'w-1' ]),
	'0A000: conditional create runs on the Citus coordinator only',
	'a conditional create on a worker is refused (the lock is on the coordinator)');
error_as($coord, 'pract_a', "BEGIN ISOLATION LEVEL REPEATABLE READ;\n" . cc_sql('identifier=urn:e|rr-1', 'rr', [ 'urn:e', 'rr-1' ]),
	'0A000: conditional create on Citus is not supported in REPEATABLE READ isolation',
	'a conditional create in REPEATABLE READ is refused on Citus');
is((run_as($single, 'pract_a', "BEGIN ISOLATION LEVEL REPEATABLE READ;\n" . cc_sql('identifier=urn:e|rr-1', 'rr', [ 'urn:e', 'rr-1' ]) . ";\nCOMMIT;"))[1],
	'', 'one node: the same create in REPEATABLE READ works (the claim decides)');

# --- concurrent conditional creates of one identifier ------------------------

# Runs the SQL in @$sqls at once as pract_a through the coordinator: each
# client first waits on a gate (an advisory lock the test holds) and all
# are released together once all of them wait.  Returns their outputs and
# errors.
sub at_once
{
	my ($sqls) = @_;
	my $gate = $coord->background_psql($DB);
	$gate->query_safe('SELECT pg_advisory_lock(4242)');
	my (@h, @out, @err);
	for my $i (0 .. $#$sqls)
	{
		($out[$i], $err[$i]) = ('', '');
		push @h, IPC::Run::start([ 'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', $coord->host,
			'-p', $coord->port, '-U', 'pract_a', '-d', $DB, '-c',
			"SELECT pg_advisory_lock_shared(4242); SELECT pg_advisory_unlock_shared(4242);",
			'-c', $sqls->[$i] ], '>', \$out[$i], '2>', \$err[$i]);
	}
	my $n = scalar @$sqls;
	my $waiting = $coord->poll_query_until($DB,
		"SELECT count(*) = $n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND objsubid = 1 AND NOT granted");
	$gate->query_safe('SELECT pg_advisory_unlock(4242)');
	$gate->quit;
	$_->finish for @h;
	# the answer is the last line (the gate's come first)
	@out = map { (split /\n/, $_)[-1] // '' } @out;
	return ($waiting, \@out, \@err);
}

for my $round (1 .. 4)
{
	my $ident = [ 'urn:race', "r-$round" ];
	my ($waiting, $out, $err) = at_once([ map { cc_sql("identifier=urn:race|r-$round", "race $round", $ident) } 1 .. 8 ]);
	ok($waiting, "round $round: 8 conditional creates waited at the gate together");
	is(join('', @$err), '', "round $round: no create failed");
	my %ids = map { (split / /, $_)[0] => 1 } @$out;
	is(scalar(keys %ids), 1, "round $round: all 8 answered with the same task");
	is(scalar(grep { / true$/ } @$out), 1, "round $round: exactly one of them created it");
	is($coord->safe_psql($DB, qq{SELECT count(*) FROM omnitask.task
		WHERE resource -> 'identifier' \@> '[{"system": "urn:race", "value": "r-$round"}]'}),
		'1', "round $round: one task stored");
	is($coord->safe_psql($DB, qq{SELECT count(*) FROM omnitask.task_history
		WHERE resource -> 'identifier' \@> '[{"system": "urn:race", "value": "r-$round"}]'}),
		'1', "round $round: one history row");
}
{
	my ($waiting, $out, $err) = at_once([ map { cu_sql('pa', 'identifier=urn:race|u-1', "update $_", [ 'urn:race', 'u-1' ]) } 1 .. 8 ]);
	ok($waiting, '8 conditional updates of a new identifier waited at the gate together');
	is(join('', @$err), '', 'no conditional update failed');
	is(scalar(grep { / true$/ } @$out), 1, 'exactly one of them created the task');
	is($coord->safe_psql($DB, q{SELECT count(*) || ' ' || max(version_id) FROM omnitask.task
		WHERE resource -> 'identifier' @> '[{"system": "urn:race", "value": "u-1"}]'}),
		'1 8', 'one task, updated by the other 7 (version 8)');
}
is((run_as($coord, 'clinic_admin', 'SELECT count(*) FROM omnitask.verify()'))[0], '0',
	'verify() is empty after the concurrent conditional writes');

# --- import_tasks() ---------------------------------------------------------

{
	# 250 lines: 246 good Tasks in various statuses with their own times,
	# and a bad line in two chunks (invalid, no id, not JSON, a duplicate id)
	my @statuses = qw(requested accepted in-progress completed cancelled on-hold);
	my @lines;
	for my $i (1 .. 250)
	{
		my $st = $statuses[ $i % @statuses ];
		my $extra = $st eq 'cancelled' ? ', "statusReason": {"text": "gone"}' : '';
		push @lines, $i == 40 ? '{"resourceType": "Task", "id": "imp-40", "status": "bogus", "intent": "order", "for": {"reference": "Patient/p-2"}}'
		  : $i == 41 ? '{"resourceType": "Task", "status": "completed", "intent": "order", "description": "no id", "for": {"reference": "Patient/p-2"}}'
		  : $i == 170 ? 'this is not JSON'
		  : $i == 171 ? '{"resourceType": "Task", "id": "imp-1", "status": "completed", "intent": "order", "description": "again", "for": {"reference": "Patient/p-2"}}'
		  : sprintf('{"resourceType": "Task", "id": "imp-%d", "status": "%s", "intent": "order", "description": "imported %d", '
			  . '"for": {"reference": "Patient/p-2"}, "owner": {"reference": "Practitioner/pa"}, '
			  . '"authoredOn": "2019-03-04T05:06:07Z", "lastModified": "2020-0%d-02T03:04:05Z"%s}',
			  $i, $st, $i, 1 + $i % 9, $extra);
	}
	my $ndjson = join("\n", @lines);
	my $import = "SELECT item, task_id, code, expression, message FROM omnitask.import_tasks(\$n\$$ndjson\$n\$)";
	my $array = q{SELECT count(*) FROM omnitask.import_tasks($j$[
		{"resourceType": "Task", "id": "imp-a1", "status": "requested", "intent": "order", "description": "a1", "authoredOn": "2018-01-01", "lastModified": "2018-01-02T00:00:00Z", "for": {"reference": "Patient/p-2"}},
		{"resourceType": "Task", "id": "imp-a2", "status": "on-hold", "intent": "order", "description": "a2", "authoredOn": "2018-01-01", "lastModified": "2018-01-03T00:00:00Z", "for": {"reference": "Patient/p-2"}}]$j$)};
	my $bundle = q{SELECT count(*) FROM omnitask.import_tasks($j${"resourceType": "Bundle", "type": "collection", "entry": [
		{"resource": {"resourceType": "Task", "id": "imp-b1", "status": "completed", "intent": "order", "description": "b1", "authoredOn": "2018-01-01", "lastModified": "2018-01-04T00:00:00Z", "for": {"reference": "Patient/p-2"}}}]}$j$)};
	my $stored = q{SELECT t.id, t.status, t.version_id, t.authored_on, t.last_modified, t.owner_id, h.operation
		FROM omnitask.task t JOIN omnitask.task_history h USING (id, version_id)
		WHERE t.id LIKE 'imp-%' ORDER BY t.id};
	my %answer;
	for my $node ($single, $coord)
	{
		$answer{ $node->name } = [ map { ok_as($node, 'clinic_admin', $_, $node->name . ': import_tasks()') }
			$import, $array, $bundle, $stored, 'SELECT count(*) FROM omnitask.task_history WHERE id LIKE \'imp-%\'' ];
	}
	my ($one, $dist) = ($answer{single}, $answer{coordinator});
	# a duplicate id is reported by the shard's unique index, which Citus names
	# after the shard (task_pkey_<shardid>): the one difference
	like($dist->[0], qr/\|23505\|\|duplicate key value violates unique constraint "task_pkey_\d+"$/m,
		'on Citus the duplicate id is 23505 from the shard\'s primary key');
	(my $report = $dist->[0]) =~ s/"task_pkey_\d+"/"task_pkey"/;
	is($report, $one->[0], 'import_tasks() on Citus reports the bad lines as one node does');
	like($one->[0], qr/^40\|imp-40\|23514\|.*\n41\|\|23514\|.*\n170\|\|22P02\|.*\n171\|imp-1\|23505\|/s,
		'the report names the invalid Task, the Task without an id, the line that is not JSON and the duplicate');
	is($dist->[1] . $dist->[2], '00', 'an array and a Bundle import without problems');
	is($dist->[3], $one->[3], 'the imported tasks keep their ids, statuses, versions and times, as on one node');
	is(scalar(() = $dist->[3] =~ /\|import$/mg), 249, '249 tasks stored, each with an "import" history row');
	is($dist->[4], '249', 'one history row per imported task');
	is((run_as($coord, 'clinic_admin', 'SELECT count(*) FROM omnitask.verify()'))[0], '0',
		'verify() is empty after the import');
	is((run_as($coord, 'pract_a', "SELECT omnitask.read_task('imp-100') ->> 'lastModified'"))[0],
		'2020-02-02T03:04:05Z', 'an imported task reads back by its own id with its own lastModified');
}

# --- writers that retry ------------------------------------------------------

my $dir = $PostgreSQL::Test::Utils::tmp_check;

# Starts 2 writers through the coordinator: writer <name> creates, with
# description $desc, task <name>-<k> for k = 1, 2, ... by a conditional
# create (so that a retry after an error whose outcome is unknown cannot
# store it twice), retrying a failed k, until stop_writers().  Each logs
# one line per request ("ok k" or "err k message").
sub start_writers
{
	my ($desc, @names) = @_;
	my $script = "$dir/writer.sh";
	unlink "$dir/writers.stop";
	open my $fh, '>', $script or die $!;
	print $fh 'w=$1; log=$2; k=1
while [ ! -e ' . "$dir/writers.stop" . ' ]; do
	if out=$(psql -X -A -t -v ON_ERROR_STOP=1 -h ' . $coord->host . ' -p ' . $coord->port . ' -U pract_a -d ' . $DB . ' -c "SELECT c.created FROM omnitask.create_task_if_none_exist(
		jsonb_build_object(\'resourceType\', \'Task\', \'status\', \'requested\', \'intent\', \'order\', \'description\', \'' . $desc . '\',
			\'for\', jsonb_build_object(\'reference\', \'Patient/p-5\'),
			\'identifier\', jsonb_build_array(jsonb_build_object(\'system\', \'urn:rs\', \'value\', \'$w-$k\'))),
		\'identifier=urn:rs|$w-$k\') c" 2>&1); then
		echo "ok $k $out" >> "$log"; k=$((k + 1))
	else
		echo "err $k $(echo "$out" | head -1)" >> "$log"; sleep 0.1
	fi
done
';
	close $fh;
	my @writers = map { +{ log => "$dir/$_.log" } } @names;
	unlink map { $_->{log} } @writers;
	$_->{h} = IPC::Run::start([ 'bash', $script, (split m{/|\.log$}, $_->{log})[-1], $_->{log} ]) for @writers;
	return @writers;
}

# Stops the writers (each finishes its request).
sub stop_writers
{
	open my $s, '>', "$dir/writers.stop" or die $!;
	close $s;
	$_->{h}->finish for @_;
	return;
}

# The lines of a writer's log from line $from (0-based) on.
sub log_lines
{
	my ($w, $from) = @_;
	open my $l, '<', $w->{log} or return ();
	my @all = <$l>;
	close $l;
	return @all[ ($from // 0) .. $#all ];
}

# Polls (180 s at most) until every writer has $n "ok" lines from its
# line $from->[i] on.
sub until_stored
{
	my ($n, $from, @writers) = @_;
	for (1 .. 1800)
	{
		return 1 unless grep { scalar(grep { /^ok/ } log_lines($writers[$_], $from->[$_])) < $n } 0 .. $#writers;
		usleep(100_000);
	}
	return 0;
}

# Every k the writers got an answer for is stored once, with its history,
# and verify() is empty.
sub check_written
{
	my ($desc, $what, @writers) = @_;
	my $last = 0;
	for my $w (@writers)
	{
		my ($k) = (grep { /^ok/ } log_lines($w))[-1] =~ /^ok (\d+)/;
		$last += $k;
	}
	$coord->safe_psql($DB, 'SELECT recover_prepared_transactions()');
	is($coord->safe_psql($DB, qq{SELECT count(*) || ' ' || count(DISTINCT resource -> 'identifier' -> 0 ->> 'value')
		FROM omnitask.task WHERE description = '$desc'}), "$last $last",
		"$what: every acknowledged task is stored exactly once (nothing lost, nothing duplicated)");
	is($coord->safe_psql($DB, qq{SELECT count(*) FROM omnitask.task_history h JOIN omnitask.task t USING (id)
		WHERE t.description = '$desc'}), $last, "$what: history complete");
	is((run_as($coord, 'clinic_admin', 'SELECT count(*) FROM omnitask.verify()'))[0], '0',
		"$what: verify() is empty");
	return;
}

# --- a worker restart under writers ---------------------------------------

{
	my @writers = start_writers('restart', 'rs1', 'rs2');
	ok(until_stored(20, [ 0, 0 ], @writers), 'both writers stored 20 tasks before the restart');
	my @before = map { scalar(() = log_lines($_)) } @writers;
	$w1->stop('fast');
	my $erred = 0;
	for (1 .. 1800)
	{
		$erred = !grep { !grep { /^err/ } log_lines($_) } @writers;
		last if $erred;
		usleep(100_000);
	}
	ok($erred, 'while worker1 is down both writers get errors');
	is(scalar(grep { /^err/ } map { (log_lines($writers[$_]))[ 0 .. $before[$_] - 1 ] } 0 .. 1), 0,
		'no writer error before the stop');
	$w1->start;
	# the cluster answers again (a query on every shard)
	ok($coord->poll_query_until($DB, 'SELECT count(*) >= 0 FROM omnitask.task'), 'worker1 is back');
	# a request in flight at that moment may still fail: each writer's next
	# one starts after the worker is back
	my @back = map { scalar(() = log_lines($_)) + 1 } @writers;
	ok(until_stored(20, \@back, @writers), 'both writers stored 20 more tasks after the restart');
	stop_writers(@writers);
	is(scalar(grep { /^err/ } map { log_lines($writers[$_], $back[$_]) } 0 .. 1), 0,
		'no writer error once worker1 was back');
	note('writer errors while worker1 was down: ' . join(', ', map { scalar(grep { /^err/ } log_lines($_)) } @writers));
	check_written('restart', 'after the restart', @writers);
}

# --- a shard moved by logical replication under writers ---------------------

{
	my $shard = $coord->safe_psql($DB, q{
		SELECT min(s.shardid) FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
		WHERE s.logicalrelid = 'omnitask.task'::regclass AND n.nodeport = } . $w1->port);
	# the ids stored in the shard before the move, read on its worker
	my @ids = split /\n/, $w1->safe_psql($DB, "SELECT id FROM omnitask.task_$shard ORDER BY id");
	my $count = scalar @ids;
	ok($count > 0, "shard $shard holds $count tasks before the move");
	my @writers = start_writers('move', 'mv1', 'mv2');
	ok(until_stored(10, [ 0, 0 ], @writers), 'both writers stored 10 tasks before the move');
	my @at = map { scalar(() = log_lines($_)) } @writers;
	my ($out, $err) = run_as($coord, 'postgres', sprintf(
		"SELECT citus_move_shard_placement(%s, '%s', %d, '%s', %d, shard_transfer_mode => 'force_logical')",
		$shard, $w1->host, $w1->port, $w2->host, $w2->port));
	is($err, '', "shard $shard (with its colocated history shard, $count tasks) moved from worker1 to worker2 by logical replication");
	my @done = map { scalar(() = log_lines($_)) } @writers;
	note('writer requests during the move: ' . join(', ', map { $done[$_] - $at[$_] } 0 .. 1));
	ok(until_stored(10, \@done, @writers), 'both writers stored 10 more tasks after the move');
	stop_writers(@writers);
	is(scalar(grep { /^err/ } map { log_lines($_) } @writers), 0, 'no writer error before, during or after the move');
	is($coord->safe_psql($DB, "SELECT string_agg(n.nodeport::text, ',') FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
		WHERE p.shardid = $shard"), $w2->port, 'the shard is on worker2 only');
	is($coord->safe_psql($DB, "SELECT count(*) FROM omnitask.task t WHERE t.id = ANY ('{" . join(',', @ids) . "}')"),
		$count, 'the tasks of the moved shard are all there');
	check_written('move', 'after the move', @writers);
}

done_testing();
