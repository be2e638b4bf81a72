#!/usr/bin/perl
#
# 030_security.pl: role-scoped access over real, separate logins.
#
# sql/security.sql plays every role from one superuser session (SET SESSION
# AUTHORIZATION); here every request is its own psql process logged in as a
# LOGIN role, so session_user is that role and nothing is inherited from a
# superuser session.  In a database of its own (omnitask_sec_tap):
#
#   sec_t_admin   member of omnitask_admin
#   sec_t_pr1/2   members of omnitask_practitioner, registered as sec-p1/sec-p2
#   sec_t_pr3     registered as sec-p3, then deactivated
#   sec_t_unreg   member of omnitask_practitioner, never registered
#   sec_t_aud     member of omnitask_auditor
#   sec_t_nobody  no omnitask role
#   sec_authenticator  LOGIN NOINHERIT, member of the three group roles, set
#                 as omnitask.jwt_authenticator for the database (ALTER
#                 DATABASE ... SET): PostgREST's authenticator.  Each of its
#                 requests is exactly what PostgREST sends:
#                   BEGIN; SET LOCAL ROLE <role>;
#                   SELECT set_config('request.jwt.claims', '<claims>', true);
#                   <call>; COMMIT
#
# Checked: the legitimate path of each role; a practitioner cannot see or
# touch another's task through any function, table or view, cannot create
# for or reassign to someone else, cannot write derived columns, history,
# registry or workflow, cannot delete, cannot become someone else (SET ROLE,
# SET SESSION AUTHORIZATION, request.jwt.claims, the omnitask.* settings --
# also as placeholders set before the library is loaded); the auditor reads
# everything and writes nothing; a role without an omnitask role does
# nothing; an inactive or unregistered practitioner has no identity; the
# authenticator acts as the practitioner of the claims only, gains nothing
# from claims naming no active practitioner, and can do nothing as itself;
# a long-lived session loses its identity as soon as the practitioner is
# deactivated; NOTIFY payloads carry no clinical content.  Every refused
# attempt is checked by SQLSTATE, and batches of refused attempts by a
# fingerprint of every omnitask table (nothing changed).
#
# Environment (set by the Makefile under make installcheck): OMNITASK_TOP,
# PGBIN; the test runs a cluster of its own.

use strict;
use warnings;

use IPC::Run qw(run start pump finish timeout);
use PostgreSQL::Test::Cluster;
use Test::More;

my $TOP   = $ENV{OMNITASK_TOP}  or die "OMNITASK_TOP is not set\n";
# a cluster of its own, configured as the runner's (omnitask preloaded)
my $node = PostgreSQL::Test::Cluster->new('security');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'omnitask'\nmax_prepared_transactions = 10\n");
$node->start;
my $SOCK = $node->host;
my $PORT = $node->port;
my $PGBIN = $ENV{PGBIN} // '/usr/lib/postgresql/15/bin';
my $DB    = 'omnitask_sec_tap';
my $AUTH  = 'sec_authenticator';
my @ROLES = (qw(sec_t_admin sec_t_pr1 sec_t_pr2 sec_t_pr3 sec_t_unreg sec_t_aud sec_t_nobody), $AUTH);

delete $ENV{$_} for qw(PGOPTIONS PGDATABASE PGUSER PGHOST PGPORT PGSERVICE);

# ---------------------------------------------------------------------------
# Running SQL.
# ---------------------------------------------------------------------------

# One psql process (one login) running $sql as $role; returns rc, out, err
# and, for an error, its SQLSTATE and message.
sub psql_as
{
	my ($role, $sql, %opt) = @_;
	my @cmd = ("$PGBIN/psql", '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
			   '-v', 'VERBOSITY=verbose', '-h', $SOCK, '-p', $PORT, '-U', $role,
			   '-d', $opt{db} // $DB, '-f', '-');
	my ($in, $out, $err) = ($sql, '', '');
	local $ENV{PGOPTIONS} = $opt{pgoptions} if defined $opt{pgoptions};
	run(\@cmd, \$in, \$out, \$err, timeout(120));
	my $rc = $? >> 8;
	chomp $out;
	my ($state, $msg) = $err =~ /ERROR:\s+([0-9A-Z]{5}):\s+([^\n]*)/ ? ($1, $2) : (undef, undef);
	return { rc => $rc, out => $out, err => $err, state => $state, msg => $msg };
}

# The superuser, for set-up and for looking behind the policies.
sub su
{
	my ($sql, %opt) = @_;
	my $r = psql_as('postgres', $sql, %opt);
	die "superuser SQL failed: $r->{err}\n$sql\n" if $r->{rc} != 0;
	return $r->{out};
}

# One PostgREST request by the authenticator: a transaction that sets the
# role and the claims (local to the transaction), then runs $sql.
sub api
{
	my ($role, $claims, $sql) = @_;
	my $set = defined $claims
	  ? "SELECT set_config('request.jwt.claims', \$jwt\$$claims\$jwt\$, true) AS claims_set \\gset\n"
	  : '';
	return psql_as($AUTH, "BEGIN;\nSET LOCAL ROLE $role;\n$set$sql\nCOMMIT;\n");
}

# What a result shows: its output, or "ERROR <sqlstate>: <message>".
sub shown
{
	my ($r) = @_;
	return $r->{rc} == 0 ? $r->{out} : 'ERROR ' . ($r->{state} // '?') . ': ' . ($r->{msg} // $r->{err});
}

# $r succeeded with output $expected.
sub gives
{
	my ($r, $expected, $name) = @_;
	is(shown($r), $expected, $name);
}

# $r failed with SQLSTATE $state (and a message matching $re, if given).
sub refused
{
	my ($r, $state, $name, $re) = @_;
	my $got = $r->{rc} != 0 ? ($r->{state} // 'no SQLSTATE') : "succeeded with '$r->{out}'";
	if (defined $re && $r->{rc} != 0 && defined $r->{msg} && $r->{msg} !~ $re)
	{
		$got .= " ($r->{msg})";
		$state .= " (message like $re)";
	}
	is($got, $state, $name) or diag($r->{err});
}

# A hash of every row of every omnitask table, to show nothing changed.
sub fingerprint
{
	return su(q{SELECT md5(
		coalesce((SELECT string_agg(t::text, '|' ORDER BY t.id) FROM omnitask.task t), '') ||
		coalesce((SELECT string_agg(h::text, '|' ORDER BY h.id, h.version_id) FROM omnitask.task_history h), '') ||
		coalesce((SELECT string_agg(p::text, '|' ORDER BY p.id) FROM omnitask.practitioner p), '') ||
		coalesce((SELECT string_agg(w::text, '|') FROM omnitask.workflow_definition w), ''))});
}

# A valid task as SQL jsonb, with extra JSON members.
sub task
{
	my ($extra) = @_;
	my $t = '{"resourceType": "Task", "status": "requested", "intent": "order", '
	  . '"description": "sec: tap task", "for": {"reference": "Patient/sec-pat"}'
	  . (defined $extra ? ", $extra" : '') . '}';
	return "'$t'::jsonb";
}
sub owned { return task(qq{"owner": {"reference": "Practitioner/$_[0]"}}) }

# A long-lived psql session, for statements in the same connection.
sub session_open
{
	my ($role) = @_;
	my $s = { in => '', out => '', err => '' };
	$s->{h} = start(
		[ "$PGBIN/psql", '-X', '-q', '-A', '-t', '-v', 'VERBOSITY=verbose', '-h', $SOCK, '-p', $PORT,
		  '-U', $role, '-d', $DB, '-f', '-' ],
		\$s->{in}, \$s->{out}, \$s->{err}, timeout(120));
	return $s;
}
sub session_q
{
	my ($s, $sql) = @_;
	$s->{out} = '';
	$s->{err} = '';
	$s->{in} .= "$sql\n\\echo __sec_done__\n";
	pump $s->{h} until $s->{out} =~ /__sec_done__\n/;
	(my $out = $s->{out}) =~ s/__sec_done__\n//;
	chomp $out;
	return $out;
}
sub session_close
{
	my ($s) = @_;
	$s->{in} .= "\\q\n";
	finish $s->{h};
}

# ---------------------------------------------------------------------------
# Set-up: the database, the roles, the registry, the tasks.
# ---------------------------------------------------------------------------

sub drop_all
{
	su("DROP DATABASE IF EXISTS $DB WITH (FORCE)", db => 'postgres');
	su(join('', map { "DROP ROLE IF EXISTS $_;\n" } @ROLES), db => 'postgres');
}
drop_all();
my $PRELOADED = su('SHOW shared_preload_libraries', db => 'postgres') =~ /\bomnitask\b/;
note('omnitask is ' . ($PRELOADED ? '' : 'not ') . 'in shared_preload_libraries');
END { local $?; eval { drop_all() }; }

# the extension first: it creates the omnitask_* group roles the logins join
su("CREATE DATABASE $DB", db => 'postgres');
su('CREATE EXTENSION omnitask');
su(<<"SQL", db => 'postgres');
CREATE ROLE sec_t_admin LOGIN IN ROLE omnitask_admin;
CREATE ROLE sec_t_pr1 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE sec_t_pr2 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE sec_t_pr3 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE sec_t_unreg LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE sec_t_aud LOGIN IN ROLE omnitask_auditor;
CREATE ROLE sec_t_nobody LOGIN;
CREATE ROLE $AUTH LOGIN NOINHERIT IN ROLE omnitask_admin, omnitask_practitioner, omnitask_auditor;
ALTER DATABASE $DB SET omnitask.jwt_authenticator = '$AUTH';
SQL

# the admin registers the practitioners and imports tasks with known ids
gives(psql_as('sec_t_admin', <<'SQL'), "t\nt\nt", 'admin registers practitioners');
SELECT true FROM omnitask.register_practitioner('sec_t_pr1', 'sec-p1', 'Dr. One');
SELECT true FROM omnitask.register_practitioner('sec_t_pr2', 'sec-p2', 'Dr. Two');
SELECT true FROM omnitask.register_practitioner('sec_t_pr3', 'sec-p3', 'Dr. Three');
SQL
gives(psql_as('sec_t_admin', join('',
	"SELECT omnitask.import_task(" . task('"id": "sec-a1", "owner": {"reference": "Practitioner/sec-p1"}') . ") ->> 'id';\n",
	"SELECT omnitask.import_task(" . task('"id": "sec-a2", "owner": {"reference": "Practitioner/sec-p2"}, "description": "sec: SECRET"') . ") ->> 'id';\n",
	"SELECT omnitask.import_task(" . task('"id": "sec-a3", "owner": {"reference": "Practitioner/sec-p3"}') . ") ->> 'id';\n",
	"SELECT omnitask.import_task(" . task('"id": "sec-a4", "owner": {"reference": "Practitioner/sec-p3"}') . ") ->> 'id';\n",
	"SELECT omnitask.import_task(" . task('"id": "sec-a0"') . ") ->> 'id';\n")),
	"sec-a1\nsec-a2\nsec-a3\nsec-a4\nsec-a0", 'admin imports tasks keeping their ids');

# the admin creates for sec-p1 and for sec-p2 (server-assigned ids)
my $r = psql_as('sec_t_admin', "SELECT r ->> 'id', r -> 'owner' ->> 'reference' FROM (SELECT omnitask.create_task(" . owned('sec-p1') . ") AS r) s;");
like(shown($r), qr{^[0-9a-f-]{36}\|Practitioner/sec-p1$}, 'admin creates a task for sec-p1');
my ($p1_created) = split /\|/, $r->{out};
$r = psql_as('sec_t_admin', "SELECT r ->> 'id', r -> 'owner' ->> 'reference' FROM (SELECT omnitask.create_task(" . owned('sec-p2') . ") AS r) s;");
like(shown($r), qr{^[0-9a-f-]{36}\|Practitioner/sec-p2$}, 'admin creates a task for sec-p2');
my ($p2_created) = split /\|/, $r->{out};
$p2_created //= 'none';
gives(psql_as('sec_t_admin', "SELECT omnitask.set_task_status('sec-a2', 'accepted') ->> 'status';"),
	'accepted', 'admin moves sec-a2 along');
gives(psql_as('sec_t_admin', "SELECT count(*) FROM omnitask.task WHERE patient_id = 'sec-pat';"),
	'7', 'admin sees every task');

# ---------------------------------------------------------------------------
# A practitioner's own path, over a direct login.
# ---------------------------------------------------------------------------

gives(psql_as('sec_t_pr1', 'SELECT session_user, current_user, omnitask.current_practitioner_id();'),
	'sec_t_pr1|sec_t_pr1|sec-p1', 'a direct login is its registered practitioner');
gives(psql_as('sec_t_pr1', "SELECT r -> 'owner' ->> 'reference', r -> 'requester' ->> 'reference' FROM (SELECT omnitask.create_task(" . task() . ") AS r) s;"),
	'Practitioner/sec-p1|Practitioner/sec-p1', 'practitioner creates: owner and requester default to self');
gives(psql_as('sec_t_pr1', "SELECT count(*), count(*) FILTER (WHERE owner_id = 'sec-p1') FROM omnitask.tasks;"),
	'3|3', 'practitioner lists exactly their own tasks (sec-a1, one created by the admin, one by themselves)');
gives(psql_as('sec_t_pr1', "SELECT omnitask.update_task('sec-a1', omnitask.read_task('sec-a1') || '{\"description\": \"sec: mine\"}', 1) -> 'meta' ->> 'versionId';"),
	'2', 'practitioner updates their task');
gives(psql_as('sec_t_pr1', "SELECT omnitask.set_task_status('sec-a1', 'accepted') ->> 'status'; SELECT omnitask.set_task_status('sec-a1', 'in-progress') ->> 'status';"),
	"accepted\nin-progress", 'practitioner moves their task along');
gives(psql_as('sec_t_pr1', "SELECT omnitask.task_history('sec-a1') ->> 'total', omnitask.search_tasks() ->> 'total';"),
	'4|3', 'practitioner reads their history and searches their tasks');

# ---------------------------------------------------------------------------
# sec_t_pr1 against sec-p2's tasks and against the rules.
# ---------------------------------------------------------------------------

my $fp = fingerprint();
for my $id ('sec-a2', $p2_created, 'sec-a0', 'sec-a3')
{
	my %calls = (
		read_task       => "SELECT omnitask.read_task('$id');",
		update_task     => "SELECT omnitask.update_task('$id', " . owned('sec-p1') . ");",
		update_if_match => "SELECT omnitask.update_task('$id', " . owned('sec-p1') . ", 42);",
		set_task_status => "SELECT omnitask.set_task_status('$id', 'cancelled', 'mine now');",
		task_history    => "SELECT omnitask.task_history('$id');");
	for my $f (sort keys %calls)
	{
		refused(psql_as('sec_t_pr1', $calls{$f}), 'PT404', "practitioner: $f of a task not theirs ($id) is not found",
			qr{^task "\Q$id\E" does not exist$});
	}
}
refused(psql_as('sec_t_pr1', "SELECT omnitask.read_task('sec-no-such-task');"), 'PT404',
	'a missing task is reported the same way', qr{^task "sec-no-such-task" does not exist$});
gives(psql_as('sec_t_pr1', <<"SQL"), '0|0|0|0|0|0|0|0|0', 'practitioner: no table, view or search shows others\' tasks');
SELECT (SELECT count(*) FROM omnitask.task WHERE owner_id IS DISTINCT FROM 'sec-p1'),
	   (SELECT count(*) FROM omnitask.task_history WHERE owner_id IS DISTINCT FROM 'sec-p1' OR id IN ('sec-a2', '$p2_created')),
	   (SELECT count(*) FROM omnitask.tasks WHERE owner_id IS DISTINCT FROM 'sec-p1'),
	   (SELECT count(*) FROM omnitask.workload WHERE owner_id IS DISTINCT FROM 'sec-p1'),
	   (SELECT count(*) FROM omnitask.overdue_tasks WHERE owner_id IS DISTINCT FROM 'sec-p1'),
	   (SELECT count(*) FROM omnitask.status_changes WHERE id IN ('sec-a2', '$p2_created')),
	   (SELECT coalesce(sum(n), 0) FROM omnitask.task_counts) - (SELECT count(*) FROM omnitask.task WHERE owner_id = 'sec-p1'),
	   (SELECT coalesce(sum(accepted), 0) - 1 FROM omnitask.turnaround),
	   (omnitask.search_tasks(owner => 'sec-p2') ->> 'total')::int;
SQL
# parallel workers (the leader taking no part) apply the policy too
my $parallel = "SET parallel_leader_participation = off; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
  . "SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2; "
  # force_parallel_mode became debug_parallel_query in PostgreSQL 16
  . "DO \$\$ BEGIN PERFORM set_config('force_parallel_mode', 'on', false); "
  . "EXCEPTION WHEN undefined_object THEN PERFORM set_config('debug_parallel_query', 'on', false); END \$\$;\n";
gives(psql_as('sec_t_pr1', "${parallel}SELECT count(*), count(*) FILTER (WHERE owner_id IS DISTINCT FROM 'sec-p1') FROM omnitask.task;"),
	'3|0', 'practitioner: a parallel query sees their own tasks only');
gives(psql_as('sec_t_pr1', "${parallel}SELECT count(*) FILTER (WHERE owner_id IS DISTINCT FROM 'sec-p1') FROM omnitask.task_history;"),
	'0', 'practitioner: a parallel query of the history sees their own versions only');
gives(psql_as('sec_t_pr1', "UPDATE omnitask.task SET resource = resource WHERE id = 'sec-a2' OR owner_id = 'sec-p2';"),
	'', 'practitioner: a plain UPDATE of others\' tasks touches no row');
refused(psql_as('sec_t_pr1', "SELECT omnitask.create_task(" . owned('sec-p2') . ");"), '42501', 'practitioner cannot create for another');
refused(psql_as('sec_t_pr1', "INSERT INTO omnitask.task (resource) VALUES (" . owned('sec-p2') . ");"), '42501', 'practitioner cannot insert for another');
refused(psql_as('sec_t_pr1', "SELECT omnitask.update_task('sec-a1', omnitask.read_task('sec-a1') || '{\"owner\": {\"reference\": \"Practitioner/sec-p2\"}}');"),
	'42501', 'practitioner cannot reassign their task', qr/reassign/);
refused(psql_as('sec_t_pr1', "UPDATE omnitask.task SET resource = resource - 'owner' WHERE id = 'sec-a1';"),
	'42501', 'practitioner cannot unassign their task');
refused(psql_as('sec_t_pr1', "UPDATE omnitask.task SET owner_id = 'sec-p2' WHERE id = 'sec-a1';"), '42501', 'practitioner cannot write owner_id');
refused(psql_as('sec_t_pr1', "UPDATE omnitask.task SET owner_id = 'sec-p1' WHERE id = 'sec-a2';"), '42501', 'practitioner cannot take owner_id');
refused(psql_as('sec_t_pr1', "INSERT INTO omnitask.task (resource, owner_id) VALUES (" . task() . ", 'sec-p2');"), '42501', 'practitioner cannot insert owner_id');
refused(psql_as('sec_t_pr1', "INSERT INTO omnitask.task_history SELECT * FROM omnitask.task_history WHERE id = 'sec-a1' LIMIT 1;"), '42501', 'practitioner cannot insert history');
refused(psql_as('sec_t_pr1', "UPDATE omnitask.task_history SET status = 'completed' WHERE id = 'sec-a1';"), '42501', 'practitioner cannot update history');
refused(psql_as('sec_t_pr1', "DELETE FROM omnitask.task_history WHERE id = 'sec-a1';"), '42501', 'practitioner cannot delete history');
refused(psql_as('sec_t_pr1', "DELETE FROM omnitask.task WHERE id = 'sec-a1';"), '42501', 'practitioner cannot delete their task');
refused(psql_as('sec_t_pr1', "TRUNCATE omnitask.task;"), '42501', 'practitioner cannot truncate');
refused(psql_as('sec_t_pr1', "SELECT omnitask.import_task(" . task('"id": "sec-x1"') . ");"), '42501', 'practitioner cannot import');
refused(psql_as('sec_t_pr1', "SELECT omnitask.register_practitioner('sec_t_unreg', 'sec-x');"), '42501', 'practitioner cannot register');
refused(psql_as('sec_t_pr1', "SELECT omnitask.set_workflow(omnitask.default_workflow());"), '42501', 'practitioner cannot set the workflow');
refused(psql_as('sec_t_pr1', "SELECT count(*) FROM omnitask.verify();"), '42501', 'practitioner cannot run verify() (admins and auditors only)');
refused(psql_as('sec_t_pr1', "SELECT omnitask.task_row_problem(t) FROM omnitask.task t;"), '42501', 'practitioner cannot run task_row_problem()');
refused(psql_as('sec_t_pr1', "UPDATE omnitask.practitioner SET role_name = 'sec_t_pr1' WHERE id = 'sec-p2';"), '42501', 'practitioner cannot write the registry');
refused(psql_as('sec_t_pr1', "INSERT INTO omnitask.workflow_definition (definition) VALUES (omnitask.default_workflow());"), '42501', 'practitioner cannot write the workflow table');
refused(psql_as('sec_t_pr1', "SET row_security = off; SELECT count(*) FROM omnitask.task;"), '42501', 'practitioner cannot switch row security off');
refused(psql_as('sec_t_pr1', "ALTER TABLE omnitask.task DISABLE ROW LEVEL SECURITY;"), '42501', 'practitioner cannot disable row security');
is(fingerprint(), $fp, 'nothing changed after the practitioner\'s attempts');

# ---------------------------------------------------------------------------
# Becoming someone else, over direct logins.
# ---------------------------------------------------------------------------

$fp = fingerprint();
refused(psql_as('sec_t_pr1', 'SET ROLE sec_t_pr2;'), '42501', 'practitioner cannot SET ROLE to another practitioner');
refused(psql_as('sec_t_pr1', 'SET ROLE omnitask_admin;'), '42501', 'practitioner cannot SET ROLE omnitask_admin');
refused(psql_as('sec_t_pr1', 'SET SESSION AUTHORIZATION sec_t_pr2;'), '42501', 'practitioner cannot SET SESSION AUTHORIZATION');
gives(psql_as('sec_t_pr1', "SET ROLE omnitask_practitioner; SELECT current_user, omnitask.current_practitioner_id(), (SELECT count(*) FROM omnitask.task WHERE owner_id IS DISTINCT FROM 'sec-p1');"),
	'omnitask_practitioner|sec-p1|0', 'SET ROLE omnitask_practitioner keeps the identity of the login');
gives(psql_as('sec_t_pr2', "SELECT set_config('request.jwt.claims', '{\"sub\": \"sec-p1\", \"role\": \"omnitask_practitioner\"}', false) IS NOT NULL; "
		. "SELECT omnitask.current_practitioner_id(), (SELECT count(*) FROM omnitask.task WHERE owner_id = 'sec-p1');"),
	"t\nsec-p2|0", 'sec_t_pr2 setting sec-p1\'s claims stays sec-p2 and sees none of sec-p1\'s tasks');
refused(psql_as('sec_t_pr2', "SELECT set_config('request.jwt.claims', '{\"sub\": \"sec-p1\"}', false); SELECT omnitask.read_task('sec-a1');"),
	'PT404', 'sec_t_pr2 with sec-p1\'s claims cannot read sec-p1\'s task');
gives(psql_as('sec_t_unreg', "SELECT set_config('request.jwt.claims', '{\"sub\": \"sec-p1\"}', false) IS NOT NULL; SELECT omnitask.current_practitioner_id() IS NULL, count(*) FROM omnitask.task;"),
	"t\nt|0", 'an unregistered practitioner login gains nothing from claims');
refused(psql_as('sec_t_unreg', "SELECT set_config('request.jwt.claims', '{\"sub\": \"sec-p1\"}', false); SELECT omnitask.create_task(" . task() . ");"),
	'42501', 'an unregistered practitioner login cannot create, even with claims');
# (once the library is loaded; before, see the placeholder checks below)
my $loaded = "SELECT omnitask.current_practitioner_id() AS loaded \\gset\n";
refused(psql_as('sec_t_pr1', "${loaded}SET omnitask.jwt_authenticator = 'sec_t_pr1';"), '42501', 'practitioner cannot set omnitask.jwt_authenticator');
refused(psql_as('sec_t_pr1', "${loaded}SELECT set_config('omnitask.jwt_authenticator', 'sec_t_pr1', false);"), '42501', 'practitioner cannot set_config omnitask.jwt_authenticator');
refused(psql_as('sec_t_pr1', "${loaded}SET omnitask.jwt_practitioner_claim = 'role';"), '42501', 'practitioner cannot set omnitask.jwt_practitioner_claim');
refused(psql_as('sec_t_pr1', "ALTER ROLE sec_t_pr1 SET omnitask.jwt_authenticator = 'sec_t_pr1';"), '42501', 'practitioner cannot ALTER ROLE ... SET the authenticator');
# a placeholder set before the library is loaded must not count either
# (with omnitask in shared_preload_libraries, as on the test cluster, the
# library is always loaded and the setting is refused at once)
$r = psql_as('sec_t_unreg', "SET omnitask.jwt_authenticator = 'sec_t_unreg';\nSET omnitask.jwt_practitioner_claim = 'sub';\n"
		. "SELECT set_config('request.jwt.claims', '{\"sub\": \"sec-p1\"}', false) IS NOT NULL;\n"
		. "SELECT omnitask.current_practitioner_id() IS NULL, count(*) FROM omnitask.task;");
if ($PRELOADED)
{
	refused($r, '42501', 'the authenticator setting is refused before any omnitask call (preloaded)',
		qr/permission denied to set parameter "omnitask.jwt_authenticator"/);
}
else
{
	gives($r, "t\nt|0", 'the authenticator setting as a placeholder before the library loads gives no identity');
}
$r = psql_as('sec_t_unreg', "SELECT omnitask.current_practitioner_id() IS NULL, count(*) FROM omnitask.task;",
		pgoptions => "-c omnitask.jwt_authenticator=sec_t_unreg -c request.jwt.claims={\"sub\":\"sec-p1\"}");
if ($PRELOADED)
{
	like($r->{err}, qr/FATAL:  permission denied to set parameter "omnitask.jwt_authenticator"/,
		'the authenticator setting given at connection (PGOPTIONS) is refused (preloaded)');
}
else
{
	gives($r, 't|0', 'the authenticator setting given at connection (PGOPTIONS) gives no identity');
}
is(fingerprint(), $fp, 'nothing changed after the attempts to become someone else');

# ---------------------------------------------------------------------------
# Auditor, nobody, inactive practitioner.
# ---------------------------------------------------------------------------

$fp = fingerprint();
gives(psql_as('sec_t_aud', "SELECT count(*), count(DISTINCT owner_id) FROM omnitask.task WHERE patient_id = 'sec-pat'; "
		. "SELECT omnitask.read_task('sec-a2') ->> 'description', omnitask.task_history('sec-a2') ->> 'total';"),
	"8|3\nsec: SECRET|2", 'auditor reads every task and history');
gives(psql_as('sec_t_aud', "SELECT count(*) FROM omnitask.verify();"), '0', 'auditor runs verify(): the data is consistent');
refused(psql_as('sec_t_aud', "SELECT omnitask.create_task(" . task() . ");"), '42501', 'auditor cannot create_task');
refused(psql_as('sec_t_aud', "SELECT omnitask.update_task('sec-a2', omnitask.read_task('sec-a2'));"), '42501', 'auditor cannot update_task');
refused(psql_as('sec_t_aud', "SELECT omnitask.set_task_status('sec-a2', 'in-progress');"), '42501', 'auditor cannot set_task_status');
refused(psql_as('sec_t_aud', "INSERT INTO omnitask.task (resource) VALUES (" . task() . ");"), '42501', 'auditor cannot INSERT');
refused(psql_as('sec_t_aud', "UPDATE omnitask.task SET resource = resource WHERE id = 'sec-a2';"), '42501', 'auditor cannot UPDATE');
refused(psql_as('sec_t_aud', "DELETE FROM omnitask.task WHERE id = 'sec-a2';"), '42501', 'auditor cannot DELETE');
refused(psql_as('sec_t_aud', "SELECT omnitask.import_task(" . task('"id": "sec-x2"') . ");"), '42501', 'auditor cannot import');
refused(psql_as('sec_t_nobody', "SELECT omnitask.read_task('sec-a2');"), '42501', 'no omnitask role: read_task refused');
refused(psql_as('sec_t_nobody', "SELECT count(*) FROM omnitask.task;"), '42501', 'no omnitask role: SELECT refused');
refused(psql_as('sec_t_nobody', "SELECT omnitask.create_task(" . task() . ");"), '42501', 'no omnitask role: create_task refused');
refused(psql_as('sec_t_nobody', "SET ROLE omnitask_practitioner;"), '42501', 'no omnitask role: SET ROLE refused');
is(fingerprint(), $fp, 'nothing changed after the auditor\'s and nobody\'s attempts');

gives(psql_as('sec_t_pr3', "SELECT omnitask.current_practitioner_id(), count(*) FROM omnitask.task;"),
	'sec-p3|2', 'sec-p3, still active, sees their two tasks');
gives(psql_as('sec_t_admin', "UPDATE omnitask.practitioner SET active = false WHERE id = 'sec-p3';"), '', 'admin deactivates sec-p3');
$fp = fingerprint();
gives(psql_as('sec_t_pr3', "SELECT omnitask.current_practitioner_id() IS NULL, count(*) FROM omnitask.task;"),
	't|0', 'an inactive practitioner has no identity and sees nothing');
refused(psql_as('sec_t_pr3', "SELECT omnitask.read_task('sec-a3');"), 'PT404', 'an inactive practitioner cannot read a task once theirs');
refused(psql_as('sec_t_pr3', "SELECT omnitask.create_task(" . task() . ");"), '42501', 'an inactive practitioner cannot create');
refused(psql_as('sec_t_admin', "SELECT omnitask.create_task(" . owned('sec-p3') . ");"), '23514', 'admin cannot assign to an inactive practitioner', qr/Task\.owner/);
refused(psql_as('sec_t_admin', "SELECT omnitask.create_task(" . owned('sec-ghost') . ");"), '23514', 'admin cannot assign to an unknown practitioner', qr/Task\.owner/);
is(fingerprint(), $fp, 'nothing changed after the inactive practitioner\'s attempts');
gives(psql_as('sec_t_admin', "SELECT omnitask.create_task(" . task() . ") ->> 'owner' IS NULL;"), 't', 'admin may leave a task unassigned');
gives(psql_as('sec_t_admin', "SELECT omnitask.update_task('sec-a3', omnitask.read_task('sec-a3') || '{\"owner\": {\"reference\": \"Practitioner/sec-p1\"}}') -> 'owner' ->> 'reference';"),
	'Practitioner/sec-p1', 'admin reassigns an inactive practitioner\'s task to an active one');
gives(psql_as('sec_t_admin', "SELECT omnitask.set_task_status('sec-a4', 'cancelled', 'left') ->> 'status';"),
	'cancelled', 'admin cancels a task still owned by the inactive practitioner');

# ---------------------------------------------------------------------------
# The PostgREST authenticator.
# ---------------------------------------------------------------------------

my $P1 = '{"sub": "sec-p1", "role": "omnitask_practitioner"}';
$fp = fingerprint();
refused(psql_as($AUTH, "SELECT count(*) FROM omnitask.task;"), '42501', 'the authenticator as itself cannot read tasks');
refused(psql_as($AUTH, "SELECT set_config('request.jwt.claims', '$P1', false); SELECT omnitask.read_task('sec-a1');"),
	'42501', 'the authenticator as itself cannot read tasks, even with claims');
refused(psql_as($AUTH, "SELECT omnitask.create_task(" . task() . ");"), '42501', 'the authenticator as itself cannot create');
refused(api('sec_t_pr2', $P1, "SELECT 1;"), '42501', 'the authenticator cannot SET ROLE to a login it is not a member of');
is(fingerprint(), $fp, 'nothing changed after the authenticator\'s own attempts');

gives(api('omnitask_practitioner', $P1,
		"SELECT current_user, omnitask.current_practitioner_id(), count(*) FILTER (WHERE owner_id = 'sec-p1'), count(*) FILTER (WHERE owner_id IS DISTINCT FROM 'sec-p1') FROM omnitask.task;"),
	'omnitask_practitioner|sec-p1|4|0', 'a request with sec-p1\'s claims acts as sec-p1 and sees only their tasks');
gives(api('omnitask_practitioner', $P1, "${parallel}SELECT count(*), count(*) FILTER (WHERE owner_id IS DISTINCT FROM 'sec-p1') FROM omnitask.task;"),
	'4|0', 'a sec-p1 request: parallel workers apply the claims\' identity too');
refused(api('omnitask_practitioner', $P1, "SELECT omnitask.read_task('sec-a2');"), 'PT404', 'a sec-p1 request cannot read sec-p2\'s task');
refused(api('omnitask_practitioner', $P1, "SELECT omnitask.set_task_status('sec-a2', 'in-progress');"), 'PT404', 'a sec-p1 request cannot change sec-p2\'s task');
refused(api('omnitask_practitioner', $P1, "SELECT omnitask.create_task(" . owned('sec-p2') . ");"), '42501', 'a sec-p1 request cannot create for sec-p2');
$r = api('omnitask_practitioner', $P1, "SELECT r ->> 'id', r -> 'owner' ->> 'reference', r -> 'requester' ->> 'reference' FROM (SELECT omnitask.create_task(" . task() . ") AS r) s;");
like(shown($r), qr{^[0-9a-f-]{36}\|Practitioner/sec-p1\|Practitioner/sec-p1$}, 'a sec-p1 request creates a task owned and requested by sec-p1');
my ($api_task) = split /\|/, $r->{out};
$api_task //= 'none';
is(su("SELECT recorded_by || '|' || practitioner_id FROM omnitask.task_history WHERE id = '$api_task';"),
	'omnitask_practitioner|sec-p1', 'its history records the role and sec-p1');
gives(api('omnitask_practitioner', '{"sub": "sec-p2", "role": "omnitask_practitioner"}',
		"SELECT omnitask.current_practitioner_id(), count(*) FILTER (WHERE id = 'sec-a2'), count(*) FILTER (WHERE owner_id = 'sec-p1') FROM omnitask.task;"),
	'sec-p2|1|0', 'a request with sec-p2\'s claims acts as sec-p2');

$fp = fingerprint();
my %no_identity = (
	'unknown practitioner'              => '{"sub": "sec-ghost", "role": "omnitask_practitioner"}',
	'inactive practitioner'             => '{"sub": "sec-p3", "role": "omnitask_practitioner"}',
	'a login role name as sub'          => '{"sub": "sec_t_pr1", "role": "omnitask_practitioner"}',
	'no sub'                            => '{"role": "omnitask_practitioner"}',
	'a non-string sub'                  => '{"sub": ["sec-p1"], "role": "omnitask_practitioner"}',
	'a sub with a NUL after a real id'  => '{"sub": "sec-p1\u0000.evil", "role": "omnitask_practitioner"}',
	'malformed claims'                  => '{"sub": "sec-p1"} trailing garbage',
	'no claims at all'                  => undef);
for my $case (sort keys %no_identity)
{
	gives(api('omnitask_practitioner', $no_identity{$case},
			"SELECT coalesce(omnitask.current_practitioner_id(), 'none'), count(*) FROM omnitask.task;"),
		'none|0', "claims with $case: no identity, nothing visible");
	refused(api('omnitask_practitioner', $no_identity{$case}, "SELECT omnitask.create_task(" . task() . ");"),
		'42501', "claims with $case: create refused");
}
is(fingerprint(), $fp, 'nothing changed by requests without an identity');

# the authenticator is shared by every PostgREST user: it is never a
# practitioner itself, even when a registry row names it
my $reg = psql_as('sec_t_admin', "SELECT omnitask.register_practitioner('$AUTH', 'sec-auth');");
ok($reg->{rc} != 0, 'registering the authenticator as a practitioner is refused') or diag('it was registered');
su("DELETE FROM omnitask.practitioner WHERE id = 'sec-auth';");
gives(psql_as('sec_t_admin', "INSERT INTO omnitask.practitioner (id, role_name) VALUES ('sec-auth', '$AUTH');"), '',
	'admin writes a registry row naming the authenticator');
gives(api('omnitask_practitioner', '{"sub": "sec-ghost"}', "SELECT coalesce(omnitask.current_practitioner_id(), 'none');"), 'none',
	'a registry row naming the authenticator gives no identity to a request whose claims name nobody');
gives(api('omnitask_practitioner', $P1, "SELECT coalesce(omnitask.current_practitioner_id(), 'none');"), 'sec-p1',
	'nor overrides the identity of the claims');
su("DELETE FROM omnitask.practitioner WHERE id = 'sec-auth';");

# the auditor and the admin through the authenticator
$fp = fingerprint();
gives(api('omnitask_auditor', '{"sub": "sec-p1", "role": "omnitask_auditor"}',
		"SELECT count(*) = (SELECT count(*) FROM omnitask.task_history WHERE version_id = 1) FROM omnitask.task; SELECT omnitask.read_task('sec-a2') ->> 'id';"),
	"t\nsec-a2", 'an auditor request reads everything');
refused(api('omnitask_auditor', '{"role": "omnitask_auditor"}', "SELECT omnitask.create_task(" . task() . ");"), '42501', 'an auditor request cannot create');
refused(api('omnitask_auditor', '{"role": "omnitask_auditor"}', "SELECT omnitask.set_task_status('sec-a2', 'in-progress');"), '42501', 'an auditor request cannot change status');
refused(api('omnitask_auditor', '{"role": "omnitask_auditor"}', "UPDATE omnitask.task SET resource = resource;"), '42501', 'an auditor request cannot UPDATE');
refused(api('omnitask_auditor', '{"sub": "sec-p1", "role": "omnitask_auditor"}', "SELECT omnitask.update_task('sec-a1', omnitask.read_task('sec-a1'));"),
	'42501', 'an auditor request with a practitioner\'s sub still cannot write');
is(fingerprint(), $fp, 'nothing changed by the auditor\'s requests');
gives(api('omnitask_admin', '{"role": "omnitask_admin"}', "SELECT count(*) = (SELECT count(*) FROM omnitask.task_history WHERE version_id = 1) FROM omnitask.task;"),
	't', 'an admin request sees everything');

# PostgREST reuses its connections: successive requests on one connection
# must each get the identity of their own claims
gives(psql_as($AUTH, join('', map {
		my ($sub) = $_;
		"BEGIN; SET LOCAL ROLE omnitask_practitioner;\n"
		  . "SELECT set_config('request.jwt.claims', '{\"sub\": \"$sub\"}', true) AS c \\gset\n"
		  . "SELECT coalesce(omnitask.current_practitioner_id(), 'none') || ':' || count(*) FILTER (WHERE id = 'sec-a2') FROM omnitask.task;\n"
		  . "COMMIT;\n" } qw(sec-p1 sec-p2 sec-ghost sec-p1 sec-p2))),
	"sec-p1:0\nsec-p2:1\nnone:0\nsec-p1:0\nsec-p2:1", 'successive requests on one connection each get their own identity');

# ---------------------------------------------------------------------------
# A long-lived session loses its identity as soon as it is deactivated.
# ---------------------------------------------------------------------------

my $s = session_open('sec_t_pr1');
is(session_q($s, "SELECT omnitask.current_practitioner_id(), count(*) > 0 FROM omnitask.task;"), 'sec-p1|t',
	'a sec-p1 session sees its tasks');
psql_as('sec_t_admin', "UPDATE omnitask.practitioner SET active = false WHERE id = 'sec-p1';");
is(session_q($s, "SELECT omnitask.current_practitioner_id() IS NULL, count(*) FROM omnitask.task;"), 't|0',
	'the same session sees nothing once sec-p1 is deactivated');
is(session_q($s, "BEGIN; SELECT omnitask.current_practitioner_id() IS NULL; SELECT count(*) FROM omnitask.task; COMMIT;"), "t\n0",
	'nor in a new transaction');
psql_as('sec_t_admin', "SELECT omnitask.register_practitioner('sec_t_pr1', 'sec-p1', 'Dr. One');");
is(session_q($s, "SELECT omnitask.current_practitioner_id(), count(*) > 0 FROM omnitask.task;"), 'sec-p1|t',
	'and sees again once re-activated');
session_close($s);

# ---------------------------------------------------------------------------
# NOTIFY: no clinical content in the payload.
# ---------------------------------------------------------------------------

# With omnitask preloaded the notification comes from the relay a moment
# after the commit: poll until it is heard (or 10 s).
sub heard_until
{
	my ($s, $re) = @_;
	my $heard = '';
	for (1 .. 100)
	{
		$heard .= session_q($s, 'SELECT 1;') . "\n";
		last if $heard =~ $re;
		select(undef, undef, undef, 0.1);
	}
	return $heard;
}

$s = session_open('sec_t_nobody');
session_q($s, 'LISTEN omnitask_task;');
psql_as('sec_t_admin', "SELECT omnitask.create_task(" . task('"owner": {"reference": "Practitioner/sec-p2"}, "description": "sec: NOTIFY-SECRET"') . ");");
my $heard = heard_until($s, qr/Asynchronous notification/);
session_close($s);
my ($payload) = $heard =~ /with payload "(.*)" received/;
ok(defined $payload, 'a listener receives the change notification') or diag($heard);
$payload //= '';
unlike($payload, qr/NOTIFY-SECRET|sec-pat|Patient|sec-p2|requested|owner|status/,
	'the payload carries no clinical content, no owner and no status');
like($payload, qr/^\{"id": "[0-9a-f-]{36}", "version": 1\}$/,
	'the payload is exactly id and version');

# omnitask.notify = off (superuser-only) sends nothing; a non-superuser cannot turn it off
$s = session_open('sec_t_nobody');
session_q($s, 'LISTEN omnitask_task;');
my $quiet_id = psql_as('postgres', "SET omnitask.notify = off; SELECT omnitask.create_task(" . task('"owner": {"reference": "Practitioner/sec-p1"}') . ") ->> 'id';")->{out};
like($quiet_id, qr/^[0-9a-f-]{36}$/, 'a change with omnitask.notify = off is stored');
# a later change with notify on: notifications arrive in commit order, so
# once this one is heard, one for the change before it would have been too
my $loud_id = psql_as('postgres', "SELECT omnitask.create_task(" . task('"owner": {"reference": "Practitioner/sec-p2"}') . ") ->> 'id';")->{out};
$heard = heard_until($s, qr/\Q$loud_id\E/);
session_close($s);
like($heard, qr/\Q$loud_id\E/, 'the later change with notify on is heard');
unlike($heard, qr/\Q$quiet_id\E/, 'with omnitask.notify = off no notification is sent');
is(psql_as('sec_t_admin', 'SELECT omnitask.workflow() IS NOT NULL; SET omnitask.notify = off;')->{state}, '42501',
	'only a superuser may turn omnitask.notify off');
$r = psql_as('sec_t_admin', 'SET omnitask.notify = off; SELECT omnitask.workflow() IS NOT NULL; SHOW omnitask.notify;');
if ($PRELOADED)
{
	is($r->{state}, '42501', '... not even before any omnitask call (preloaded: refused at once)');
}
else
{
	is($r->{out}, "t\non", '... not even by setting it before the library is loaded');
}

# ---------------------------------------------------------------------------
# Side channels around row-level security (issue 11).
# ---------------------------------------------------------------------------

# sec-p2's hidden PHI: 40 tasks of one patient with one description, code
# and requester; then statistics are gathered as an operator would.
su(q{SELECT count(omnitask.create_task(('{"resourceType": "Task", "status": "requested", "intent": "order", '
	|| '"description": "HIV PrEP follow-up", "for": {"reference": "Patient/sec-hiv-pat"}, '
	|| '"code": {"coding": [{"system": "https://omnitask.dev/fhir/CodeSystem/care-task-category", "code": "lab-follow-up"}]}, '
	|| '"requester": {"reference": "Practitioner/sec-p2"}, "owner": {"reference": "Practitioner/sec-p2"}, '
	|| '"restriction": {"period": {"end": "2026-01-0' || (g % 9 + 1) || 'T00:00:00Z"}}}')::jsonb))
	FROM generate_series(1, 40) g;
ANALYZE omnitask.task; ANALYZE omnitask.task_history;});

# The planner's row estimate of a query, as the role sees it.
sub estimate
{
	my ($role, $sql) = @_;
	my $r = psql_as($role, "EXPLAIN $sql");
	return $r->{rc} == 0 && $r->{out} =~ /rows=(\d+)/ ? $1 : shown($r);
}

# 1. planner statistics: a hidden value and an absent one estimate the same
for my $probe (
	[ 'description', q{description = 'HIV PrEP follow-up'}, q{description = 'sec: no such description'} ],
	[ 'patient_id', q{patient_id = 'sec-hiv-pat'}, q{patient_id = 'sec-no-such-patient'} ],
	[ 'requester', q{requester = 'Practitioner/sec-p2'}, q{requester = 'Practitioner/sec-nobody'} ],
	[ 'code', q{code = 'lab-follow-up'}, q{code = 'no-such-code'} ],
	[ 'description range', q{description < 'I'}, q{description < 'A'} ],
	[ 'patient_id range', q{patient_id > 'sec-h' AND patient_id < 'sec-i'}, q{patient_id > 'sec-x' AND patient_id < 'sec-y'} ])
{
	my ($what, $hidden, $absent) = @$probe;
	my $e1 = estimate('sec_t_pr1', "SELECT * FROM omnitask.task WHERE $hidden");
	my $e2 = estimate('sec_t_pr1', "SELECT * FROM omnitask.task WHERE $absent");
	like($e1, qr/^\d+$/, "practitioner: EXPLAIN of a $what probe works");
	is($e1, $e2, "practitioner: EXPLAIN estimates a hidden $what and an absent one alike ($e1 rows)");
}
is(estimate('sec_t_pr1', q{SELECT * FROM omnitask.tasks WHERE description = 'HIV PrEP follow-up'}),
   estimate('sec_t_pr1', q{SELECT * FROM omnitask.tasks WHERE description = 'sec: no such description'}),
   'practitioner: through the tasks view too');
is(su(q{SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_statistic s JOIN pg_attribute a ON a.attrelid = s.starelid AND a.attnum = s.staattnum
		WHERE (s.starelid = 'omnitask.task'::regclass AND a.attname IN ('description', 'patient_id', 'requester', 'code', 'resource'))
		   OR (s.starelid = 'omnitask.task_history'::regclass AND a.attname = 'resource')}), '',
	'ANALYZE stores no statistics for the PHI columns');
is(su(q{SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_statistic s JOIN pg_attribute a ON a.attrelid = s.starelid AND a.attnum = s.staattnum
		WHERE s.starelid = 'omnitask.task'::regclass AND a.attname IN ('owner_id', 'status', 'priority', 'due_at')}),
	'due_at,owner_id,priority,status', '... and keeps those the worklist and search plans use');

# 2. existence oracle: EXPLAIN ANALYZE counts rows the policy removes
my $explain_denied = qr/^permission denied to EXPLAIN ANALYZE a query on omnitask's tasks$/;
my %ea;
for my $case (
	[ 'hidden patient', q{EXPLAIN ANALYZE SELECT * FROM omnitask.task WHERE patient_id = 'sec-hiv-pat'} ],
	[ 'missing patient', q{EXPLAIN ANALYZE SELECT * FROM omnitask.task WHERE patient_id = 'sec-no-such-patient'} ],
	[ 'hidden id', q{EXPLAIN (ANALYZE, BUFFERS) SELECT 1 FROM omnitask.task WHERE id = 'sec-a2'} ],
	[ 'hidden ctid', q{EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1 FROM omnitask.task WHERE ctid = '(0,1)'} ],
	[ 'the tasks view', q{EXPLAIN ANALYZE SELECT * FROM omnitask.tasks WHERE patient_id = 'sec-hiv-pat'} ],
	[ 'a CTE', q{EXPLAIN ANALYZE WITH x AS (SELECT * FROM omnitask.task WHERE patient_id = 'sec-hiv-pat') SELECT count(*) FROM x} ],
	[ 'a sublink', q{EXPLAIN ANALYZE SELECT EXISTS (SELECT 1 FROM omnitask.task_history WHERE id = 'sec-a2')} ],
	[ 'CREATE TABLE AS', q{EXPLAIN ANALYZE CREATE TEMP TABLE x AS SELECT * FROM omnitask.task WHERE patient_id = 'sec-hiv-pat'} ],
	[ 'a prepared statement', qq{PREPARE p(text) AS SELECT * FROM omnitask.task WHERE patient_id = \$1;\nEXPLAIN ANALYZE EXECUTE p('sec-hiv-pat');} ],
	[ 'a prepared statement through a view', qq{PREPARE p(text) AS SELECT * FROM omnitask.status_changes WHERE id = \$1;\nEXPLAIN ANALYZE EXECUTE p('sec-a2');} ])
{
	my ($what, $sql) = @$case;
	my $r = psql_as('sec_t_pr1', $sql);
	refused($r, '42501', "practitioner: EXPLAIN ANALYZE through $what is refused", $explain_denied);
	$ea{$what} = shown($r);
}
is($ea{'hidden patient'}, $ea{'missing patient'}, 'practitioner: the refusal is the same for a hidden and a missing patient (nothing learned)');
like(shown(psql_as('sec_t_pr1', q{EXPLAIN (COSTS OFF) SELECT * FROM omnitask.task WHERE patient_id = 'sec-hiv-pat';})), qr/Scan/,
	'practitioner: plain EXPLAIN stays available');
like(shown(psql_as('sec_t_pr1', q{EXPLAIN ANALYZE SELECT count(*) FROM pg_catalog.pg_class;})), qr/actual time=/,
	'practitioner: EXPLAIN ANALYZE of queries not on omnitask tables works');
like(shown(psql_as('sec_t_admin', q{EXPLAIN ANALYZE SELECT * FROM omnitask.task WHERE patient_id = 'sec-hiv-pat';})), qr/actual time=.* rows=40(?:\.00)? /,
	'admin: EXPLAIN ANALYZE works (row security filters nothing for admins)');
like(shown(psql_as('sec_t_aud', q{EXPLAIN ANALYZE SELECT * FROM omnitask.task_history WHERE id = 'sec-a2';})), qr/actual time=/,
	'auditor: EXPLAIN ANALYZE works');
like(shown(api('omnitask_admin', '{"role": "omnitask_admin"}', q{EXPLAIN ANALYZE SELECT 1 FROM omnitask.task WHERE id = 'sec-a2';})), qr/actual time=/,
	'an admin request through the authenticator may EXPLAIN ANALYZE');
refused(api('omnitask_practitioner', $P1, q{EXPLAIN ANALYZE SELECT 1 FROM omnitask.task WHERE id = 'sec-a2';}), '42501',
	'a practitioner request through the authenticator may not', $explain_denied);

# 2b. the same oracle through the statistics counters: without EXPLAIN, a
# practitioner's own scan counts the hidden row it fetched.  PostgreSQL
# shows these counters to every login; the README's statements revoke them.
my $counter_probe = sub {
	my ($patient) = @_;
	return psql_as('sec_t_pr1', qq{SET enable_seqscan = off; SET enable_bitmapscan = off;
BEGIN;
SELECT count(*) FROM omnitask.task WHERE patient_id = '$patient';
SELECT idx_tup_fetch FROM pg_stat_xact_user_tables WHERE relid = 'omnitask.task'::regclass;
COMMIT;});
};
my $hidden_fetch = shown($counter_probe->('sec-hiv-pat'));
my $missing_fetch = shown($counter_probe->('sec-no-such-patient'));
isnt($hidden_fetch, $missing_fetch,
	"without the README's REVOKE statements the counters tell a hidden patient ($hidden_fetch) from a missing one ($missing_fetch): the documented residual");
su(q{
REVOKE EXECUTE ON FUNCTION
	pg_catalog.pg_stat_get_numscans(oid), pg_catalog.pg_stat_get_tuples_returned(oid),
	pg_catalog.pg_stat_get_tuples_fetched(oid), pg_catalog.pg_stat_get_blocks_fetched(oid),
	pg_catalog.pg_stat_get_blocks_hit(oid), pg_catalog.pg_stat_get_xact_numscans(oid),
	pg_catalog.pg_stat_get_xact_tuples_returned(oid), pg_catalog.pg_stat_get_xact_tuples_fetched(oid),
	pg_catalog.pg_stat_get_xact_blocks_fetched(oid), pg_catalog.pg_stat_get_xact_blocks_hit(oid)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	pg_catalog.pg_stat_get_numscans(oid), pg_catalog.pg_stat_get_tuples_returned(oid),
	pg_catalog.pg_stat_get_tuples_fetched(oid), pg_catalog.pg_stat_get_blocks_fetched(oid),
	pg_catalog.pg_stat_get_blocks_hit(oid), pg_catalog.pg_stat_get_xact_numscans(oid),
	pg_catalog.pg_stat_get_xact_tuples_returned(oid), pg_catalog.pg_stat_get_xact_tuples_fetched(oid),
	pg_catalog.pg_stat_get_xact_blocks_fetched(oid), pg_catalog.pg_stat_get_xact_blocks_hit(oid)
	TO pg_read_all_stats;});
for my $view (qw(pg_stat_xact_user_tables pg_stat_user_tables pg_stat_user_indexes pg_statio_user_tables pg_statio_user_indexes))
{
	refused(psql_as('sec_t_pr1', "SELECT * FROM pg_catalog.$view WHERE relid = 'omnitask.task'::regclass;"), '42501',
		"after the REVOKE, a practitioner cannot read $view", qr/^permission denied for function pg_stat_get_/);
}
is(shown($counter_probe->('sec-hiv-pat')), shown($counter_probe->('sec-no-such-patient')),
	'after the REVOKE, the counter probe fails the same way for a hidden and a missing patient');
like(shown(psql_as('sec_t_pr1', "SELECT reltuples >= 0 FROM pg_catalog.pg_class WHERE oid = 'omnitask.task'::regclass;")), qr/^t$/,
	'pg_class.reltuples (the table-wide row count) stays visible to every login: the documented residual');

# 4. notifications: any login may NOTIFY; a forged payload gains nothing
$fp = fingerprint();
$s = session_open('sec_t_pr1');
session_q($s, 'LISTEN omnitask_task;');
gives(psql_as('sec_t_nobody', q{NOTIFY omnitask_task, '{"id": "sec-a2", "version": 99}';}), '',
	'a login with no omnitask role can send a forged notification (PostgreSQL has no privilege for NOTIFY)');
$heard = heard_until($s, qr/sec-a2/);
like($heard, qr/"id": "sec-a2", "version": 99/, 'the listener receives it');
refused(psql_as('sec_t_pr1', "SELECT omnitask.read_task('sec-a2');"), 'PT404',
	'a consumer that re-reads the task through row-level security learns nothing from it', qr{^task "sec-a2" does not exist$});
session_close($s);
is(fingerprint(), $fp, 'a forged notification changes nothing');

# 6. a practitioner's prepared generic plan with a parallel part keeps
# working after a registry change (identity read without a new snapshot)
su(q{CREATE TABLE public.sec_par AS SELECT g AS x FROM generate_series(1, 20000) g; ANALYZE public.sec_par;
	 GRANT SELECT ON public.sec_par TO sec_t_pr1;});
my $par_gucs = "SET plan_cache_mode = force_generic_plan; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
  . "SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;";
$s = session_open('sec_t_pr1');
session_q($s, $par_gucs);
# a Gather on the outer side; the policy's index condition on the inner
# side is evaluated by the leader, in parallel mode
session_q($s, q{PREPARE par(int) AS SELECT count(*), count(DISTINCT t.id) FROM public.sec_par p JOIN omnitask.task t ON true WHERE p.x = $1;});
like(session_q($s, q{EXPLAIN (COSTS OFF) EXECUTE par(5);}), qr/Gather/, 'the prepared plan has a parallel part');
my $before_reg = session_q($s, q{EXECUTE par(5);});
like($before_reg, qr/^([1-9]\d*)\|\1$/, 'it runs, and the practitioner counts their own tasks');
psql_as('sec_t_admin', "SELECT omnitask.register_practitioner('sec_t_unreg', 'sec-p9', 'Dr. Nine');");
my $after_reg = session_q($s, q{EXECUTE par(5);});
my $err = $s->{err};
is($after_reg, $before_reg, 'after a registry change the same plan still runs, with the same identity')
  or diag($err);
unlike($err, qr/SecondarySnapshot/, 'no "cannot update SecondarySnapshot during a parallel operation"');
is(session_q($s, q{EXECUTE par(5);}), $before_reg, 'and keeps running in that session');
session_close($s);
su("UPDATE omnitask.practitioner SET active = false WHERE id = 'sec-p9'; DROP TABLE public.sec_par;");

# 6b. reporting views can use parallel plans and give the same answers
my $force = su(q{SELECT CASE WHEN current_setting('server_version_num')::int >= 160000
	THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END});
my $par_on = "SET $force = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
  . "SET min_parallel_table_scan_size = 0; SET min_parallel_index_scan_size = 0; SET max_parallel_workers_per_gather = 2;";
my %report = (
	tasks         => 'SELECT id, status, is_open, is_overdue FROM omnitask.tasks ORDER BY id',
	task_counts   => 'SELECT * FROM omnitask.task_counts ORDER BY 1, 2',
	workload      => 'SELECT * FROM omnitask.workload ORDER BY owner_id',
	overdue_tasks => 'SELECT id FROM omnitask.overdue_tasks ORDER BY id',
	status_changes => 'SELECT id, version_id, from_status, to_status FROM omnitask.status_changes ORDER BY id, version_id',
	turnaround    => 'SELECT priority, category, accepted, completed FROM omnitask.turnaround ORDER BY 1, 2');
for my $role (qw(sec_t_admin sec_t_aud))
{
	for my $v (sort keys %report)
	{
		my $serial = psql_as($role, "SET max_parallel_workers_per_gather = 0; $report{$v};");
		my $parallel = psql_as($role, "$par_on $report{$v};");
		ok($serial->{rc} == 0 && $serial->{out} ne '', "$role: $v answers") or diag($serial->{err});
		is(shown($parallel), shown($serial), "$role: $v gives the same answer with parallel plans forced");
	}
	for my $v (qw(tasks workload overdue_tasks task_counts))
	{
		like(shown(psql_as($role, "$par_on EXPLAIN (COSTS OFF) SELECT * FROM omnitask.$v;")), qr/Gather/,
			"$role: the $v view can use a parallel plan");
	}
}
like(shown(psql_as('sec_t_pr1', "$par_on SELECT count(*), count(*) FILTER (WHERE owner_id <> 'sec-p1') FROM omnitask.tasks;")),
	qr/^\d+\|0$/, 'practitioner: the tasks view with parallel plans forced shows their own tasks only');

# 5. a kept plan survives DROP/CREATE EXTENSION in one session
su('DROP DATABASE IF EXISTS omnitask_sec_recreate', db => 'postgres');
su('CREATE DATABASE omnitask_sec_recreate', db => 'postgres');
my $recreate = psql_as('postgres', join("\n",
	'CREATE EXTENSION omnitask;',
	"SELECT omnitask.create_task(" . task() . ") ->> 'status';",
	'DROP EXTENSION omnitask;',
	'CREATE EXTENSION omnitask;',
	"SELECT omnitask.create_task(" . task() . ") ->> 'status';",
	"SELECT count(*) FROM omnitask.task_history;"), db => 'omnitask_sec_recreate');
gives($recreate, "requested\nrequested\n1",
	'create_task after DROP and CREATE EXTENSION in the same session works (no "cache lookup failed for type")');
su('DROP DATABASE omnitask_sec_recreate', db => 'postgres');

done_testing();
