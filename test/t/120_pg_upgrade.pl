#!/usr/bin/perl
#
# 120_pg_upgrade.pl: a major-version upgrade of PostgreSQL (pg_upgrade, and
# pg_dump/pg_restore) with omnitask installed loses nothing.
#
# Needs two PostgreSQL installations with omnitask installed in each: the
# old one's bin directory in OMNITASK_PG_OLD_BIN, the new one in PGBIN (the
# server under test; test/omnitask.sh sets both in its PostgreSQL 18 run).
# Without an older installation the test is skipped, saying why.
#
# On the old version: sample data (n=300), login roles for each app role, a
# practitioner registered later, a display renamed, a practitioner made
# inactive, a custom workflow (set_workflow), tasks created by an admin and
# by a practitioner login and moved through the workflow.  Then:
#   - pg_dump -Fc of the old database, with the old version's pg_dump (see
#     below for why), while the old server runs;
#   - the pg_attver attribute option that Debian's 15.20 stamps on every
#     column, and that the new version's pg_dump (inside pg_upgrade) writes
#     out and the new server refuses, removed from the old cluster's
#     catalogs (the README's upgrade procedure, step 2);
#   - pg_upgrade --check, then pg_upgrade (copy mode) into a new cluster
#     initialised by the new version;
#   - on the upgraded cluster, and on a database of the new cluster restored
#     from the dump: every task row, history row, registry row, the
#     workflow definition and workflow() identical (md5), the extension at
#     the same version, verify() empty, what each role sees (RLS) unchanged,
#     search_tasks() and the reporting views answering the same, and the
#     behaviour: create, status changes along the custom workflow, PT409,
#     23514 for on-hold without a reason and for an inactive owner, the
#     auditor refused (42501), another practitioner not seeing the task, a
#     task continuing its history without a gap, and a LISTENing session
#     notified of a change (through the relay, shared_preload_libraries).

use strict;
use warnings;

use Cwd qw(getcwd);
use File::Basename qw(dirname);
use IPC::Run qw(start pump finish timeout);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $TOP = $ENV{OMNITASK_TOP} or die "OMNITASK_TOP is not set\n";
my $OLD_BIN = $ENV{OMNITASK_PG_OLD_BIN} // '';
my $NEW_BIN = $ENV{PGBIN} // '';
my $DB = 'omnitask_up';
# the README's upgrade procedure, step 2 (one database; returns the number
# of columns it changed)
my $strip_attver = q{
WITH s AS (
  UPDATE pg_catalog.pg_attribute
     SET attoptions = NULLIF(ARRAY(SELECT o FROM unnest(attoptions) o WHERE o NOT LIKE 'pg_attver=%'), '{}')
   WHERE array_to_string(attoptions, ',') LIKE '%pg_attver=%'
  RETURNING 1)
SELECT count(*) FROM s};

# the major version of the installation in a bin directory (0 if none)
sub major
{
	my ($bin) = @_;
	return 0 unless $bin && -x "$bin/pg_config";
	my $v = `"$bin/pg_config" --version`;
	return $v =~ /PostgreSQL (\d+)/ ? $1 : 0;
}
sub has_omnitask
{
	my ($bin) = @_;
	my $share = `"$bin/pg_config" --sharedir`;
	chomp $share;
	return -f "$share/extension/omnitask.control";
}

my ($old_major, $new_major) = (major($OLD_BIN), major($NEW_BIN));
plan skip_all => 'no older PostgreSQL to upgrade from: set OMNITASK_PG_OLD_BIN to its bin directory '
  . '(test/omnitask.sh does in its run of the newest version)'
  unless $old_major && $new_major && $old_major < $new_major;
plan skip_all => "omnitask is not installed in $OLD_BIN" unless has_omnitask($OLD_BIN);
plan skip_all => "omnitask is not installed in $NEW_BIN" unless has_omnitask($NEW_BIN);
note "upgrading PostgreSQL $old_major ($OLD_BIN) to $new_major ($NEW_BIN)";

my @initdb = ('--encoding=UTF8', '--locale=C.UTF-8');
my $conf = "shared_preload_libraries = 'omnitask'\nlog_statement = none\nmax_prepared_transactions = 0\n";

my $old = PostgreSQL::Test::Cluster->new('pg' . $old_major, install_path => dirname($OLD_BIN));
$old->init(extra => [@initdb]);
$old->append_conf('postgresql.conf', $conf);
$old->start;
is($old->safe_psql('postgres', 'SHOW server_version_num') =~ /^$old_major/ ? 1 : 0, 1,
	"the old cluster runs PostgreSQL $old_major");

# --- fill the old cluster --------------------------------------------------
$old->safe_psql('postgres', "CREATE DATABASE $DB");
$old->safe_psql($DB, 'CREATE EXTENSION omnitask');
$old->safe_psql('postgres', q{
CREATE ROLE clinic_admin LOGIN IN ROLE omnitask_admin;
CREATE ROLE clinic_auditor LOGIN IN ROLE omnitask_auditor;
CREATE ROLE pract_0001 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE pract_0002 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE pract_0005 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE pract_new LOGIN IN ROLE omnitask_practitioner;
});
$old->command_ok(
	[
		"$OLD_BIN/psql", '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'n=300',
		'-v', 'practitioners=20', '-v', 'patients=200', '-h', $old->host, '-p', $old->port,
		'-d', $DB, '-f', "$TOP/test/sample/generate.sql"
	],
	'old: sample data (n=300) loaded');

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

$old->safe_psql($DB, q{
SELECT omnitask.register_practitioner('pract_new', 'pr-new', 'Nia Newcomer, NP');
UPDATE omnitask.practitioner SET display = 'Amara Yamamoto-Okafor, RN' WHERE id = 'pr-0002';
});
$old->safe_psql($DB, "SELECT omnitask.set_workflow('$CUSTOM_WORKFLOW')", extra_params => [ '-U', 'clinic_admin' ]);

my @created;
for my $i (1 .. 4)
{
	my $owner = sprintf('pr-%04d', 1 + $i % 3);
	push @created, $old->safe_psql($DB, qq{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","priority":"urgent","description":"pg_upgrade test $i","for":{"reference":"Patient/pu-$i"},"owner":{"reference":"Practitioner/$owner"}}')->>'id'},
		extra_params => [ '-U', 'clinic_admin' ]);
}
$old->safe_psql($DB, qq{
SELECT omnitask.set_task_status('$created[0]', 'accepted');
SELECT omnitask.set_task_status('$created[0]', 'in-progress');
SELECT omnitask.set_task_status('$created[0]', 'on-hold', 'waiting for the lab');
SELECT omnitask.set_task_status('$created[1]', 'rejected', 'not our patient');
SELECT omnitask.set_task_status('$created[2]', 'accepted');
SELECT omnitask.set_task_status('$created[2]', 'in-progress');
SELECT omnitask.set_task_status('$created[2]', 'completed');
}, extra_params => [ '-U', 'clinic_admin' ]);
my $own_new = $old->safe_psql($DB, q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"ready","intent":"order","description":"created by a practitioner","for":{"reference":"Patient/pu-new"}}')->>'id'},
	extra_params => [ '-U', 'pract_new' ]);
$old->safe_psql($DB, "SELECT omnitask.set_task_status('$own_new', 'in-progress')", extra_params => [ '-U', 'pract_new' ]);
$old->safe_psql($DB, q{
SELECT omnitask.set_task_status(id, CASE status WHEN 'in-progress' THEN 'completed' ELSE 'accepted' END)
FROM (SELECT id, status FROM omnitask.task WHERE status IN ('in-progress', 'requested') AND id LIKE 't-%' ORDER BY id LIMIT 20) s;
UPDATE omnitask.practitioner SET active = false WHERE id = 'pr-0005';
});

is($old->safe_psql($DB, 'SELECT count(*) FROM omnitask.verify()'), '0', 'old: verify() empty');
my %want = contents($old, $DB);
note "old: $want{counts}";

# --- pg_dump of the old database ----------------------------------------------
# With the OLD version's pg_dump: PostgreSQL 15.20 stamps an attribute option
# pg_attver on every column, which its own pg_dump leaves out but 18.6's
# pg_dump writes (ALTER COLUMN ... SET (pg_attver=...)) and 18.6 rejects.
my $dumpfile = PostgreSQL::Test::Utils::tempdir() . '/omnitask.dump';
my $rolesfile = PostgreSQL::Test::Utils::tempdir() . '/roles.sql';
$old->command_ok(
	[ "$OLD_BIN/pg_dump", '-Fc', '-f', $dumpfile, '-h', $old->host, '-p', $old->port, '-d', $DB ],
	"pg_dump -Fc of the PostgreSQL $old_major database");
$old->command_ok(
	[ "$OLD_BIN/pg_dumpall", '--roles-only', '-f', $rolesfile, '-h', $old->host, '-p', $old->port ],
	'pg_dumpall --roles-only');
# The attribute option pg_attver, which this PostgreSQL 15 (Debian's 15.20)
# keeps on every column: its own pg_dump leaves it out, but the new
# version's pg_dump -- the one pg_upgrade runs -- writes it out as ALTER
# COLUMN ... SET (pg_attver=...), which PostgreSQL 18.6 refuses for any
# table.  The procedure removes it from every database of the old cluster
# (the old server's own catalog bookkeeping, not data: pg_dump of 15 does
# not keep it either) right before the old server stops for pg_upgrade.
my @dbs = split /\n/, $old->safe_psql('postgres', 'SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1');
my $stamped = 0;
for my $db (@dbs)
{
	$stamped += $old->safe_psql($db, $strip_attver);
}
note "pg_attver removed from $stamped columns in " . scalar(@dbs) . ' databases';
is($old->safe_psql($DB, q{SELECT count(*) FROM pg_attribute WHERE array_to_string(attoptions, ',') LIKE '%pg_attver=%'}),
	'0', 'old: no column keeps the pg_attver option');
is($old->safe_psql($DB, 'SELECT count(*) FROM omnitask.verify()'), '0', 'old: verify() still empty after the catalog step');
$old->stop;

# --- pg_upgrade ---------------------------------------------------------------
my $new = PostgreSQL::Test::Cluster->new('pg' . $new_major, install_path => dirname($NEW_BIN));
# 18 turned data checksums on by default; pg_upgrade needs the old setting
my @new_initdb = (@initdb, ($new_major >= 18 ? ('--no-data-checksums') : ()));
$new->init(extra => [@new_initdb]);
$new->append_conf('postgresql.conf', $conf);

# pg_upgrade wants a writable current directory
my $workdir = PostgreSQL::Test::Utils::tempdir();
my @upgrade = (
	"$NEW_BIN/pg_upgrade", '--no-sync',
	'-b', $OLD_BIN, '-B', $NEW_BIN,
	'-d', $old->data_dir, '-D', $new->data_dir,
	'-p', $old->port, '-P', $new->port, '-s', $new->host);
my $upgraded;
{
	my $here = getcwd();
	chdir $workdir or die "chdir $workdir: $!";
	command_ok([ @upgrade, '--check' ], 'pg_upgrade --check passes');
	my ($out, $err) = ('', '');
	$upgraded = IPC::Run::run(\@upgrade, '>', \$out, '2>', \$err);
	chdir $here;
	diag("pg_upgrade failed:\n$out$err\n"
		  . join('', map { slurp_file($_) } glob($new->data_dir . '/pg_upgrade_output.d/*/log/*.log')))
	  unless $upgraded;
}
ok($upgraded, "pg_upgrade from $old_major to $new_major");
if ($upgraded)
{
	$new->start;
	is($new->safe_psql('postgres', 'SHOW server_version_num') =~ /^$new_major/ ? 1 : 0, 1,
		"the upgraded cluster runs PostgreSQL $new_major");
	is($new->safe_psql($DB, "SELECT extversion FROM pg_extension WHERE extname = 'omnitask'"), $want{version},
		"upgraded: omnitask still at version $want{version}");
	check_copy($new, $DB, 'upgraded');
}
else
{
	# a failed pg_upgrade leaves the new cluster unusable: start afresh
	$new = PostgreSQL::Test::Cluster->new('pg' . $new_major . '_restore', install_path => dirname($NEW_BIN));
	$new->init(extra => [@new_initdb]);
	$new->append_conf('postgresql.conf', $conf);
	$new->start;
	# "role postgres already exists" is expected; everything else must apply
	$new->psql('postgres', undef, on_error_stop => 0, extra_params => [ '-f', $rolesfile ]);
}

# --- the dump restored into the new cluster ---------------------------------
# (the login roles came over with pg_upgrade, or from pg_dumpall --roles-only)
$new->safe_psql('postgres', 'CREATE DATABASE omnitask_restored');
$new->command_ok(
	[ "$NEW_BIN/pg_restore", '--exit-on-error', '-h', $new->host, '-p', $new->port, '-d', 'omnitask_restored', $dumpfile ],
	"pg_restore of the PostgreSQL $old_major dump into $new_major");
check_copy($new, 'omnitask_restored', 'restored');
my $notify_db = $upgraded ? $DB : 'omnitask_restored';

# --- notifications on the new cluster -----------------------------------------
{
	my ($in, $out, $err) = ('', '', '');
	my $h = start([ "$NEW_BIN/psql", '-X', '-q', '-A', '-t', '-h', $new->host, '-p', $new->port, '-d', $notify_db ],
		\$in, \$out, \$err, timeout(120));
	$in .= "LISTEN omnitask_task;\n\\echo __listening__\n";
	pump $h until $out =~ /__listening__/;
	my $id = $new->safe_psql($notify_db, q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"notified","for":{"reference":"Patient/pu-n"},"owner":{"reference":"Practitioner/pr-0001"}}')->>'id'},
		extra_params => [ '-U', 'clinic_admin' ]);
	my $heard = 0;
	for my $i (1 .. 300)
	{
		# psql shows notifications when it next talks to the server
		$in .= "SELECT 1;\n\\echo __done_${i}__\n";
		pump $h until $out =~ /__done_${i}__\n/;
		if ($out =~ /Asynchronous notification "omnitask_task" with payload ".*\Q$id\E/)
		{
			$heard = 1;
			last;
		}
		usleep(100_000);
	}
	ok($heard, "$notify_db on $new_major: a LISTENing session is notified of a new task")
	  or diag($out);
	like($out, qr/payload "\{"id": "\Q$id\E", "version": 1\}"/,
		"$notify_db on $new_major: the notification carries the id and version, nothing else");
	$in .= "\\q\n";
	finish $h;
}

$new->stop;
done_testing();

# ========================================================================

# md5s and counts of everything omnitask keeps, and what each role sees.
sub contents
{
	my ($n, $db) = @_;
	my %c;
	@c{qw(task history practitioner workflow workflow_row counts version views)} = split /\|/, $n->safe_psql($db, q{
SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM omnitask.task t),
       (SELECT md5(string_agg(h::text, ',' ORDER BY h.id, h.version_id)) FROM omnitask.task_history h),
       (SELECT md5(string_agg(p::text, ',' ORDER BY p.id)) FROM omnitask.practitioner p),
       md5(omnitask.workflow()::text),
       (SELECT md5(string_agg(w::text, ',')) FROM omnitask.workflow_definition w),
       format('%s tasks, %s history rows, %s practitioners',
              (SELECT count(*) FROM omnitask.task), (SELECT count(*) FROM omnitask.task_history),
              (SELECT count(*) FROM omnitask.practitioner)),
       (SELECT extversion FROM pg_extension WHERE extname = 'omnitask'),
       md5((SELECT string_agg(c::text, ',' ORDER BY c::text) FROM omnitask.task_counts c)
           || (SELECT string_agg(s::text, ',' ORDER BY s::text) FROM omnitask.status_changes s))});
	# row security: what each login sees, and search_tasks as a practitioner
	for my $role (qw(clinic_admin clinic_auditor pract_0001 pract_0002 pract_0005 pract_new))
	{
		$c{"sees_$role"} = $n->safe_psql($db, q{
SELECT count(*) || ' ' || coalesce(md5(string_agg(id || ':' || version_id, ',' ORDER BY id)), '-')
       || ' ' || (SELECT count(*) FROM omnitask.task_history)
FROM omnitask.task}, extra_params => [ '-U', $role ]);
	}
	$c{search} = $n->safe_psql($db, q{SELECT md5(omnitask.search_tasks(owner => 'pr-0001')::text)},
		extra_params => [ '-U', 'pract_0001' ]);
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

# The copy (upgraded or restored) holds the same and behaves the same.
sub check_copy
{
	my ($n, $db, $where) = @_;
	my %got = contents($n, $db);
	note "$where: $got{counts}";
	is($got{counts}, $want{counts}, "$where: same numbers of tasks, history rows and practitioners");
	is($got{task}, $want{task}, "$where: task rows identical (md5)");
	is($got{history}, $want{history}, "$where: history identical (md5)");
	is($got{practitioner}, $want{practitioner}, "$where: registry identical (md5, incl. the inactive practitioner)");
	is($got{workflow}, $want{workflow}, "$where: workflow() identical (the custom workflow)");
	is($got{workflow_row}, $want{workflow_row}, "$where: workflow_definition row identical");
	is($got{version}, $want{version}, "$where: same extension version");
	is($got{views}, $want{views}, "$where: reporting views answer the same");
	is($got{search}, $want{search}, "$where: search_tasks() answers a practitioner the same");
	for my $role (qw(clinic_admin clinic_auditor pract_0001 pract_0002 pract_0005 pract_new))
	{
		is($got{"sees_$role"}, $want{"sees_$role"}, "$where: $role sees the same tasks and history (RLS)");
	}
	is($n->safe_psql($db, 'SELECT count(*) FROM omnitask.verify()'), '0', "$where: verify() empty");

	# the behaviour
	my $id = $n->safe_psql($db, q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"after the upgrade","for":{"reference":"Patient/pu-1"},"owner":{"reference":"Practitioner/pr-0001"}}')->>'id'},
		extra_params => [ '-U', 'clinic_admin' ]);
	like($id, qr/^[0-9a-f-]{36}$/, "$where: an admin login creates a task for pr-0001");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'accepted')"), 'ok',
		"$where: the practitioner accepts it");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'in-progress')"), 'ok',
		"$where: the practitioner starts it");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'ready')"), 'PT409',
		"$where: custom workflow: in-progress -> ready is refused with PT409");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'on-hold')"), '23514',
		"$where: custom workflow: on-hold without a reason is refused with 23514");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'completed')"), 'ok',
		"$where: in-progress -> completed");
	is(sqlstate($n, $db, 'pract_0001', "SELECT omnitask.set_task_status('$id', 'in-progress')"), 'PT409',
		"$where: custom workflow: completed -> in-progress refused for the practitioner");
	is(sqlstate($n, $db, 'clinic_admin', "SELECT omnitask.set_task_status('$id', 'in-progress')"), 'ok',
		"$where: custom workflow: completed -> in-progress allowed for an admin");
	is(sqlstate($n, $db, 'pract_0002', "SELECT omnitask.read_task('$id')"), 'PT404',
		"$where: another practitioner does not see the task");
	is(sqlstate($n, $db, 'clinic_auditor', "SELECT omnitask.set_task_status('$id', 'completed')"), '42501',
		"$where: the auditor cannot write");
	is($n->safe_psql($db, qq{
SELECT string_agg(version_id || ':' || status || ':' || recorded_by, ' ' ORDER BY version_id)
FROM omnitask.task_history WHERE id = '$id'}),
		'1:requested:clinic_admin 2:accepted:pract_0001 3:in-progress:pract_0001 4:completed:pract_0001 5:in-progress:clinic_admin',
		"$where: the new task's history has every version and writer");
	is(sqlstate($n, $db, 'clinic_admin', q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"to an inactive practitioner","for":{"reference":"Patient/p-x"},"owner":{"reference":"Practitioner/pr-0005"}}')}),
		'23514', "$where: the inactive practitioner cannot be assigned (23514)");
	is(sqlstate($n, $db, 'pract_new', "SELECT omnitask.set_task_status('$own_new', 'completed')"), 'ok',
		"$where: pract_new completes the task they created before the upgrade");

	# a task from before the upgrade continues its history
	my $v = $n->safe_psql($db, "SELECT version_id FROM omnitask.task WHERE id = '$created[0]'");
	is(sqlstate($n, $db, 'clinic_admin', "SELECT omnitask.set_task_status('$created[0]', 'in-progress')"), 'ok',
		"$where: a task from before the upgrade changes status");
	is($n->safe_psql($db, "SELECT version_id || ' ' || (SELECT count(*) FROM omnitask.task_history h WHERE h.id = t.id) FROM omnitask.task t WHERE id = '$created[0]'"),
		($v + 1) . ' ' . ($v + 1), "$where: its next version is " . ($v + 1) . ' and its history has no gap');

	is($n->safe_psql($db, 'SELECT count(*) FROM omnitask.verify()'), '0', "$where: verify() empty after the scenario")
	  or diag($n->safe_psql($db, 'SELECT * FROM omnitask.verify() LIMIT 10'));
}
