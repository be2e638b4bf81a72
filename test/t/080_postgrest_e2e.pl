# The seed scenario end to end, exactly as PostgREST would drive it: a NOINHERIT
# authenticator login that, per request, runs
#   BEGIN; SET LOCAL ROLE <role from the token>;
#   SELECT set_config('request.jwt.claims', '<claims json>', true); <call>; COMMIT;
# Each answer is checked, and so is the HTTP status PostgREST would give for
# each SQLSTATE.  Then the core of the scenario again as direct logins.
use strict;
use warnings;
use IPC::Run qw(run);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use Test::More;

my $pgbin = $ENV{PGBIN} || '/usr/lib/postgresql/15/bin';
# a cluster of its own, configured as the runner's (omnitask preloaded)
my $node = PostgreSQL::Test::Cluster->new('e2e');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'omnitask'\nmax_prepared_transactions = 10\n");
$node->start;
my $sock = $node->host;
my $port = $node->port;
my $db    = 'omnitask_e2e';
my $json  = JSON::PP->new->canonical;

# What PostgREST answers for a SQLSTATE (PTxyz carries its status; 42501 is
# 403 for an authenticated role; class 22 and 23514 are 400).
sub http_status
{
	my ($state) = @_;
	return 200 unless defined $state;
	return $1 if $state =~ /^PT(\d{3})$/;
	return 403 if $state eq '42501';
	return 400 if $state eq '23514' || $state =~ /^22/;
	return 500;
}

# Runs SQL as a login role; returns (output, sqlstate or undef, message).
sub psql_as
{
	my ($user, $sql) = @_;
	my ($out, $err) = ('', '');
	run [ "$pgbin/psql", '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose',
		  '-h', $sock, '-p', $port, '-U', $user, '-d', $db ], \$sql, \$out, \$err;
	my ($state, $msg);
	if ($err =~ /ERROR:\s+([0-9A-Z]{5}):\s+(.*)/)
	{
		($state, $msg) = ($1, $2);
	}
	elsif ($err =~ /\S/ && $err !~ /^(NOTICE|WARNING)/m)
	{
		($state, $msg) = ('XX000', $err);
	}
	chomp $out;
	return ($out, $state, $msg);
}

# One PostgREST request: the token's role and claims, then the call.
sub request
{
	my ($token, $call) = @_;
	my $claims = $json->encode($token);
	(my $quoted = $claims) =~ s/'/''/g;
	my $sql = "BEGIN;\nSET LOCAL ROLE $token->{role};\n"
	  . "SELECT set_config('request.jwt.claims', '$quoted', true) \\g /dev/null\n"
	  . "$call;\nCOMMIT;\n";
	my ($out, $state, $msg) = psql_as('e2e_authenticator', $sql);
	return { body => $out, state => $state, status => http_status($state), message => $msg };
}

sub decode_body { my ($r) = @_; return $json->decode($r->{body}); }

my $admin = { role => 'omnitask_admin', sub => 'e2e-admin' };
my $p1    = { role => 'omnitask_practitioner', sub => 'e2e-p1' };
my $p2    = { role => 'omnitask_practitioner', sub => 'e2e-p2' };
my $aud   = { role => 'omnitask_auditor', sub => 'e2e-auditor' };

# --- set-up: a database, the authenticator and login roles ---------------------
$db = 'postgres';
my ($o, $s, $m) = psql_as('postgres', <<'SQL');
DROP DATABASE IF EXISTS omnitask_e2e;
CREATE DATABASE omnitask_e2e;
DROP ROLE IF EXISTS e2e_authenticator, e2e_p1, e2e_p2, e2e_admin, e2e_auditor;
SQL
is($s, undef, 'set-up: a fresh database') or diag($m);
$db = 'omnitask_e2e';
($o, $s, $m) = psql_as('postgres', <<'SQL');
CREATE EXTENSION omnitask;
CREATE ROLE e2e_authenticator LOGIN NOINHERIT;
GRANT omnitask_admin, omnitask_practitioner, omnitask_auditor TO e2e_authenticator;
CREATE ROLE e2e_p1 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE e2e_p2 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE e2e_admin LOGIN IN ROLE omnitask_admin;
CREATE ROLE e2e_auditor LOGIN IN ROLE omnitask_auditor;
SELECT omnitask.register_practitioner('e2e_p1', 'e2e-p1', 'Dr. One');
SELECT omnitask.register_practitioner('e2e_p2', 'e2e-p2', 'Dr. Two');
ALTER DATABASE omnitask_e2e SET omnitask.jwt_authenticator = 'e2e_authenticator';
SQL
is($s, undef, 'set-up: extension, authenticator and login roles') or diag($m);

my @categories = qw(care-coordination medication-reconciliation lab-follow-up
  patient-outreach documentation referral-management);
my @priorities = qw(routine urgent asap stat);

sub task_json
{
	my ($owner, $category, $priority, $n) = @_;
	return $json->encode({
		resourceType => 'Task', status => 'requested', intent => 'order',
		priority => $priority,
		description => "$category task $n for $owner",
		code => { coding => [ { system => 'https://omnitask.dev/fhir/CodeSystem/care-task-category',
								code => $category } ] },
		for => { reference => 'Patient/e2e-pat-' . ($n % 3) },
		owner => { reference => "Practitioner/$owner" },
		restriction => { period => { end => sprintf('2030-01-%02dT12:00:00Z', 1 + $n % 28) } },
	});
}

sub sql_literal { my ($v) = @_; $v =~ s/'/''/g; return "'$v'"; }

# --- an admin creates tasks for two practitioners in every category and priority
my $created = 0;
my $n = 0;
for my $owner (qw(e2e-p1 e2e-p2))
{
	for my $c (@categories)
	{
		for my $p (@priorities)
		{
			my $r = request($admin, 'SELECT omnitask.create_task(' . sql_literal(task_json($owner, $c, $p, $n++)) . ')');
			$created++ if $r->{status} == 200 && decode_body($r)->{meta}{versionId} eq '1';
		}
	}
}
is($created, 48, 'admin creates 48 tasks (2 practitioners x 6 categories x 4 priorities): 200 each');

# --- practitioner 1 lists their own by status, priority and patient, and paginates
my $r = request($p1, q{SELECT omnitask.search_tasks(status => 'requested', _count => 100)});
my $b = decode_body($r);
is($r->{status}, 200, 'p1 search by status: 200');
is($b->{total}, 24, 'p1 sees exactly their 24 requested tasks');
is(scalar(grep { $_->{resource}{owner}{reference} ne 'Practitioner/e2e-p1' } @{ $b->{entry} }), 0,
	'no task of anyone else in p1\'s results');
is($b->{entry}[0]{resource}{priority}, 'stat', 'default order puts stat first');

$r = request($p1, q{SELECT omnitask.search_tasks(priority => 'stat,asap')});
is(decode_body($r)->{total}, 12, 'p1 by priority stat,asap: 12');
$r = request($p1, q{SELECT omnitask.search_tasks(patient => 'Patient/e2e-pat-0')});
my $by_patient = decode_body($r)->{total};
ok($by_patient > 0 && $by_patient < 24, "p1 by patient: $by_patient of their tasks");

my @pages;
my $offset = 0;
my $seen = 0;
while (1)
{
	$r = request($p1, "SELECT omnitask.search_tasks(_count => 10, _offset => $offset)");
	my $page = decode_body($r);
	push @pages, scalar @{ $page->{entry} || [] };
	$seen += scalar @{ $page->{entry} || [] };
	my ($next) = grep { $_->{relation} eq 'next' } @{ $page->{link} };
	last unless $next;
	($offset) = $next->{url} =~ /_offset=(\d+)/;
	last if @pages > 5;
}
is_deeply(\@pages, [ 10, 10, 4 ], 'p1 paginates 10 + 10 + 4 following the next links');

# --- p1 accepts, starts and completes one task
$r = request($p1, q{SELECT omnitask.search_tasks(priority => 'stat', _count => 1)});
my $task = decode_body($r)->{entry}[0]{resource}{id};
ok($task, 'p1 picks their most urgent task');
for my $step ([ 'accepted', 2 ], [ 'in-progress', 3 ], [ 'completed', 4 ])
{
	my ($status, $version) = @$step;
	$r = request($p1, "SELECT omnitask.set_task_status('$task', '$status', if_match => " . ($version - 1) . ")");
	is($r->{status}, 200, "p1 moves the task to $status: 200");
	is(decode_body($r)->{meta}{versionId}, "$version", "... now at version $version");
}
$r = request($p1, "SELECT omnitask.task_history('$task')");
is(decode_body($r)->{total}, 4, 'the history has 4 versions');
$r = request($p1, "SELECT omnitask.set_task_status('$task', 'in-progress')");
is_deeply([ $r->{state}, $r->{status} ], [ 'PT409', 409 ], 'reopening a completed task: PT409 -> 409');

# --- the other practitioner cannot see it
$r = request($p2, "SELECT omnitask.read_task('$task')");
is_deeply([ $r->{state}, $r->{status} ], [ 'PT404', 404 ], 'p2 reads p1\'s task: PT404 -> 404');
my $missing = request($p2, q{SELECT omnitask.read_task('no-such-task')});
is($r->{message} =~ s/\Q$task\E/ID/r, $missing->{message} =~ s/no-such-task/ID/r,
	'... with the same message as a task that does not exist');
$r = request($p2, "SELECT omnitask.set_task_status('$task', 'entered-in-error', 'x')");
is($r->{status}, 404, 'p2 changes p1\'s task: 404');
$r = request($p2, "SELECT count(*) FROM omnitask.tasks WHERE id = '$task'");
is($r->{body}, '0', 'p2: the task is absent from the tasks view');
$r = request($p2, q{SELECT omnitask.search_tasks(owner => 'e2e-p1')});
is(decode_body($r)->{total}, 0, 'p2 searching p1\'s tasks finds nothing');

# --- the auditor lists everything and can write nothing
$r = request($aud, q{SELECT omnitask.search_tasks(_count => 1)});
is(decode_body($r)->{total}, 48, 'auditor sees all 48 tasks');
$r = request($aud, "SELECT omnitask.set_task_status('$task', 'entered-in-error', 'audit')");
is_deeply([ $r->{state}, $r->{status} ], [ '42501', 403 ], 'auditor writes: 42501 -> 403');
$r = request($aud, 'SELECT omnitask.create_task(' . sql_literal(task_json('e2e-p1', 'documentation', 'routine', 99)) . ')');
is($r->{status}, 403, 'auditor creates: 403');

# --- stale if_match, invalid input, bad parameters
$r = request($p1, q{SELECT omnitask.search_tasks(status => 'requested', _count => 1)});
my $other = decode_body($r)->{entry}[0]{resource};
$r = request($p1, "SELECT omnitask.set_task_status('$other->{id}', 'accepted', if_match => 1)");
is($r->{status}, 200, 'p1 accepts another task with the current version');
$r = request($p1, "SELECT omnitask.set_task_status('$other->{id}', 'in-progress', if_match => 1)");
is_deeply([ $r->{state}, $r->{status} ], [ 'PT412', 412 ], 'stale if_match: PT412 -> 412');
$r = request($p1, q{SELECT omnitask.create_task('{"resourceType": "Task", "status": "requested", "intent": "order"}')});
is_deeply([ $r->{state}, $r->{status} ], [ '23514', 400 ], 'invalid Task: 23514 -> 400');
like($r->{message}, qr/Task\.for/, '... naming the FHIR path');
$r = request($p1, q{SELECT omnitask.search_tasks(_sort => 'colour')});
is_deeply([ $r->{state}, $r->{status} ], [ '22023', 400 ], 'unknown sort key: 22023 -> 400');
$r = request($p1, 'SELECT omnitask.create_task(' . sql_literal(task_json('e2e-p2', 'documentation', 'routine', 98)) . ')');
is_deeply([ $r->{state}, $r->{status} ], [ '42501', 403 ], 'p1 creates for p2: 42501 -> 403');

# --- the same token trick does not work for a direct login
($o, $s, $m) = psql_as('e2e_p2', <<'SQL');
SELECT set_config('request.jwt.claims', '{"sub": "e2e-p1"}', false) \g /dev/null
SELECT omnitask.current_practitioner_id() || ':' || (SELECT count(*) FROM omnitask.task WHERE owner_id = 'e2e-p1');
SQL
is($o, 'e2e-p2:0', 'direct login of p2 setting p1\'s claims stays p2 and sees none of p1\'s tasks');

# --- the core of the scenario as direct logins over psql
($o, $s, $m) = psql_as('e2e_admin', 'SELECT omnitask.create_task(' . sql_literal(task_json('e2e-p2', 'lab-follow-up', 'asap', 100)) . ") ->> 'id'");
is($s, undef, 'direct login: admin creates a task for p2');
my $direct = $o;
($o, $s, $m) = psql_as('e2e_p2', "SELECT omnitask.set_task_status('$direct', 'accepted') ->> 'status'; SELECT omnitask.set_task_status('$direct', 'in-progress') ->> 'status'; SELECT omnitask.set_task_status('$direct', 'completed') ->> 'status';");
is($o, "accepted\nin-progress\ncompleted", 'direct login: p2 accepts, starts and completes it');
($o, $s, $m) = psql_as('e2e_p1', "SELECT omnitask.read_task('$direct')");
is($s, 'PT404', 'direct login: p1 cannot read it');
($o, $s, $m) = psql_as('e2e_auditor', "SELECT count(*) FROM omnitask.tasks; SELECT omnitask.set_task_status('$direct', 'entered-in-error', 'x')");
is($s, '42501', 'direct login: the auditor reads but cannot write');
like($o, qr/^49$/m, 'direct login: the auditor sees all 49 tasks');
($o, $s, $m) = psql_as('e2e_p2', "SELECT omnitask.update_task('$direct', omnitask.read_task('$direct'), 1)");
is($s, 'PT412', 'direct login: stale if_match on update_task is PT412');

# --- clean up the cluster-wide roles
$db = 'postgres';
($o, $s, $m) = psql_as('postgres', <<'SQL');
DROP DATABASE omnitask_e2e;
DROP ROLE e2e_authenticator, e2e_p1, e2e_p2, e2e_admin, e2e_auditor;
SQL
is($s, undef, 'clean-up') or diag($m);

done_testing();
