#!/usr/bin/perl
#
# 060_upgrade.pl: ALTER EXTENSION omnitask UPDATE from 0.1 to the current
# version (default_version in omnitask.control; "0.2" below stands for it:
# the update runs every script from 0.1 on, the released 0.2 and 0.3 included).
#
#   - CREATE EXTENSION omnitask VERSION '0.1', sample data (n=300), creates,
#     updates and status changes by an admin and a practitioner login;
#   - a practitioner session that used omnitask before the upgrade stays
#     open through it;
#   - ALTER EXTENSION omnitask UPDATE: the version is 0.2, every task,
#     history row, registry row and the workflow are unchanged (md5), the
#     reporting views give the same answers, verify() exists and is empty;
#   - the behaviour after the upgrade: create, update (with if_match),
#     set_task_status, search_tasks, PT409 / PT412, RLS, both in new
#     sessions and in the session opened before the upgrade;
#   - a fresh CREATE EXTENSION at 0.2 has the same objects as the upgraded
#     one (pg_describe_object of the extension's members), with the same
#     definitions (functions, views, columns, indexes, triggers, policies),
#     privileges, and pg_dump configuration (extconfig / extcondition);
#   - no function of the extension is executable by PUBLIC (the contract
#     says so), in the fresh and in the upgraded database.
#
# There is no omnitask--0.2.sql today, so CREATE EXTENSION at 0.2 runs
# 0.1 and the update script; the comparison starts to bite once a full
# 0.2 script exists (as it should for the next version).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $TOP = $ENV{OMNITASK_TOP} or die "OMNITASK_TOP is not set\n";
my ($CUR) = slurp_file("$TOP/omnitask.control") =~ /^default_version\s*=\s*'([^']+)'/m
	or die "no default_version in omnitask.control\n";
my $UP = 'omnitask_up';
my $FRESH = 'omnitask_fresh';

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "log_statement = none\n");
$node->start;

$node->safe_psql('postgres', "CREATE DATABASE $UP");
$node->safe_psql($UP, "CREATE EXTENSION omnitask VERSION '0.1'");
is($node->safe_psql($UP, "SELECT extversion FROM pg_extension WHERE extname = 'omnitask'"), '0.1', 'installed at 0.1');
is($node->safe_psql($UP, "SELECT count(*) FROM pg_proc WHERE proname = 'verify' AND pronamespace = 'omnitask'::regnamespace"),
	'0', '0.1 has no verify()');

$node->safe_psql('postgres', q{
CREATE ROLE clinic_admin LOGIN IN ROLE omnitask_admin;
CREATE ROLE clinic_auditor LOGIN IN ROLE omnitask_auditor;
CREATE ROLE pract_0001 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE pract_0002 LOGIN IN ROLE omnitask_practitioner;
});
$node->command_ok(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'n=300',
		'-v', 'practitioners=20', '-v', 'patients=200', '-d', $UP,
		'-f', "$TOP/test/sample/generate.sql"
	],
	'sample data (n=300) loaded into 0.1');

my $t1 = $node->safe_psql($UP, q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"before the upgrade","for":{"reference":"Patient/pu-1"},"owner":{"reference":"Practitioner/pr-0001"}}')->>'id'},
	extra_params => [ '-U', 'clinic_admin' ]);
$node->safe_psql($UP, qq{
SELECT omnitask.set_task_status('$t1', 'accepted') IS NOT NULL;
SELECT omnitask.update_task('$t1', jsonb_set(omnitask.read_task('$t1'), '{description}', '"before the upgrade, edited"'), 2) IS NOT NULL;
}, extra_params => [ '-U', 'pract_0001' ]);
my $t2 = $node->safe_psql($UP, q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"ready","intent":"plan","priority":"stat","description":"practitioner''s own","for":{"reference":"Patient/pu-2"},"restriction":{"period":{"end":"2020-01-01"}}}')->>'id'},
	extra_params => [ '-U', 'pract_0002' ]);
$node->safe_psql($UP, q{
SELECT count(omnitask.set_task_status(id, 'cancelled', 'duplicate'))
FROM (SELECT id FROM omnitask.task WHERE status = 'requested' AND id LIKE 't-%' ORDER BY id LIMIT 10) s;
UPDATE omnitask.practitioner SET active = false WHERE id = 'pr-0020';
});

my %before = contents($UP);

# A practitioner session that has used omnitask (caches, cached plans)
# stays open through the upgrade.
my $session = $node->background_psql($UP, extra_params => [ '-U', 'pract_0001' ]);
is($session->query_safe("SELECT omnitask.current_practitioner_id() || ' ' || count(*) FROM omnitask.task"),
	'pr-0001 ' . $node->safe_psql($UP, "SELECT count(*) FROM omnitask.task WHERE owner_id = 'pr-0001'"),
	'open practitioner session sees its own tasks before the upgrade');
is($session->query_safe("SELECT omnitask.set_task_status('$t1', 'in-progress')->>'status'"), 'in-progress',
	'open session writes before the upgrade');
%before = contents($UP);

# --- the upgrade -------------------------------------------------------
$node->safe_psql($UP, 'ALTER EXTENSION omnitask UPDATE');
is($node->safe_psql($UP, "SELECT extversion FROM pg_extension WHERE extname = 'omnitask'"), $CUR, "ALTER EXTENSION UPDATE: version is $CUR");

my %after = contents($UP);
for my $k (sort keys %before)
{
	is($after{$k}, $before{$k}, "upgrade leaves $k unchanged");
}
is($node->safe_psql($UP, 'SELECT count(*) FROM omnitask.verify()'), '0', 'verify() exists after the upgrade and is empty')
  or diag($node->safe_psql($UP, 'SELECT * FROM omnitask.verify() LIMIT 10'));
is($node->safe_psql($UP, 'SELECT count(*) FROM omnitask.task t WHERE omnitask.task_row_problem(t) IS NOT NULL'), '0',
	'task_row_problem() exists and finds nothing');
is($node->safe_psql($UP, 'SELECT count(*) FROM omnitask.verify()', extra_params => [ '-U', 'clinic_auditor' ]), '0',
	'an auditor may run verify()');

# --- behaviour after the upgrade -------------------------------------------
is($session->query_safe("SELECT omnitask.set_task_status('$t1', 'on-hold')->>'status'"), 'on-hold',
	'the session opened before the upgrade still writes');
is($session->query_safe("SELECT count(*) FROM omnitask.task WHERE owner_id IS DISTINCT FROM 'pr-0001'"), '0',
	'the session opened before the upgrade still sees only its own tasks');
# the columns the upgrade added are filled by that session's trigger too
is($session->query_safe(q{SELECT (omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"open session","for":{"reference":"Patient/pu-4"},"identifier":[{"system":"urn:up","value":"os-1"}]}')->>'id') IS NOT NULL}),
	't', 'the session opened before the upgrade creates a task after it');
is($node->safe_psql($UP, q{SELECT count(*) FROM omnitask.task WHERE search_tokens @> '{identifier:urn:up|os-1}'}), '1',
	'its task has the search tokens the upgrade added');
$session->quit;

my $t3 = $node->safe_psql($UP, q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","priority":"asap","description":"after the upgrade","for":{"reference":"Patient/pu-3"},"owner":{"reference":"Practitioner/pr-0002"}}')->>'id'},
	extra_params => [ '-U', 'clinic_admin' ]);
like($t3, qr/^[0-9a-f-]{36}$/, 'create_task after the upgrade');
is($node->safe_psql($UP, qq{
SELECT omnitask.update_task('$t3', jsonb_set(omnitask.read_task('$t3'), '{description}', '"after the upgrade, edited"'), 1)->'meta'->>'versionId'},
		extra_params => [ '-U', 'pract_0002' ]),
	'2', 'update_task with if_match after the upgrade');
is(sqlstate('pract_0002', "SELECT omnitask.update_task('$t3', omnitask.read_task('$t3'), 1)"), 'PT412',
	'a stale if_match gives PT412');
is($node->safe_psql($UP, "SELECT omnitask.set_task_status('$t3', 'accepted')->>'status'", extra_params => [ '-U', 'pract_0002' ]),
	'accepted', 'set_task_status after the upgrade');
is(sqlstate('pract_0002', "SELECT omnitask.set_task_status('$t3', 'completed')"), 'PT409',
	'a refused transition gives PT409');
is(sqlstate('pract_0001', "SELECT omnitask.read_task('$t3')"), 'PT404', 'another practitioner does not see it');
is(sqlstate('clinic_admin', q{SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"x","for":{"reference":"Patient/p"},"owner":{"reference":"Practitioner/pr-0020"}}')}),
	'23514', 'the practitioner made inactive before the upgrade cannot be assigned');
is($node->safe_psql($UP, q{SELECT (omnitask.search_tasks(owner => 'pr-0002', status => 'accepted,in-progress', _count => 1000)->>'total')::int
                                = (SELECT count(*) FROM omnitask.task WHERE owner_id = 'pr-0002' AND status IN ('accepted', 'in-progress'))},
		extra_params => [ '-U', 'clinic_admin' ]),
	't', 'search_tasks total after the upgrade');
is($node->safe_psql($UP, q{SELECT omnitask.search_tasks(_count => 1000)->>'total' = (SELECT count(*)::text FROM omnitask.task)},
		extra_params => [ '-U', 'pract_0002' ]),
	't', 'search_tasks as a practitioner covers their own tasks only');
is($node->safe_psql($UP, qq{SELECT string_agg(version_id || ':' || operation || ':' || status, ' ' ORDER BY version_id) FROM omnitask.task_history WHERE id = '$t1'}),
	'1:create:requested 2:update:accepted 3:update:accepted 4:update:in-progress 5:update:on-hold',
	'history of a task written across the upgrade');
is($node->safe_psql($UP, 'SELECT count(*) FROM omnitask.verify()'), '0', 'verify() empty after the new writes');

# --- the upgraded objects equal a fresh 0.2 --------------------------------
$node->safe_psql('postgres', "CREATE DATABASE $FRESH");
$node->safe_psql($FRESH, 'CREATE EXTENSION omnitask');
is($node->safe_psql($FRESH, "SELECT extversion FROM pg_extension WHERE extname = 'omnitask'"), $CUR, "a fresh CREATE EXTENSION installs $CUR");

my $members = q{
SELECT string_agg(d, E'\n' ORDER BY d) FROM (
  SELECT pg_describe_object(classid, objid, objsubid) AS d
  FROM pg_depend
  WHERE refclassid = 'pg_extension'::regclass
    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omnitask')
    AND deptype = 'e') s};
my $m_up = $node->safe_psql($UP, $members);
my $m_fresh = $node->safe_psql($FRESH, $members);
cmp_ok(scalar(split /\n/, $m_fresh), '>', 30, 'the extension has its members');
is($m_up, $m_fresh, 'upgraded and fresh 0.2 have the same member objects');

my %defs = (
	'function definitions' => q{
SELECT string_agg(pg_get_functiondef(p.oid), E'\n' ORDER BY p.oid::regprocedure::text)
FROM pg_proc p WHERE p.pronamespace = 'omnitask'::regnamespace},
	'function privileges and attributes' => q{
SELECT string_agg(format('%s %s %s %s %s %s', p.oid::regprocedure, p.proacl, p.provolatile, p.proisstrict, p.proparallel, p.prosecdef), E'\n' ORDER BY p.oid::regprocedure::text)
FROM pg_proc p WHERE p.pronamespace = 'omnitask'::regnamespace},
	'relations, columns and privileges' => q{
SELECT string_agg(format('%s %s %s %s %s %s', c.relname, c.relkind, c.relacl, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT string_agg(format('%s:%s:%s:%s:%s', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attacl,
                                 pg_get_expr(ad.adbin, ad.adrelid)), ',' ORDER BY a.attnum)
        FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)), E'\n' ORDER BY c.relname)
FROM pg_class c WHERE c.relnamespace = 'omnitask'::regnamespace},
	'views' => q{
SELECT string_agg(c.relname || ' ' || c.reloptions::text || ' ' || pg_get_viewdef(c.oid), E'\n' ORDER BY c.relname)
FROM pg_class c WHERE c.relnamespace = 'omnitask'::regnamespace AND c.relkind = 'v'},
	'indexes and constraints' => q{
SELECT string_agg(d, E'\n' ORDER BY d) FROM (
  SELECT pg_get_indexdef(i.indexrelid) AS d FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'omnitask'::regnamespace
  UNION ALL
  SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'omnitask'::regnamespace) s},
	'triggers' => q{
SELECT string_agg(pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text, E'\n' ORDER BY t.tgrelid::regclass::text, t.tgname)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = 'omnitask'::regnamespace AND NOT t.tgisinternal},
	'policies' => q{
SELECT string_agg(format('%s %s %s %s %s %s', tablename, policyname, cmd, roles, qual, with_check), E'\n' ORDER BY tablename, policyname)
FROM pg_policies WHERE schemaname = 'omnitask'},
	'types' => q{
SELECT string_agg(t.typname || ' ' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), E'\n' ORDER BY t.typname)
FROM pg_type t WHERE t.typnamespace = 'omnitask'::regnamespace AND t.typtype = 'e'},
	'pg_dump configuration (extconfig, extcondition)' => q{
SELECT string_agg(c::regclass || ' ' || coalesce(cond, '<null>'), E'\n' ORDER BY c::regclass::text)
FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(c, cond) WHERE e.extname = 'omnitask'},
);
for my $what (sort keys %defs)
{
	my $up = $node->safe_psql($UP, $defs{$what});
	my $fresh = $node->safe_psql($FRESH, $defs{$what});
	ok($fresh ne '', "fresh 0.2 has $what");
	is($up, $fresh, "upgraded and fresh 0.2 have the same $what");
}
is($node->safe_psql($FRESH, 'SELECT count(*) FROM omnitask.verify()'), '0', 'verify() empty on the fresh database');

# The contract: "No function is executable by PUBLIC."
for my $db ($UP, $FRESH)
{
	is($node->safe_psql($db, q{
SELECT coalesce(string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid::regprocedure::text), '')
FROM pg_proc p WHERE p.pronamespace = 'omnitask'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')}),
		'', "$db: no omnitask function is executable by PUBLIC");
}

$node->stop;
done_testing();

# ========================================================================

sub contents
{
	my ($db) = @_;
	my %c;
	@c{qw(tasks history registry workflow status_changes task_counts workload)} = split /\|/, $node->safe_psql($db, q{
SELECT (SELECT md5(string_agg((t.id, t.version_id, t.last_updated, t.status, t.intent, t.priority, t.owner_id, t.patient_id, t.requester, t.code, t.description, t.authored_on, t.last_modified, t.due_at, t.resource)::text, ',' ORDER BY t.id)) FROM omnitask.task t),  -- the 0.1 columns (0.4 adds search_tokens, business_status: verify() checks them)
       (SELECT md5(string_agg((h.id, h.version_id, h.operation, h.status, h.owner_id, h.resource, h.recorded_at, h.recorded_by, h.practitioner_id)::text, ',' ORDER BY h.id, h.version_id)) FROM omnitask.task_history h),  -- the 0.2 columns (0.3 adds xid)
       (SELECT md5(string_agg(p::text, ',' ORDER BY p.id)) FROM omnitask.practitioner p),
       md5(omnitask.workflow()::text),
       (SELECT md5(string_agg(s::text, ',' ORDER BY s.id, s.version_id)) FROM omnitask.status_changes s),
       (SELECT md5(string_agg(c::text, ',' ORDER BY c.status, c.priority)) FROM omnitask.task_counts c),
       (SELECT md5(string_agg(w::text, ',' ORDER BY w.owner_id)) FROM omnitask.workload w)});
	return %c;
}

# The SQLSTATE a statement raises as a role ('ok' when it succeeds).
sub sqlstate
{
	my ($role, $sql) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql($UP, $sql, stdout => \$out, stderr => \$err,
		extra_params => [ '-U', $role, '-v', 'VERBOSITY=verbose' ]);
	return 'ok' if $rc == 0;
	return $1 if $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return "rc=$rc $err";
}
