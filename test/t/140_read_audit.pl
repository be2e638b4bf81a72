#!/usr/bin/perl
#
# 140_read_audit.pl: the read audit (omnitask.audit, omnitask.audit_log).
#
# What an auditor relies on:
#   - every read path (read_task, search_tasks, task_history, audit_read,
#     the worklist/reporting views, a direct SELECT on omnitask.task, a
#     function of the caller's own) writes exactly one record with the ids
#     it returned, in a READ ONLY transaction; not-found reads too;
#   - modes: off writes nothing, log a LOG line only, table a row only,
#     both the two;
#   - a practitioner cannot read, alter or delete the log, nor switch the
#     audit off or escape it (SET, ALTER ROLE, a caught error); an auditor
#     reads it; an admin cannot rewrite it, and purges only through
#     audit_purge(), which is itself recorded; even a superuser's UPDATE,
#     DELETE, TRUNCATE is refused by the trigger;
#   - the AuditEvent view renders a record as FHIR R4;
#   - a burst larger than the queue loses nothing (the overflow is logged
#     and counted);
#   - SIGKILL of a backend, and of the postmaster, under a read load: every
#     acknowledged read is in the table or in the server log;
#   - on a standby (no table writes there) every read is a LOG line.
#
# Environment (set by test/run_tests.sh): OMNITASK_TOP, PGBIN.

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use POSIX ();

my $DB = 'audit';
my $node = PostgreSQL::Test::Cluster->new('audit');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'omnitask'
omnitask.audit = 'table'
omnitask.audit_queue_size = 64kB
max_worker_processes = 4
max_parallel_workers = 0
log_statement = none
restart_after_crash = on
));
$node->start;
$node->safe_psql('postgres', "CREATE DATABASE $DB");
$node->safe_psql($DB, q{
CREATE EXTENSION omnitask;
CREATE ROLE prac1 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE prac2 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE aud1 LOGIN IN ROLE omnitask_auditor;
CREATE ROLE adm1 LOGIN IN ROLE omnitask_admin;
SELECT omnitask.register_practitioner('prac1', 'p1');
SELECT omnitask.register_practitioner('prac2', 'p2');
});

# CREATE EXTENSION's own statements (backfills reading omnitask.task) are
# the installer's DDL, not reads: until 0.6 each install left a "direct"
# record, and the writer could fail on it ("could not insert") when it ran
# before the script had committed
$node->poll_query_until($DB, 'SELECT pending_bytes = 0 FROM omnitask.audit_stats()')
  or die 'the audit queue did not drain';
is($node->safe_psql($DB, 'SELECT count(*) FROM omnitask.audit_log'), '0', 'CREATE EXTENSION leaves no audit record');
unlike(slurp_file($node->logfile), qr/omnitask audit:|could not insert/, 'nor a LOG line or a failed batch');

sub new_task
{
	my ($owner, $patient) = @_;
	return $node->safe_psql($DB, qq{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","priority":"urgent","description":"audit test","for":{"reference":"Patient/$patient"},"owner":{"reference":"Practitioner/$owner"}}')->>'id'});
}
my $t1 = new_task('p1', 'pat-a');
my $t2 = new_task('p1', 'pat-b');
my $t3 = new_task('p2', 'pat-c');

# psql as a role; returns (rc, stdout, stderr)
sub as_role
{
	my ($role, $sql, $n) = @_;
	$n //= $node;
	my ($out, $err);
	my $rc = $n->psql($DB, $sql, stdout => \$out, stderr => \$err,
		extra_params => [ '-U', $role, '-v', 'VERBOSITY=verbose' ]);
	return ($rc, $out, $err);
}

# the SQL prefix that sets a request id, as PostgREST does
sub reqid { return qq{SET request.headers = '{"x-request-id": "$_[0]"}';} }

# the audit_log rows of a request id, as array of hashes
sub table_records
{
	my ($rid) = @_;
	my $json = $node->safe_psql($DB, qq{
SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY event_id), '[]') FROM omnitask.audit_log a WHERE request_id = '$rid'});
	return @{ decode_json($json) };
}

# the LOG records of a node's server log, by request id (array of hashes)
sub log_records
{
	my ($n) = @_;
	$n //= $node;
	my %by;
	for my $line (split /\n/, slurp_file($n->logfile))
	{
		next unless $line =~ /omnitask audit: (\{.*\})\s*$/;
		my $r = eval { decode_json($1) } or next;
		push @{ $by{ $r->{request_id} // '' } }, $r;
	}
	return \%by;
}

# waits until the queue is empty (everything queued is in the table)
sub wait_written
{
	$node->poll_query_until($DB, 'SELECT pending_bytes = 0 FROM omnitask.audit_stats()')
	  or die 'the audit queue did not drain';
}

sub set_mode
{
	my ($mode) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET omnitask.audit = '$mode'; SELECT pg_reload_conf();");
	$node->poll_query_until($DB, "SELECT current_setting('omnitask.audit') = '$mode'")
	  or die "omnitask.audit did not become $mode";
}

# ------------------------------------------------------------------------
# every read path: one record with the ids returned, in READ ONLY
# ------------------------------------------------------------------------
my %paths = (
	'read' => [ "SELECT omnitask.read_task('$t1') ->> 'id'", 'read', [$t1], ['pat-a'] ],
	'read-missing' => [ "SELECT omnitask.read_task('$t3')", 'read', [], [], 'not-found' ],
	'search' => [ "SELECT omnitask.search_tasks(status => 'requested') -> 'total'", 'search', [ $t1, $t2 ], [ 'pat-a', 'pat-b' ] ],
	'history' => [ "SELECT omnitask.task_history('$t2') -> 'total'", 'history', [$t2], ['pat-b'] ],
	'worklist' => [ "SELECT id, patient_id FROM omnitask.tasks WHERE is_open ORDER BY id", 'report', [ sort($t1, $t2) ], [ map { $_->[1] } sort { $a->[0] cmp $b->[0] } ([ $t1, 'pat-a' ], [ $t2, 'pat-b' ]) ] ],
	'direct' => [ "SELECT id FROM omnitask.task ORDER BY id", 'direct', [ sort($t1, $t2) ], [] ],
	'copy' => [ "COPY omnitask.task (id, patient_id) TO STDOUT", 'direct', [ $t1, $t2 ], [ 'pat-a', 'pat-b' ] ],
	'view-count' => [ "SELECT sum(n) FROM omnitask.task_counts", 'report', [], [] ],
	'http' => [ "SELECT omnitask.audit_read('vread', ARRAY['$t1'], ARRAY['pat-a'], '_id=$t1&_history=1')", 'vread', [$t1], ['pat-a'] ],
	# the FHIR layer's own reads (0.6: before, read was "direct" without ids,
	# and conditional reads, vread and instance history were not recorded);
	# a 404 is an answer, not an error: the sixth field says so
	'fhir-read' => [ "SELECT fhir.task_read('$t1') IS NOT NULL", 'read', [$t1], ['pat-a'] ],
	'fhir-read-missing' => [ "SELECT fhir.task_read('$t3') IS NOT NULL", 'read', [], [], 'not-found', 1 ],
	'fhir-read-304' => [ q{SET LOCAL request.headers = '{"x-request-id": "path-fhir-read-304", "if-none-match": "W/\\"1\\""}'; }
		  . "SELECT fhir.task_read('$t1') IS NULL", 'read', [$t1], ['pat-a'] ],
	'fhir-read-modified' => [ q{SET LOCAL request.headers = '{"x-request-id": "path-fhir-read-modified", "if-modified-since": "Sat, 01 Jan 2000 00:00:00 GMT"}'; }
		  . "SELECT fhir.task_read('$t1') IS NOT NULL", 'read', [$t1], ['pat-a'] ],
	'fhir-vread' => [ "SELECT fhir.task_vread('$t1', '1') IS NOT NULL", 'vread', [$t1], ['pat-a'] ],
	'fhir-vread-missing' => [ "SELECT fhir.task_vread('$t1', '99') IS NOT NULL", 'vread', [], [], 'not-found', 1 ],
	'fhir-history' => [ "SELECT fhir.task_history('$t2') IS NOT NULL", 'history', [$t2], ['pat-b'] ],
	'fhir-history-missing' => [ "SELECT fhir.task_history('$t3') IS NOT NULL", 'history', [], [], 'not-found', 1 ],
	'history-page' => [ "SELECT omnitask.task_history_page('$t2') ->> 'type'", 'history', [$t2], ['pat-b'] ],
	# the change feed (0.6: before, "direct" with no patients), both forms;
	# the expected tasks: every version prac1 sees, in feed order
	'changes' => [ "SELECT omnitask.task_changes() ->> 'type'", 'changes', 'FEED', [ 'pat-a', 'pat-b' ] ],
	'fhir-changes' => [ "SELECT fhir.task_changes() IS NOT NULL", 'changes', 'FEED', [ 'pat-a', 'pat-b' ] ],
	'fhir-search' => [ "SELECT fhir.task_search(status => 'requested') IS NOT NULL", 'search', [ $t1, $t2 ], [ 'pat-a', 'pat-b' ] ],
	# every reporting view and direct statement the README names (the
	# executor hook is the recommended way to audit reads that bypass
	# omnitask's functions)
	'view-overdue' => [ "SELECT id, patient_id FROM omnitask.overdue_tasks", 'report', [], [] ],
	'view-workload' => [ "SELECT sum(open) FROM omnitask.workload", 'report', [], [] ],
	'view-status-changes' => [ "SELECT id FROM omnitask.status_changes WHERE id = '$t1'", 'report', [$t1], [] ],
	'view-turnaround' => [ "SELECT count(*) FROM omnitask.turnaround", 'report', [], [] ],
	'direct-history' => [ "SELECT id FROM omnitask.task_history WHERE id = '$t2'", 'direct', [$t2], [] ],
	'do-block' => [ "COMMIT; DO 'BEGIN PERFORM count(*) FROM omnitask.task; END'; BEGIN READ ONLY; SELECT 1", 'direct', [], [] ],
	'own-function' => [ "COMMIT; CREATE FUNCTION pg_temp.peek() RETURNS bigint LANGUAGE plpgsql AS 'BEGIN RETURN (SELECT count(*) FROM omnitask.task); END'; BEGIN READ ONLY; SELECT pg_temp.peek()", 'direct', [], [] ],
);
# the versions prac1 sees, as the feed lists them (one task id per version)
my ($feed_rc, $feed_ids) = as_role('prac1', q{SELECT string_agg(id, ',' ORDER BY xid, id, version_id) FROM omnitask.task_history});
my @feed_ids = split /,/, $feed_ids;
ok(@feed_ids >= 2, 'prac1 sees versions in the feed');
$_->[2] = [@feed_ids] for grep { ref($_->[2]) ne 'ARRAY' } values %paths;
for my $name (sort keys %paths)
{
	my ($sql, $action, $tasks, $patients, $outcome, $answered) = @{ $paths{$name} };
	my $rid = "path-$name";
	my ($rc, $out, $err) = as_role('prac1', reqid($rid) . " BEGIN READ ONLY; $sql; COMMIT;");
	if ($outcome && !$answered)
	{
		like($err, qr/PT404/, "$name: PT404 for a task that is not visible");
	}
	else
	{
		is($rc, 0, "$name: runs in a READ ONLY transaction") or diag $err;
	}
}
wait_written();
for my $name (sort keys %paths)
{
	my ($sql, $action, $tasks, $patients, $outcome) = @{ $paths{$name} };
	my @recs = table_records("path-$name");
	is(scalar(@recs), 1, "$name: exactly one record");
	next unless @recs;
	my $r = $recs[0];
	is($r->{action}, $action, "$name: action $action");
	is($r->{outcome}, $outcome // 'ok', "$name: outcome " . ($outcome // 'ok'));
	is_deeply([ sort @{ $r->{task_ids} } ], [ sort @$tasks ], "$name: the task ids returned");
	is_deeply([ sort @{ $r->{patient_ids} } ], [ sort @$patients ], "$name: the patient ids returned");
	is($r->{acting_role}, 'prac1', "$name: who (acting role)");
	is($r->{login_role}, 'prac1', "$name: who (login role)");
	is($r->{practitioner_id}, 'p1', "$name: practitioner id");
}
my @srch = table_records('path-search');
like($srch[0]{query}, qr/status=requested/, 'search: the query parameters are recorded') if @srch;
my @dir = table_records('path-direct');
is_deeply($dir[0]{relations}, ['omnitask.task'], 'direct: the relation read is recorded') if @dir;
my @wl = table_records('path-worklist');
ok((grep { $_ eq 'omnitask.tasks' } @{ $wl[0]{relations} // [] }), 'worklist: the view is recorded') if @wl;
for my $v ([ 'overdue', 'omnitask.overdue_tasks' ], [ 'workload', 'omnitask.workload' ],
	[ 'status-changes', 'omnitask.status_changes' ], [ 'turnaround', 'omnitask.turnaround' ])
{
	my @vr = table_records("path-view-$v->[0]");
	ok((grep { $_ eq $v->[1] } @{ $vr[0]{relations} // [] }), "view-$v->[0]: the view is recorded") if @vr;
}

# the JWT path: claims and the authenticator as login role
$node->safe_psql($DB, q{
CREATE ROLE authn LOGIN NOINHERIT;
CREATE ROLE web_anon NOLOGIN;
GRANT prac1 TO authn;
ALTER DATABASE audit SET omnitask.jwt_authenticator = 'authn';
});
my ($rc, $out, $err) = as_role('authn', reqid('path-jwt')
	  . q{ SET ROLE prac1; SET request.jwt.claims = '{"sub": "p1", "role": "prac1"}'; BEGIN READ ONLY; }
	  . "SELECT omnitask.read_task('$t2') ->> 'id'; COMMIT;");
is($rc, 0, 'PostgREST-style read (authenticator, SET ROLE, claims)') or diag $err;
wait_written();
my @jwt = table_records('path-jwt');
is(scalar(@jwt), 1, 'PostgREST-style read: one record');
is($jwt[0]{login_role}, 'authn', 'PostgREST-style read: the authenticator as login role');
is($jwt[0]{acting_role}, 'prac1', 'PostgREST-style read: the role it switched to');
like($jwt[0]{claims} // '', qr/"sub": "p1"/, 'PostgREST-style read: the claims');

# the writer inserts without SQL and fires no triggers: with an insert
# trigger on the table it refuses the batch, whose records go to the server
# log (counted), never lost
{
	my $failed0 = $node->safe_psql($DB, 'SELECT failed_batches FROM omnitask.audit_stats()');
	$node->safe_psql($DB, q{
CREATE FUNCTION audit_trg_probe() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER audit_log_insert_probe BEFORE INSERT ON omnitask.audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_trg_probe();
});
	my $off = -s $node->logfile;
	($rc, $out, $err) = as_role('prac1', reqid('writer-trigger') . "SELECT omnitask.read_task('$t2') ->> 'id';");
	is($rc, 0, 'a read while audit_log has an insert trigger') or diag $err;
	wait_written();
	is($node->safe_psql($DB, 'SELECT failed_batches > ' . $failed0 . ' FROM omnitask.audit_stats()'),
		't', 'the writer refuses a table with an insert trigger (failed_batches)');
	is(scalar(table_records('writer-trigger')), 0, 'the refused record is not in the table');
	ok($node->wait_for_log(qr/table "omnitask\.audit_log" has an insert trigger/, $off),
		'the writer says why');
	ok($node->wait_for_log(qr/omnitask audit: \{[^\n]*"request_id":"writer-trigger"/, $off),
		'the refused record is in the server log');
	$node->safe_psql($DB, 'DROP TRIGGER audit_log_insert_probe ON omnitask.audit_log; DROP FUNCTION audit_trg_probe()');
}

# the AuditEvent rendering
my $ae = decode_json($node->safe_psql($DB, q{
SELECT e.resource FROM omnitask.audit_events e JOIN omnitask.audit_log a USING (event_id)
WHERE a.request_id = 'path-read'}));
is($ae->{resourceType}, 'AuditEvent', 'AuditEvent: resourceType');
is($ae->{subtype}[0]{code}, 'read', 'AuditEvent: subtype read');
is($ae->{action}, 'R', 'AuditEvent: action R');
is($ae->{outcome}, '0', 'AuditEvent: outcome 0');
is($ae->{agent}[0]{who}{reference}, 'Practitioner/p1', 'AuditEvent: the practitioner as agent');
is_deeply([ map { $_->{what}{reference} // () } @{ $ae->{entity} } ], [ "Task/$t1", 'Patient/pat-a' ],
	'AuditEvent: the Task and the patient as entities');
ok((grep { ($_->{what}{identifier}{value} // '') eq 'path-read' } @{ $ae->{entity} }), 'AuditEvent: the request id');
like($ae->{recorded}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/, 'AuditEvent: recorded as a FHIR instant');
my $aes = decode_json($node->safe_psql($DB, q{
SELECT e.resource FROM omnitask.audit_events e JOIN omnitask.audit_log a USING (event_id)
WHERE a.request_id = 'path-search'}));
is($aes->{subtype}[0]{code}, 'search-type', 'AuditEvent: subtype search-type for a search');

# ------------------------------------------------------------------------
# modes
# ------------------------------------------------------------------------
for my $mode (qw(off log both table))
{
	set_mode($mode);
	($rc, $out, $err) = as_role('prac1', reqid("mode-$mode") . " BEGIN READ ONLY; SELECT omnitask.read_task('$t1') IS NOT NULL; COMMIT;");
	is($rc, 0, "mode $mode: the read works");
	wait_written();
	my $in_table = scalar(table_records("mode-$mode"));
	my $in_log = scalar(@{ log_records()->{"mode-$mode"} // [] });
	my %want = (off => [ 0, 0 ], log => [ 0, 1 ], table => [ 1, 0 ], both => [ 1, 1 ]);
	is_deeply([ $in_table, $in_log ], $want{$mode}, "mode $mode: rows in audit_log, LOG lines");
}

# ------------------------------------------------------------------------
# who can do what with the log
# ------------------------------------------------------------------------
my @denied = (
	[ 'SELECT count(*) FROM omnitask.audit_log', 'read the log' ],
	[ 'SELECT count(*) FROM omnitask.audit_events', 'read the AuditEvent view' ],
	[ "INSERT INTO omnitask.audit_log (recorded_at, action, outcome, row_count, task_ids, patient_ids) VALUES (now(), 'read', 'ok', 0, '{}', '{}')", 'insert a record' ],
	[ "UPDATE omnitask.audit_log SET practitioner_id = 'x'", 'alter records' ],
	[ 'DELETE FROM omnitask.audit_log', 'delete records' ],
	[ 'TRUNCATE omnitask.audit_log', 'truncate the log' ],
	[ "SET omnitask.audit = 'off'", 'switch the audit off' ],
	[ "ALTER ROLE prac1 SET omnitask.audit = 'off'", 'switch it off for their role' ],
	[ "SELECT omnitask.audit_purge(now() - interval '2 days')", 'purge' ],
);
for my $d (@denied)
{
	($rc, $out, $err) = as_role('prac1', $d->[0]);
	like($err, qr/ERROR:  42501: permission denied/, "a practitioner cannot $d->[1] (42501)");
}
($rc, $out, $err) = as_role('prac1', "SET omnitask.audit = 'off'");
like($err, qr/permission denied to set parameter "omnitask.audit"/, 'the message names the setting');

# a caught error inside an audited read does not switch the hook off
($rc, $out, $err) = as_role('prac1', reqid('escape-savepoint') . q{
DO $$
DECLARE n int;
BEGIN
	BEGIN
		PERFORM omnitask.read_task('no-such-task');
	EXCEPTION WHEN SQLSTATE 'PT404' THEN NULL;
	END;
	SELECT count(*) INTO n FROM omnitask.task;
END
$$;});
is($rc, 0, 'a direct read after a caught PT404 of read_task') or diag $err;
wait_written();
my @esc = table_records('escape-savepoint');
is_deeply([ map { "$_->{action}/$_->{outcome}" } @esc ], [ 'read/not-found', 'direct/ok' ],
	'both the failed read and the direct read after the caught error are recorded');

for my $role (qw(aud1 adm1))
{
	($rc, $out, $err) = as_role($role, q{SELECT count(*) > 0 FROM omnitask.audit_log; SELECT count(*) > 0 FROM omnitask.audit_events});
	is($out, "t\nt", "$role reads the log and the AuditEvent view") or diag $err;
}
for my $sql ("UPDATE omnitask.audit_log SET practitioner_id = 'x'", 'TRUNCATE omnitask.audit_log',
	"INSERT INTO omnitask.audit_log (recorded_at, action, outcome, row_count, task_ids, patient_ids) VALUES (now(), 'read', 'ok', 0, '{}', '{}')")
{
	($rc, $out, $err) = as_role('adm1', $sql);
	like($err, qr/ERROR:  42501: permission denied/, "an admin cannot: $sql");
}
($rc, $out, $err) = as_role('adm1', "DELETE FROM omnitask.audit_log WHERE recorded_at < now() - interval '2 days'");
like($err, qr/ERROR:  42501: table "omnitask.audit_log" is append-only/, 'an admin cannot DELETE but through audit_purge() (the trigger)');
($rc, $out, $err) = as_role('aud1', "SELECT omnitask.audit_purge(now() - interval '2 days')");
like($err, qr/ERROR:  42501: permission denied/, 'an auditor cannot purge');
for my $sql ("UPDATE omnitask.audit_log SET practitioner_id = 'x'", 'DELETE FROM omnitask.audit_log', 'TRUNCATE omnitask.audit_log')
{
	($rc, $out, $err) = as_role('postgres', $sql);
	like($err, qr/ERROR:  42501: table "omnitask.audit_log" is append-only/, "even a superuser's statement is refused by the trigger: $sql");
}
($rc, $out, $err) = as_role('adm1', "SELECT omnitask.audit_purge(now())");
like($err, qr/ERROR:  22023: cannot purge audit records younger than one day\n.*DETAIL:  The cut-off "/, 'audit_purge refuses to purge the last day (22023)');
my $before = $node->safe_psql($DB, 'SELECT count(*) FROM omnitask.audit_log');
# age two records, as if they were old (the trigger is disabled for this set-up step only)
$node->safe_psql($DB, q{
ALTER TABLE omnitask.audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE omnitask.audit_log SET recorded_at = now() - interval '400 days' WHERE request_id IN ('mode-table', 'mode-both');
ALTER TABLE omnitask.audit_log ENABLE TRIGGER audit_log_append_only;});
($rc, $out, $err) = as_role('adm1', "SELECT omnitask.audit_purge(now() - interval '365 days')");
is($out, '2', 'an admin purges records older than a year with audit_purge()') or diag $err;
wait_written();
my $purge = $node->safe_psql($DB, q{SELECT session_role || ' ' || row_count || ' ' || query FROM omnitask.audit_log WHERE action = 'purge'});
like($purge, qr/^adm1 2 older_than=/, 'the purge is itself recorded: who, how many, the cut-off');
is($node->safe_psql($DB, 'SELECT count(*) FROM omnitask.audit_log'), $before - 2 + 1, 'only the old records went');

# ------------------------------------------------------------------------
# overload: a burst larger than the queue (64 kB) while the writer is held up
# ------------------------------------------------------------------------
set_mode('table');
my $holder = $node->background_psql($DB);
$holder->query_safe('BEGIN; LOCK TABLE omnitask.audit_log IN SHARE MODE;');
my $N = 600;
($rc, $out, $err) = as_role('prac1', qq{
DO \$\$
BEGIN
	FOR i IN 1 .. $N LOOP
		PERFORM pg_catalog.set_config('request.headers', '{"x-request-id": "burst-' || i || '"}', false);
		PERFORM omnitask.read_task('$t1');
	END LOOP;
END
\$\$;});
is($rc, 0, "a burst of $N reads while the writer is held up") or diag $err;
my $stats = $node->safe_psql($DB, 'SELECT logged_queue_full FROM omnitask.audit_stats()');
cmp_ok($stats, '>', 0, "the reads that did not fit were logged and counted (logged_queue_full = $stats)");
$holder->query_safe('COMMIT');
$holder->quit;
wait_written();
my $logged = log_records();
my %table = map { $_ => 1 } split /\n/, $node->safe_psql($DB, q{SELECT request_id FROM omnitask.audit_log WHERE request_id LIKE 'burst-%'});
my @lost = grep { !$table{"burst-$_"} && !$logged->{"burst-$_"} } 1 .. $N;
is(scalar(@lost), 0, "burst: each of the $N reads is in the table or the log") or diag "lost: @lost[0 .. ($#lost > 9 ? 9 : $#lost)]";
my @twice = grep { $table{"burst-$_"} && $logged->{"burst-$_"} } 1 .. $N;
is(scalar(@twice), 0, 'burst: none is in both (no crash happened)');
cmp_ok(scalar(keys %table), '>', 0, 'burst: the queued ones reached the table (' . scalar(keys %table) . ')');

# ------------------------------------------------------------------------
# SIGKILL under a read load
# ------------------------------------------------------------------------
# A reader process: one read per connection, each acknowledged read's
# request id appended to $ackfile once psql printed its result.
sub start_reader
{
	my ($tag, $ackfile) = @_;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# the parent's signal handlers (PostgreSQL::Test::Cluster 18 dies on
		# TERM, and dying runs its END block, which stops the node) are not
		# the reader's: TERM simply ends it
		$SIG{TERM} = $SIG{INT} = 'DEFAULT';
		open(my $fh, '>', $ackfile) or POSIX::_exit(1);
		$fh->autoflush(1);
		my $fails = 0;
		for my $i (1 .. 100000)
		{
			my $rid = "$tag-$i";
			my $o = `psql -X -At -h '@{[ $node->host ]}' -p @{[ $node->port ]} -U prac1 -d $DB -c "SET request.headers = '{\\"x-request-id\\": \\"$rid\\"}'" -c "BEGIN READ ONLY" -c "SELECT omnitask.read_task('$t1') IS NOT NULL" -c "COMMIT" 2>/dev/null`;
			if ($? == 0 && $o =~ /^t$/m)
			{
				print $fh "$rid\n";
				$fails = 0;
			}
			elsif (++$fails >= 5)
			{
				last;
			}
			else
			{
				usleep(50_000);
			}
		}
		close $fh;
		POSIX::_exit(0);
	}
	return $pid;
}

sub acked
{
	my ($ackfile) = @_;
	return () unless -e $ackfile;
	return grep { length } split /\n/, slurp_file($ackfile);
}

sub wait_acked
{
	my ($ackfile, $n) = @_;
	my $deadline = time + 120;
	while (scalar(acked($ackfile)) < $n)
	{
		die 'the reader does not get answers' if time > $deadline;
		usleep(50_000);
	}
}

# every acknowledged read in audit_log or the server log
sub check_acked
{
	my ($tag, $ackfile, $what) = @_;
	my @ack = acked($ackfile);
	# reads acknowledged after the restart may still be in the queue
	wait_written();
	my %table = map { $_ => 1 } split /\n/, $node->safe_psql($DB, "SELECT request_id FROM omnitask.audit_log WHERE request_id LIKE '$tag-%'");
	my $logged = log_records();
	my @lost = grep { !$table{$_} && !$logged->{$_} } @ack;
	my $in_log = grep { $logged->{$_} } @ack;
	cmp_ok(scalar(@ack), '>=', 40, "$what: the reader had reads acknowledged (" . scalar(@ack) . ')');
	is(scalar(@lost), 0, "$what: each acknowledged read is in audit_log or the server log ($in_log in the log)")
	  or diag "lost: @lost";
	return $in_log;
}

# (a) a backend is killed while records wait in the queue (the writer is
# held up by a lock): the postmaster writes them to the log before it
# re-creates shared memory
my $victim = $node->background_psql($DB);
$victim->query_safe('BEGIN; LOCK TABLE omnitask.audit_log IN SHARE MODE;');
my $victim_pid = $victim->query_safe('SELECT pg_backend_pid()');
my $ack_a = $node->basedir . '/ack_a';
my $reader = start_reader('kill-backend', $ack_a);
wait_acked($ack_a, 40);
kill 'KILL', $victim_pid;
eval { $victim->quit };
$node->poll_query_until($DB, 'SELECT true') or die 'the server did not come back after the crash';
kill 'TERM', $reader;
waitpid($reader, 0);
ok($node->log_contains('terminated by signal 9'), 'backend SIGKILL: the server restarted after a crash');
ok($node->log_contains('omnitask audit queue: \d+ records of database \d+ written to the server log\n(?:.*\n)?.*DETAIL:  A server process crashed\.'),
	'backend SIGKILL: the queued records were written to the server log');
my $in_log = check_acked('kill-backend', $ack_a, 'backend SIGKILL');
cmp_ok($in_log, '>', 0, 'backend SIGKILL: the records in flight are in the server log');

# (b) the postmaster is killed under a read load, the writer held up: the
# last process to see the queue writes it to the log
set_mode('table');
my $holder2 = $node->background_psql($DB);
$holder2->query_safe('BEGIN; LOCK TABLE omnitask.audit_log IN SHARE MODE;');
my $ack_b = $node->basedir . '/ack_b';
$reader = start_reader('kill-postmaster', $ack_b);
wait_acked($ack_b, 40);
my $pm_pid = $node->{_pid};
my @children = child_pids($pm_pid);
$node->kill9;
waitpid($reader, 0);
eval { $holder2->quit };
my $deadline = time + 60;
while (grep { kill(0, $_) } @children)
{
	die 'old server processes did not exit' if time > $deadline;
	usleep(100_000);
}
$node->start;
# whether the writer inserted the batch before it saw the postmaster gone
# is a race; what is asserted is that nothing acknowledged is missing
$in_log = check_acked('kill-postmaster', $ack_b, 'postmaster SIGKILL');
note "postmaster SIGKILL: $in_log acknowledged reads were written to the server log";

# ------------------------------------------------------------------------
# standby: reads are LOG lines there
# ------------------------------------------------------------------------
$node->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('audit_standby');
$standby->init_from_backup($node, 'b1', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby, 'replay', $node->lsn('insert'));
($rc, $out, $err) = as_role('prac1', reqid('standby-read') . " BEGIN READ ONLY; SELECT omnitask.read_task('$t1') ->> 'id'; SELECT omnitask.search_tasks() -> 'total'; COMMIT;", $standby);
is($rc, 0, 'standby: reads work (audit = table)') or diag $err;
my $sl = log_records($standby)->{'standby-read'} // [];
is_deeply([ map { $_->{action} } @$sl ], [ 'read', 'search' ], 'standby: each read is a LOG line in the standby\'s server log');
is_deeply($sl->[0]{task_ids}, [$t1], 'standby: with the ids returned');
is($standby->safe_psql($DB, 'SELECT logged_standby FROM omnitask.audit_stats()'), '2', 'standby: counted as logged_standby');
is($node->safe_psql($DB, "SELECT count(*) FROM omnitask.audit_log WHERE request_id = 'standby-read'"), '0',
	'standby: nothing reaches the primary\'s table');
$standby->stop;

$node->stop;
done_testing();

# the pids of a process's children
sub child_pids
{
	my ($ppid) = @_;
	my @pids;
	opendir(my $dh, '/proc') or die "cannot read /proc: $!";
	for my $p (grep { /^\d+$/ } readdir $dh)
	{
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $stat = <$fh>;
		close $fh;
		next unless defined $stat && $stat =~ /\)\s+\S+\s+(\d+)/;
		push @pids, $p if $1 == $ppid;
	}
	closedir $dh;
	return @pids;
}
