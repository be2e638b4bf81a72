#!/usr/bin/perl
#
# 070_replicas.pl: omnitask on a physical standby and on a logical
# replication subscriber.
#
# (a) Physical streaming standby made from a base backup.  After load on
#     the primary and catch-up, the standby answers the reporting views
#     (workload, task_counts, overdue_tasks in its order), search_tasks(),
#     task_history() and status_changes exactly as the primary does, as an
#     admin login and as a practitioner login (RLS and
#     current_practitioner_id() work read-only); verify() is empty there;
#     writes are refused (read-only transaction); registry and workflow
#     changes made on the primary reach sessions already open on the
#     standby (the invalidations travel in the WAL).
#
# (b) Logical replication of omnitask.task, omnitask.task_history and
#     omnitask.practitioner into a reporting database on another node.
#
#     What a subscriber needs:
#       - the omnitask extension installed (CREATE EXTENSION omnitask, same
#         version): it creates the tables, types, policies, views and the
#         three group roles;
#       - the login roles of the people who read there, made members of
#         omnitask_admin / omnitask_practitioner / omnitask_auditor: roles
#         are not replicated;
#       - a subscription owned by a superuser: the tables have row-level
#         security (FORCE), and PostgreSQL 15 refuses to apply changes into
#         such tables for a non-superuser subscription owner;
#       - the triggers left as the extension made them (ENABLE, i.e. origin
#         only).  The apply and table-sync workers run with
#         session_replication_role = replica, so omnitask's BEFORE/AFTER
#         triggers do not fire for replicated rows: the rows arrive with
#         the derived columns the publisher computed and the history is
#         the publisher's, not duplicated.  Never ENABLE ALWAYS/REPLICA the
#         task triggers on a subscriber;
#       - omnitask.practitioner in the publication (identity and RLS on the
#         subscriber read the registry), and either
#         omnitask.workflow_definition in the publication too or the same
#         workflow set there (the views' is_open / workload / overdue
#         depend on the workflow's terminal states);
#       - no writes through omnitask on the subscriber: a local create
#         would get its own id and history and diverge from the publisher.
#
#     Checked: after creates and status changes on the publisher the
#     subscriber has identical tasks, history and registry (md5), the
#     history was not duplicated, verify() is empty there, a practitioner
#     login there sees only their own tasks (and the same search result as
#     on the publisher).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $TOP = $ENV{OMNITASK_TOP} or die "OMNITASK_TOP is not set\n";
my $DB = 'clinic';
my $ROLES = q{
CREATE ROLE clinic_admin LOGIN IN ROLE omnitask_admin;
CREATE ROLE pract_0001 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE pract_0002 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE pract_0003 LOGIN IN ROLE omnitask_practitioner;
};

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 'logical');
$primary->append_conf('postgresql.conf', "log_statement = none\n");
$primary->start;
$primary->safe_psql('postgres', "CREATE DATABASE $DB");
$primary->safe_psql($DB, 'CREATE EXTENSION omnitask');
$primary->safe_psql('postgres', $ROLES);
$primary->command_ok(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'n=1000',
		'-v', 'practitioners=20', '-v', 'patients=200', '-d', $DB,
		'-f', "$TOP/test/sample/generate.sql"
	],
	'sample data (n=1000) loaded on the primary');

# ========================================================================
# (a) physical standby
# ========================================================================
$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;

# Sessions opened on the standby before the next changes.
my $standby_p3 = $standby->background_psql($DB, extra_params => [ '-U', 'pract_0003' ]);
my $p3_tasks = $standby_p3->query_safe('SELECT count(*) FROM omnitask.task');
cmp_ok($p3_tasks, '>', 0, "pract_0003 sees their $p3_tasks tasks on the standby");
my $standby_admin = $standby->background_psql($DB, extra_params => [ '-U', 'clinic_admin' ]);
is($standby_admin->query_safe(q{SELECT count(*) FROM omnitask.workflow_transitions WHERE from_status = 'completed'}), '1',
	'standby session: default workflow (completed -> entered-in-error only)');

# Load on the primary after the standby started.
my @new;
for my $i (1 .. 8)
{
	my $owner = sprintf('pr-%04d', 1 + $i % 3);
	push @new, $primary->safe_psql($DB, qq{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","priority":"stat","description":"replica test $i","for":{"reference":"Patient/pr-$i"},"owner":{"reference":"Practitioner/$owner"},"restriction":{"period":{"end":"2020-02-0${i}T08:00:00Z"}}}')->>'id'},
		extra_params => [ '-U', 'clinic_admin' ]);
}
$primary->safe_psql($DB, qq{
SELECT omnitask.set_task_status('$new[0]', 'accepted') IS NOT NULL;
SELECT omnitask.set_task_status('$new[0]', 'in-progress') IS NOT NULL;
SELECT omnitask.set_task_status('$new[3]', 'accepted') IS NOT NULL;
SELECT omnitask.set_task_status('$new[3]', 'in-progress') IS NOT NULL;
SELECT omnitask.set_task_status('$new[3]', 'on-hold') IS NOT NULL;
}, extra_params => [ '-U', 'pract_0002' ]);
$primary->safe_psql($DB, q{
SELECT count(omnitask.set_task_status(id, CASE status WHEN 'in-progress' THEN 'completed' WHEN 'requested' THEN 'accepted' ELSE 'in-progress' END))
FROM (SELECT id, status FROM omnitask.task WHERE status IN ('in-progress', 'requested', 'on-hold') AND id LIKE 't-%' ORDER BY id LIMIT 30) s;
});
# registry and workflow changes: pr-0003 leaves; completed -> in-progress opens for admins
$primary->safe_psql($DB, "UPDATE omnitask.practitioner SET active = false WHERE id = 'pr-0003'");
my $wf = $primary->safe_psql($DB, 'SELECT omnitask.default_workflow()');
$wf =~ s/"transitions": \[/"transitions": [\n    {"from": "completed", "to": "in-progress", "roles": ["admin"]},/ or die "cannot edit the workflow";
$primary->safe_psql($DB, "SELECT omnitask.set_workflow(\$wf\$$wf\$wf\$)");

$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

# The same questions on both, as an admin and as a practitioner.
my %questions = (
	'workload' => 'SELECT owner_id, display, open, overdue, stat, asap, urgent, routine FROM omnitask.workload ORDER BY owner_id NULLS FIRST',
	'task_counts' => 'SELECT status, priority, n FROM omnitask.task_counts ORDER BY status, priority',
	'overdue_tasks (in its order)' => 'SELECT id, status, priority, owner_id, patient_id, code, description, due_at FROM omnitask.overdue_tasks',
	'search_tasks default' => 'SELECT omnitask.search_tasks()',
	'search_tasks status/priority' => q{SELECT omnitask.search_tasks(status => 'in-progress,on-hold,accepted', priority => 'stat,asap', _count => 200)},
	'search_tasks owner, sorted, page 2' => q{SELECT omnitask.search_tasks(owner => 'Practitioner/pr-0002', _sort => '-modified,status', _count => 5, _offset => 5)},
	'search_tasks patient' => q{SELECT omnitask.search_tasks(patient => 'Patient/pr-1')},
	'task_history' => "SELECT omnitask.task_history('$new[0]')",
	'status_changes' => 'SELECT * FROM omnitask.status_changes ORDER BY id, version_id',
	'tasks view' => 'SELECT id, version_id, status, is_open, is_overdue FROM omnitask.tasks ORDER BY id',
	'workflow_transitions' => 'SELECT * FROM omnitask.workflow_transitions',
);
for my $role ('clinic_admin', 'pract_0002')
{
	for my $q (sort keys %questions)
	{
		my ($p_rc, $p_out, $p_err) = $primary->psql($DB, $questions{$q}, extra_params => [ '-U', $role ]);
		my ($s_rc, $s_out, $s_err) = $standby->psql($DB, $questions{$q}, extra_params => [ '-U', $role ]);
		ok($p_rc == 0 && $s_rc == 0 && $p_out ne '' && $p_out eq $s_out, "standby answers like the primary: $q as $role")
		  or diag("primary rc=$p_rc $p_err\nstandby rc=$s_rc $s_err\n"
			  . "primary: " . substr($p_out, 0, 300) . "\nstandby: " . substr($s_out, 0, 300));
	}
}
is($standby->safe_psql($DB, 'SELECT omnitask.current_practitioner_id()', extra_params => [ '-U', 'pract_0002' ]), 'pr-0002',
	'current_practitioner_id() on the standby');
is($standby->safe_psql($DB, q{SELECT count(*) FILTER (WHERE owner_id = 'pr-0002') || '/' || count(*) FROM omnitask.task}, extra_params => [ '-U', 'pract_0002' ]),
	$primary->safe_psql($DB, q{SELECT count(*) || '/' || count(*) FROM omnitask.task WHERE owner_id = 'pr-0002'}),
	'RLS on the standby: the practitioner sees exactly their own tasks');
is($standby->safe_psql($DB, 'SELECT count(*) FROM omnitask.verify()'), '0', 'verify() empty on the standby');
is($standby->safe_psql($DB, 'SELECT md5(string_agg(t::text, \',\' ORDER BY id)) FROM omnitask.task t'),
	$primary->safe_psql($DB, 'SELECT md5(string_agg(t::text, \',\' ORDER BY id)) FROM omnitask.task t'),
	'standby task rows identical (md5)');

my ($rc, $out, $err) = $standby->psql($DB, q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"on a standby","for":{"reference":"Patient/p1"}}')},
	extra_params => [ '-U', 'clinic_admin', '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:\s+25006:/, 'a write on the standby is refused (25006 read-only transaction)');

# Sessions opened before the registry/workflow change see it.
is($standby_p3->query_safe('SELECT coalesce(omnitask.current_practitioner_id(), \'none\') || \' \' || count(*) FROM omnitask.task'),
	'none 0', 'open standby session: the practitioner deactivated on the primary lost their identity');
is($standby_admin->query_safe(q{SELECT count(*) FROM omnitask.workflow_transitions WHERE from_status = 'completed'}), '2',
	'open standby session: the workflow set on the primary applies');
$standby_p3->quit;
$standby_admin->quit;

# ========================================================================
# (b) logical replication to a reporting database
# ========================================================================
my $sub = PostgreSQL::Test::Cluster->new('reporting');
$sub->init;
$sub->append_conf('postgresql.conf', "log_statement = none\n");
$sub->start;
$sub->safe_psql('postgres', 'CREATE DATABASE reporting');
$sub->safe_psql('reporting', 'CREATE EXTENSION omnitask');
$sub->safe_psql('postgres', $ROLES);

$primary->safe_psql($DB, 'CREATE PUBLICATION omnitask_pub FOR TABLE omnitask.task, omnitask.task_history, omnitask.practitioner');
my $pub_conn = $primary->connstr . " dbname=$DB";
$sub->safe_psql('reporting', "CREATE SUBSCRIPTION omnitask_sub CONNECTION '$pub_conn' PUBLICATION omnitask_pub");
$sub->wait_for_subscription_sync($primary, 'omnitask_sub', 'reporting');
ok(1, 'initial sync done');

my $sub_p1 = $sub->background_psql('reporting', extra_params => [ '-U', 'pract_0001' ]);
my $p1_before = $sub_p1->query_safe('SELECT count(*) FROM omnitask.task');
is($p1_before, $primary->safe_psql($DB, "SELECT count(*) FROM omnitask.task WHERE owner_id = 'pr-0001'"),
	'subscriber: pract_0001 sees their tasks after the initial sync');

# Changes on the publisher after the initial sync.
my @more;
for my $i (1 .. 6)
{
	my $owner = sprintf('pr-%04d', 1 + $i % 2);
	push @more, $primary->safe_psql($DB, qq{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"logical $i","for":{"reference":"Patient/pl-$i"},"owner":{"reference":"Practitioner/$owner"}}')->>'id'},
		extra_params => [ '-U', 'clinic_admin' ]);
}
$primary->safe_psql($DB, qq{
SELECT omnitask.set_task_status('$more[1]', 'accepted') IS NOT NULL;
SELECT omnitask.set_task_status('$more[1]', 'in-progress') IS NOT NULL;
SELECT omnitask.set_task_status('$more[3]', 'rejected', 'wrong clinic') IS NOT NULL;
}, extra_params => [ '-U', 'pract_0001' ]);
$primary->safe_psql($DB, q{
SELECT count(omnitask.set_task_status(id, 'on-hold'))
FROM (SELECT id FROM omnitask.task WHERE status = 'in-progress' AND id LIKE 't-%' ORDER BY id LIMIT 15) s;
SELECT omnitask.register_practitioner('pract_0002', 'pr-0002', 'Renamed on the publisher');
});
$primary->wait_for_catchup('omnitask_sub');

my $sums = q{
SELECT (SELECT count(*) FROM omnitask.task) || ' tasks ' || (SELECT count(*) FROM omnitask.task_history) || ' history '
    || (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM omnitask.task t) || ' '
    || (SELECT md5(string_agg(h::text, ',' ORDER BY h.id, h.version_id)) FROM omnitask.task_history h) || ' '
    || (SELECT md5(string_agg(p::text, ',' ORDER BY p.id)) FROM omnitask.practitioner p)};
my $pub_sums = $primary->safe_psql($DB, $sums);
note "publisher: $pub_sums";
is($sub->safe_psql('reporting', $sums), $pub_sums, 'subscriber: tasks, history and registry identical to the publisher (md5)');
is($sub->safe_psql('reporting', 'SELECT count(*) FROM (SELECT id, version_id FROM omnitask.task_history GROUP BY 1, 2 HAVING count(*) > 1) s'),
	'0', 'subscriber: no history version twice');
is($sub->safe_psql('reporting', "SELECT string_agg(version_id || ':' || status, ' ' ORDER BY version_id) FROM omnitask.task_history WHERE id = '$more[1]'"),
	'1:requested 2:accepted 3:in-progress', 'subscriber: the history of a task changed after the sync, once');
is($sub->safe_psql('reporting', 'SELECT count(*) FROM omnitask.verify()'), '0', 'subscriber: verify() empty')
  or diag($sub->safe_psql('reporting', 'SELECT * FROM omnitask.verify() LIMIT 10'));

# RLS on the subscriber
my $q_own = q{SELECT count(*) FILTER (WHERE owner_id = 'pr-0001') || '/' || count(*) FROM omnitask.task};
is($sub->safe_psql('reporting', $q_own, extra_params => [ '-U', 'pract_0001' ]),
	$primary->safe_psql($DB, q{SELECT count(*) || '/' || count(*) FROM omnitask.task WHERE owner_id = 'pr-0001'}),
	'subscriber RLS: pract_0001 sees exactly their own tasks');
is($sub->safe_psql('reporting', q{SELECT count(*) FROM omnitask.task_history WHERE owner_id IS DISTINCT FROM 'pr-0001'}, extra_params => [ '-U', 'pract_0001' ]),
	'0', 'subscriber RLS: pract_0001 sees only history versions they owned');
my $search = q{SELECT omnitask.search_tasks(status => 'requested,accepted,in-progress,on-hold,rejected', _count => 1000)};
is($sub->safe_psql('reporting', $search, extra_params => [ '-U', 'pract_0001' ]),
	$primary->safe_psql($DB, $search, extra_params => [ '-U', 'pract_0001' ]),
	'subscriber: pract_0001 gets the same search result as on the publisher');
is($sub->safe_psql('reporting', 'SELECT count(*) FROM omnitask.task', extra_params => [ '-U', 'pract_0003' ]),
	'0', 'subscriber: the practitioner deactivated on the publisher sees nothing');
is($sub_p1->query_safe('SELECT count(*) FROM omnitask.task'),
	$primary->safe_psql($DB, "SELECT count(*) FROM omnitask.task WHERE owner_id = 'pr-0001'"),
	'subscriber: a session open during the changes sees the new tasks');
$sub_p1->quit;

# A registry change replicated to the subscriber reaches sessions already
# open there (the subscriber's practitioner_changed statement trigger does
# not fire for replicated rows).
my $sub_p2 = $sub->background_psql('reporting', extra_params => [ '-U', 'pract_0002' ]);
my $p2_count = $sub_p2->query_safe('SELECT count(*) FROM omnitask.task');
cmp_ok($p2_count, '>', 0, "subscriber: pract_0002 sees their $p2_count tasks");
$primary->safe_psql($DB, "UPDATE omnitask.practitioner SET active = false WHERE id = 'pr-0002'");
$primary->wait_for_catchup('omnitask_sub');
is($sub->safe_psql('reporting', 'SELECT count(*) FROM omnitask.task', extra_params => [ '-U', 'pract_0002' ]),
	'0', 'subscriber: a new session of the deactivated practitioner sees nothing');
is($sub_p2->query_safe('SELECT coalesce(omnitask.current_practitioner_id(), \'none\') || \' \' || count(*) FROM omnitask.task'),
	'none 0', 'subscriber: the open session of the practitioner deactivated on the publisher loses their identity');
$sub_p2->quit;

$sub->safe_psql('reporting', 'DROP SUBSCRIPTION omnitask_sub');
$sub->stop;
$standby->stop;
$primary->stop;
done_testing();
