#!/usr/bin/perl
#
# 050_backup_restore.pl: pg_dump -Fc / pg_restore keep everything omnitask
# owns, and the restored copy behaves like the original.
#
# Source database: sample data (n=500), tasks created by an admin login and
# by a practitioner login, status changes, a custom workflow set with
# omnitask.set_workflow() (in-progress -> ready removed, completed ->
# in-progress opened to admins, a reason required for on-hold), registry
# changes (a practitioner registered later, a display renamed, one
# practitioner made inactive).
#
# The dump is restored (1) into a fresh database of the same node and
# (2) into a fresh node (roles carried over with pg_dumpall --roles-only,
# since roles are cluster-wide and not in a database dump).  For each copy:
#   - identical content: md5 of every task row, every history row (ordered
#     by id, version_id), the registry, and omnitask.workflow()::text;
#   - omnitask.verify() is empty;
#   - the restore appended no history (a restore keeps rows as dumped);
#   - the behaviour: an admin login creates a task for pr-0001, the
#     practitioner login pract_0001 accepts and starts it, a transition the
#     workflow refuses gives PT409, the custom workflow still applies
#     (in-progress -> ready refused, on-hold needs a reason, completed ->
#     in-progress for admins only), the inactive practitioner cannot be
#     assigned (23514 naming Task.owner) and has no identity, a restored
#     task's next version continues its history without a gap.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $TOP = $ENV{OMNITASK_TOP} or die "OMNITASK_TOP is not set\n";
my $SRC = 'omnitask_src';

my $node = PostgreSQL::Test::Cluster->new('dump_src');
$node->init;
$node->append_conf('postgresql.conf', "log_statement = none\n");
$node->start;

$node->safe_psql('postgres', "CREATE DATABASE $SRC");
$node->safe_psql($SRC, 'CREATE EXTENSION omnitask');
$node->safe_psql('postgres', q{
CREATE ROLE clinic_admin LOGIN IN ROLE omnitask_admin;
CREATE ROLE clinic_auditor LOGIN IN ROLE omnitask_auditor;
CREATE ROLE pract_0001 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE pract_0002 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE pract_0005 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE pract_new LOGIN IN ROLE omnitask_practitioner;
});
$node->command_ok(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'n=500',
		'-v', 'practitioners=20', '-v', 'patients=200', '-d', $SRC,
		'-f', "$TOP/test/sample/generate.sql"
	],
	'sample data (n=500) loaded');

my $CUSTOM_WORKFLOW = q{{
  "creatable": ["draft", "requested", "ready"],
  "terminal": ["completed", "failed", "cancelled", "rejected", "entered-in-error"],
  "reason_required": ["rejected", "cancelled", "failed", "entered-in-error", "on-hold"],
  "transitions": [
    {"from": "draft", "to": ["requested", "ready", "cancelled"], "roles": ["admin", "practitioner"]},
    {"from": "requested", "to": ["received", "accepted", "rejected", "cancelled"], "roles": ["admin", "practitioner"]},
    {"from": "received", "to": ["accepted", "rejected", "cancelled"], "roles": ["admin", "practitioner"]},
    {"from": "accepted", "to": ["in-progress", "cancelled"], "roles": ["admin", "practitioner"]},
    {"from": "ready", "to": ["in-progress", "cancelled"], "roles": ["admin", "practitioner"]},
    {"from": "in-progress", "to": ["on-hold", "completed", "failed", "cancelled"], "roles": ["admin", "practitioner"]},
    {"from": "on-hold", "to": ["in-progress", "cancelled"], "roles": ["admin", "practitioner"]},
    {"from": "completed", "to": "in-progress", "roles": ["admin"]},
    {"from": ["draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress", "on-hold", "failed", "completed"],
     "to": "entered-in-error", "roles": ["admin"]}
  ]
}};

# --- fill ----------------------------------------------------------------
# The source's transaction ids run far ahead of a fresh node's (as on any
# long-lived primary): 4000 transactions that each take an xid.  Restored
# history rows keep these xids, so on the fresh node new versions would
# sort before them in the change feed without the feed's shift.
$node->safe_psql('postgres', join('', map { "SELECT pg_current_xact_id();\n" } 1 .. 4000));
$node->safe_psql($SRC, q{
SELECT omnitask.register_practitioner('pract_new', 'pr-new', 'Nia Newcomer, NP');
UPDATE omnitask.practitioner SET display = 'Amara Yamamoto-Okafor, RN' WHERE id = 'pr-0002';
});
$node->safe_psql($SRC, "SELECT omnitask.set_workflow('$CUSTOM_WORKFLOW')", extra_params => [ '-U', 'clinic_admin' ]);

my @created;
for my $i (1 .. 6)
{
	my $owner = sprintf('pr-%04d', 1 + $i % 3);
	push @created, $node->safe_psql($SRC, qq{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","priority":"urgent","description":"backup test $i","for":{"reference":"Patient/pb-$i"},"owner":{"reference":"Practitioner/$owner"},"restriction":{"period":{"end":"2031-01-0${i}T12:00:00+02:00"}}}')->>'id'},
		extra_params => [ '-U', 'clinic_admin' ]);
}
$node->safe_psql($SRC, qq{
SELECT omnitask.set_task_status('$created[0]', 'accepted');
SELECT omnitask.set_task_status('$created[0]', 'in-progress');
SELECT omnitask.set_task_status('$created[0]', 'on-hold', 'waiting for the lab');
SELECT omnitask.set_task_status('$created[1]', 'rejected', 'not our patient');
SELECT omnitask.set_task_status('$created[2]', 'accepted');
SELECT omnitask.set_task_status('$created[2]', 'in-progress');
SELECT omnitask.set_task_status('$created[2]', 'completed');
SELECT omnitask.set_task_status('$created[2]', 'in-progress');
}, extra_params => [ '-U', 'clinic_admin' ]);
my $own_new = $node->safe_psql($SRC, q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"ready","intent":"order","description":"created by a practitioner","for":{"reference":"Patient/pb-new"}}')->>'id'},
	extra_params => [ '-U', 'pract_new' ]);
$node->safe_psql($SRC, "SELECT omnitask.set_task_status('$own_new', 'in-progress')", extra_params => [ '-U', 'pract_new' ]);
# a few sample tasks move on too (pr-0005's first, before they leave)
$node->safe_psql($SRC, q{
SELECT omnitask.set_task_status(id, CASE status WHEN 'in-progress' THEN 'completed' ELSE 'accepted' END)
FROM (SELECT id, status FROM omnitask.task WHERE status IN ('in-progress', 'requested') AND id LIKE 't-%' ORDER BY id LIMIT 20) s;
UPDATE omnitask.practitioner SET active = false WHERE id = 'pr-0005';
});

is($node->safe_psql($SRC, 'SELECT count(*) FROM omnitask.verify()'), '0', 'source: verify() empty');

my %want = contents($node, $SRC);
note "source: $want{counts}";

# Change-feed readers before the dump: one read everything (its cursor is
# at the end), one read the first 100 versions.
my ($src_feed, $cursor_end) = feed_read($node, $SRC, '');
my ($first100, $cursor_mid) = feed_read($node, $SRC, '', 100);
is(scalar(@$src_feed), $node->safe_psql($SRC, 'SELECT count(*) FROM omnitask.task_history'),
	'source: the change feed read from the start has every version');
is(scalar(@$first100), 100, 'source: a reader stopped after 100 versions');
my $claims_src = claims($node, $SRC);
cmp_ok($node->safe_psql($SRC, 'SELECT count(*) FROM omnitask.task_identifier'), '>', 100,
	'source: business identifiers are claimed');

# --- dump --------------------------------------------------------------
my $dumpfile = $node->basedir . '/omnitask.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dumpfile, '-d', $SRC ], 'pg_dump -Fc');

# --- (1) restore into a fresh database on the same node -----------------
$node->safe_psql('postgres', 'CREATE DATABASE omnitask_copy');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'omnitask_copy', $dumpfile ],
	'pg_restore into a fresh database of the same node');
check_copy($node, 'omnitask_copy', 'same node');

# --- (1b) a plain SQL dump with one INSERT per row, replayed by psql in one
# transaction (the restore path taken row by row, many statements in one
# transaction)
my $sqlfile = $node->basedir . '/omnitask.sql';
$node->command_ok([ 'pg_dump', '--inserts', '-f', $sqlfile, '-d', $SRC ], 'pg_dump --inserts (plain SQL)');
$node->safe_psql('postgres', 'CREATE DATABASE omnitask_copy_sql');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-d', 'omnitask_copy_sql', '-f', $sqlfile ],
	'plain SQL dump replayed with psql --single-transaction');
check_copy($node, 'omnitask_copy_sql', 'plain SQL');

# --- (2) restore into a fresh node --------------------------------------
my $node2 = PostgreSQL::Test::Cluster->new('dump_dst');
$node2->init;
$node2->append_conf('postgresql.conf', "log_statement = none\n");
$node2->start;
my $rolesfile = $node->basedir . '/roles.sql';
$node->command_ok([ 'pg_dumpall', '--roles-only', '-f', $rolesfile ], 'pg_dumpall --roles-only');
# "role postgres already exists" is expected; everything else must apply
$node2->psql('postgres', undef, on_error_stop => 0, extra_params => [ '-f', $rolesfile ]);
is($node2->safe_psql('postgres', q{
SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
WHERE r.rolname LIKE 'omnitask\_%' AND u.rolname IN ('clinic_admin', 'clinic_auditor', 'pract_0001', 'pract_0002', 'pract_0005', 'pract_new')}),
	'6', 'new node: login roles and their app-role memberships exist');
$node2->safe_psql('postgres', 'CREATE DATABASE omnitask_copy');
$node2->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'omnitask_copy', $dumpfile ],
	'pg_restore into a fresh node');
check_copy($node2, 'omnitask_copy', 'new node');
is($node2->safe_psql('omnitask_copy', 'SELECT shift > 0 FROM omnitask.feed_shift'), 't',
	'new node: the restore raised the feed shift (its own xids were below the restored ones)');
is($node->safe_psql('omnitask_copy', 'SELECT shift FROM omnitask.feed_shift'), '0',
	'same node: no shift needed (its xids are already above the restored ones)');

# --- a restore-style row that is not stored leaves no trace ---------------
# A superuser re-running part of a dump: the row with id and version_id is
# skipped by ON CONFLICT DO NOTHING, or fails and is rolled back to a
# savepoint.  A task created afterwards in the same transaction must still
# get its history.
for my $case (
	[ 'ON CONFLICT DO NOTHING', "INSERT INTO omnitask.task SELECT * FROM omnitask.task WHERE id = '$created[4]' ON CONFLICT DO NOTHING;" ],
	[ 'a failed insert rolled back to a savepoint',
		"SAVEPOINT s; DO \$\$ BEGIN INSERT INTO omnitask.task SELECT * FROM omnitask.task WHERE id = '$created[4]'; EXCEPTION WHEN unique_violation THEN NULL; END \$\$; RELEASE SAVEPOINT s;" ])
{
	my ($what, $sql) = @$case;
	my $id = $node->safe_psql('omnitask_copy_sql', qq{
BEGIN;
$sql
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"after a skipped restore row","for":{"reference":"Patient/p-skip"}}')->>'id';
COMMIT;});
	is($node->safe_psql('omnitask_copy_sql', "SELECT count(*) FROM omnitask.task_history WHERE id = '$id'"), '1',
		"restore row skipped by $what: a task created next in the same transaction has its history");
}
is($node->safe_psql('omnitask_copy_sql', 'SELECT count(*) FROM omnitask.verify()'), '0', 'verify() empty after the skipped restore rows');

# --- the source is untouched by all this --------------------------------
my %again = contents($node, $SRC);
is($again{task}, $want{task}, 'source unchanged');

$node2->stop;
$node->stop;
done_testing();

# ========================================================================

# md5s and counts of everything omnitask keeps.
sub contents
{
	my ($n, $db) = @_;
	my %c;
	@c{qw(task history practitioner workflow workflow_row counts)} = split /\|/, $n->safe_psql($db, q{
SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM omnitask.task t),
       (SELECT md5(string_agg(h::text, ',' ORDER BY h.id, h.version_id)) FROM omnitask.task_history h),
       (SELECT md5(string_agg(p::text, ',' ORDER BY p.id)) FROM omnitask.practitioner p),
       md5(omnitask.workflow()::text),
       (SELECT md5(string_agg(w::text, ',')) FROM omnitask.workflow_definition w),
       format('%s tasks, %s history rows, %s practitioners',
              (SELECT count(*) FROM omnitask.task), (SELECT count(*) FROM omnitask.task_history),
              (SELECT count(*) FROM omnitask.practitioner))});
	return %c;
}

# The SQLSTATE a statement raises as a role ('ok' when it succeeds).
sub sqlstate
{
	my ($n, $db, $role, $sql) = @_;
	my ($out, $err) = ('', '');
	my $rc = $n->psql($db, $sql, stdout => \$out, stderr => \$err,
		extra_params => [ '-U', $role, '-v', 'VERBOSITY=verbose' ]);
	return 'ok' if $rc == 0;
	return $1 if $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return "rc=$rc $err";
}

sub check_copy
{
	my ($n, $db, $where) = @_;
	my %got = contents($n, $db);
	note "$where: $got{counts}";
	is($got{counts}, $want{counts}, "$where: same numbers of tasks, history rows and practitioners");
	is($got{task}, $want{task}, "$where: task rows identical (md5)");
	is($got{history}, $want{history}, "$where: history identical (md5), no history appended by the restore");
	is($got{practitioner}, $want{practitioner}, "$where: registry identical (md5, incl. the inactive practitioner)");
	is($got{workflow}, $want{workflow}, "$where: workflow() identical (the custom workflow)");
	is($got{workflow_row}, $want{workflow_row}, "$where: workflow_definition row identical");
	is($n->safe_psql($db, 'SELECT count(*) FROM omnitask.verify()'), '0', "$where: verify() empty");
	is(claims($n, $db), $claims_src, "$where: the identifier claims (task_identifier) are the source's, rebuilt by the triggers");

	# the core scenario on the copy
	my $id = $n->safe_psql($db, q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"after restore","for":{"reference":"Patient/pr-1"},"owner":{"reference":"Practitioner/pr-0001"}}')->>'id'},
		extra_params => [ '-U', 'clinic_admin' ]);
	like($id, qr/^[0-9a-f-]{36}$/, "$where: admin login creates a task for pr-0001");
	is($n->safe_psql($db, "SELECT omnitask.current_practitioner_id()", extra_params => [ '-U', 'pract_0001' ]),
		'pr-0001', "$where: pract_0001 has its practitioner identity");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'accepted')"), 'ok',
		"$where: the practitioner accepts it");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'in-progress')"), 'ok',
		"$where: the practitioner starts it");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'requested')"), 'PT409',
		"$where: in-progress -> requested is refused with PT409");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'ready')"), 'PT409',
		"$where: custom workflow: in-progress -> ready is refused with PT409");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'on-hold')"), '23514',
		"$where: custom workflow: on-hold without a reason is refused with 23514");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'on-hold', 'patient travelling')"), 'ok',
		"$where: custom workflow: on-hold with a reason works");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'in-progress')"), 'ok',
		"$where: on-hold -> in-progress");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'completed')"), 'ok',
		"$where: in-progress -> completed");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'in-progress')"), 'PT409',
		"$where: custom workflow: completed -> in-progress refused for the practitioner");
	is(sqlstate($n, $db, 'clinic_admin', "SELECT omnitask.set_task_status('$id', 'in-progress')"), 'ok',
		"$where: custom workflow: completed -> in-progress allowed for an admin");
	is(sqlstate($n, $db, 'pract_0002', "SELECT omnitask.read_task('$id')"), 'PT404',
		"$where: another practitioner does not see the task");
	is($n->safe_psql($db, qq{
SELECT string_agg(version_id || ':' || status || ':' || recorded_by || ':' || coalesce(practitioner_id, '-'), ' ' ORDER BY version_id)
FROM omnitask.task_history WHERE id = '$id'}),
		'1:requested:clinic_admin:- 2:accepted:pract_0001:pr-0001 3:in-progress:pract_0001:pr-0001 '
		  . '4:on-hold:pract_0001:pr-0001 5:in-progress:pract_0001:pr-0001 6:completed:pract_0001:pr-0001 '
		  . '7:in-progress:clinic_admin:-',
		"$where: the new task's history has every version, writer and practitioner");

	# the inactive practitioner
	my ($err, $out) = ('', '');
	$n->psql($db, q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"to an inactive practitioner","for":{"reference":"Patient/p-x"},"owner":{"reference":"Practitioner/pr-0005"}}')},
		stderr => \$err, extra_params => [ '-U', 'clinic_admin', '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+23514:.*Task\.owner/, "$where: the inactive practitioner cannot be assigned (23514 naming Task.owner)");
	is($n->safe_psql($db, 'SELECT coalesce(omnitask.current_practitioner_id(), \'none\') || \' \' || (SELECT count(*) FROM omnitask.task)',
			extra_params => [ '-U', 'pract_0005' ]),
		'none 0', "$where: the inactive practitioner has no identity and sees no task");
	cmp_ok($n->safe_psql($db, "SELECT count(*) FROM omnitask.task WHERE owner_id = 'pr-0005'"), '>', 0,
		"$where: the inactive practitioner's tasks are still there for admins");

	# the practitioner registered late, and their own task
	is($n->safe_psql($db, "SELECT string_agg(id || ':' || status, ',') FROM omnitask.task", extra_params => [ '-U', 'pract_new' ]),
		"$own_new:in-progress", "$where: pract_new sees exactly their own task");
	is(sqlstate($n, $db, 'pract_new', "SELECT omnitask.set_task_status('$own_new', 'completed')"), 'ok',
		"$where: pract_new completes their restored task");

	# a restored task continues its history
	my ($tid, $v) = split /\|/, $n->safe_psql($db, "SELECT id, version_id FROM omnitask.task WHERE id = '$created[0]'");
	is(sqlstate($n, $db, 'clinic_admin', "SELECT omnitask.set_task_status('$tid', 'in-progress')"), 'ok',
		"$where: a restored task changes status");
	is($n->safe_psql($db, "SELECT version_id || ' ' || (SELECT count(*) FROM omnitask.task_history h WHERE h.id = t.id) FROM omnitask.task t WHERE id = '$tid'"),
		($v + 1) . ' ' . ($v + 1), "$where: its next version is " . ($v + 1) . ' and its history has no gap');
	is(sqlstate($n, $db, 'clinic_auditor', "SELECT omnitask.set_task_status('$tid', 'completed')"), '42501',
		"$where: the auditor still cannot write");

	is($n->safe_psql($db, 'SELECT count(*) FROM omnitask.verify()'), '0', "$where: verify() empty after the scenario")
	  or diag($n->safe_psql($db, 'SELECT * FROM omnitask.verify() LIMIT 10'));

	# the change feed: a reader resuming with a cursor taken on the source
	# before the dump gets exactly the versions it has not seen, once each
	my %seen = map { $_ => 1 } @$src_feed;
	my @all = split / /, $n->safe_psql($db, q{SELECT string_agg(id || '/' || version_id, ' ') FROM omnitask.task_history});
	my @new_here = sort grep { !$seen{$_} } @all;
	cmp_ok(scalar(@new_here), '>=', 5, "$where: versions written after the restore");
	my ($got) = feed_read($n, $db, $cursor_end);
	is(join(' ', sort @$got), join(' ', @new_here),
		"$where: a feed cursor taken at the end before the dump reads every version written after the restore");
	is(scalar(@$got), scalar(@new_here), "$where: ... each once");
	my %first = map { $_ => 1 } @$first100;
	($got) = feed_read($n, $db, $cursor_mid);
	is(join(' ', sort @$got), join(' ', sort grep { !$first{$_} } @all),
		"$where: a cursor taken after 100 versions reads the rest of the restored ones and the new ones");
	is(scalar(@$got), scalar(@all) - 100, "$where: ... each once");
	# new versions sort after every restored one
	my $restored = "'{" . join(',', @$src_feed) . "}'::text[]";
	is($n->safe_psql($db, qq{
SELECT (SELECT min(xid) FROM omnitask.task_history WHERE NOT (id || '/' || version_id = ANY ($restored)))
       > (SELECT max(xid) FROM omnitask.task_history WHERE id || '/' || version_id = ANY ($restored))}),
		't', "$where: every version written after the restore has a feed position above every restored one");
}

# Reads the change feed as the superuser from a cursor until it is
# exhausted (or $limit versions); returns ([id/version ...], next cursor).
sub feed_read
{
	my ($n, $db, $cursor, $limit) = @_;
	my @got;
	while (1)
	{
		my $count = defined $limit ? ($limit - @got < 1000 ? $limit - @got : 1000) : 1000;
		last if $count < 1;
		my ($list, $next) = split /\|/, $n->safe_psql($db, qq{
SELECT coalesce((SELECT string_agg((e -> 'resource' ->> 'id') || '/' || (e -> 'resource' -> 'meta' ->> 'versionId'), ' ' ORDER BY k)
                 FROM jsonb_array_elements(b -> 'entry') WITH ORDINALITY x(e, k)), '')
       || '|' || coalesce(substring(b -> 'link' -> 2 ->> 'url' FROM '_cursor=([0-9a-f]+)'), '')
FROM (SELECT omnitask.task_changes(NULLIF('$cursor', ''), $count) AS b) s}), -1;
		$cursor = $next;
		last if $list eq '';
		push @got, split / /, $list;
	}
	return (\@got, $cursor);
}

# The identifier claims of a database.
sub claims
{
	my ($n, $db) = @_;
	return $n->safe_psql($db, q{
SELECT count(*) || ' ' || md5(string_agg(system || '|' || value || '|' || task_id, ',' ORDER BY system, value))
FROM omnitask.task_identifier});
}
