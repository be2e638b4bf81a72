#!/usr/bin/perl
#
# 141_pgaudit.pl: pgaudit next to omnitask, configured as the README's
# "Read audit" section documents it, for what omnitask's own audit does not
# cover: a superuser's read that bypasses the executor (COPY ... TO), and
# the statement text of a practitioner's direct SELECT in the server log.
#
#   shared_preload_libraries = 'omnitask,pgaudit'
#   ALTER ROLE <role> SET pgaudit.log = 'read'; pgaudit.log_relation = on
#
# What an auditor relies on:
#   - a practitioner's direct SELECT on omnitask.task, in a READ ONLY
#     transaction, is an AUDIT line naming the table, and omnitask's own
#     audit still records it once (the two extensions' hooks coexist);
#   - a practitioner cannot switch pgaudit's logging off (42501);
#   - a superuser's COPY omnitask.task TO is an AUDIT line.
#
# Needs Debian's postgresql-15-pgaudit (test/omnitask.sh installs it with
# the packaged PostgreSQL 15); skipped, saying so, when pgaudit is not
# installed for the PostgreSQL under test (the PostgreSQL 18 build).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
my ($major) = `pg_config --version` =~ /PostgreSQL (\d+)/;
plan skip_all => "pgaudit is not installed for this PostgreSQL ($pkglibdir/pgaudit.so is absent; "
  . "Debian packages it as postgresql-" . ($major // 'NN') . "-pgaudit)"
  unless -e "$pkglibdir/pgaudit.so";

my $DB = 'pga';
my $node = PostgreSQL::Test::Cluster->new('pgaudit');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'omnitask,pgaudit'
omnitask.audit = 'table'
pgaudit.log_relation = on
log_statement = none
));
$node->start;
$node->safe_psql('postgres', "CREATE DATABASE $DB");
$node->safe_psql($DB, q{
CREATE EXTENSION omnitask;
CREATE EXTENSION pgaudit;
CREATE ROLE prac1 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE dba1 LOGIN SUPERUSER;
SELECT omnitask.register_practitioner('prac1', 'p1');
ALTER ROLE prac1 SET pgaudit.log = 'read';
ALTER ROLE dba1 SET pgaudit.log = 'read';
});
my $task = $node->safe_psql($DB, q{
SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"pgaudit test","for":{"reference":"Patient/pga-pat"},"owner":{"reference":"Practitioner/p1"}}')->>'id'});

# psql as a role; returns (rc, stdout, stderr)
sub as_role
{
	my ($role, $sql) = @_;
	my ($out, $err);
	my $rc = $node->psql($DB, $sql, stdout => \$out, stderr => \$err,
		extra_params => [ '-U', $role, '-v', 'VERBOSITY=verbose' ]);
	return ($rc, $out, $err);
}

# the pgaudit lines the server log got from offset on that contain $marker
sub audit_lines
{
	my ($offset, $marker) = @_;
	return grep { /AUDIT: SESSION,/ && index($_, $marker) >= 0 }
	  split /\n/, slurp_file($node->logfile, $offset);
}

# a practitioner's direct SELECT, in a READ ONLY transaction
my $offset = -s $node->logfile;
my ($rc, $out, $err) = as_role('prac1', qq{
SET request.headers = '{"x-request-id": "pga-1"}';
BEGIN READ ONLY;
SELECT id /* pga-direct */ FROM omnitask.task WHERE id = '$task';
COMMIT;});
is($rc, 0, 'a practitioner reads omnitask.task directly in a READ ONLY transaction');
like($out, qr/^\Q$task\E$/m, 'the read returns the task');
# (the backend writes the line before the read returns)
my @lines = audit_lines($offset, 'pga-direct');
is(scalar @lines, 1, 'pgaudit logs the direct SELECT once');
like($lines[0] // '', qr/AUDIT: SESSION,\d+,\d+,READ,SELECT,TABLE,omnitask\.task,/,
	'the line is a READ of the table omnitask.task, with the statement');
$node->poll_query_until($DB, 'SELECT pending_bytes = 0 FROM omnitask.audit_stats()')
  or die 'the audit queue did not drain';
is($node->safe_psql($DB, q{
SELECT count(*) || ' ' || min(action) || ' ' || min(task_ids::text) FROM omnitask.audit_log WHERE request_id = 'pga-1'}),
	"1 direct {$task}", 'omnitask records the same read once, with the task id');

# the practitioner cannot switch pgaudit's logging off
($rc, $out, $err) = as_role('prac1', q{SET pgaudit.log = 'none'});
isnt($rc, 0, 'a practitioner cannot SET pgaudit.log');
like($err, qr/42501: permission denied to set parameter "pgaudit\.log"/, '42501 permission denied');
($rc, $out, $err) = as_role('prac1', q{ALTER ROLE prac1 SET pgaudit.log = 'none'});
like($err, qr/42501: permission denied to set parameter "pgaudit\.log"/,
	'nor ALTER ROLE ... SET it for themselves (42501)');

# a superuser's COPY ... TO, which bypasses omnitask's executor hook
$offset = -s $node->logfile;
($rc, $out, $err) = as_role('dba1', q{COPY /* pga-copy */ omnitask.task (id) TO STDOUT});
is($rc, 0, 'a superuser copies omnitask.task out');
like($out, qr/^\Q$task\E$/m, 'the copy holds the task');
@lines = audit_lines($offset, 'pga-copy');
ok(scalar @lines >= 1, 'pgaudit logs the superuser\'s COPY ... TO');
like($lines[0] // '', qr/AUDIT: SESSION,\d+,\d+,READ,/, 'as a READ');

$node->stop;
done_testing();
