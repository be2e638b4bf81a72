#
# OmnitaskCitus.pm: what the Citus TAP tests (test/t/17x_citus*.pl) share.
#
# Skips the calling test when Citus is not installed for the PostgreSQL
# under test, starts Citus nodes with the settings omnitask needs there,
# forms a coordinator + workers cluster, and runs SQL as a given user
# returning "SQLSTATE: message" on error.  Citus is never built or shipped
# by this project.
#
package OmnitaskCitus;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Exporter 'import';

our @EXPORT = qw(citus_skip_unless_installed citus_node citus_cluster
  run_as ok_as error_as $DB);

our $DB = 'postgres';

# Skips the whole test (counted as skipped) without citus.so.
sub citus_skip_unless_installed
{
	my $pg_config = ($ENV{PGBIN} // '') ne '' ? "$ENV{PGBIN}/pg_config" : 'pg_config';
	my $pkglibdir = `$pg_config --pkglibdir`;
	chomp $pkglibdir;
	plan skip_all => "Citus is not installed for this PostgreSQL (no $pkglibdir/citus.so)"
	  unless -e "$pkglibdir/citus.so";
	return;
}

# A started Citus node with omnitask: the settings every node needs
# (Citus first in shared_preload_libraries; triggers on shards; two-phase
# commit across workers).  $extra is appended to postgresql.conf.
sub citus_node
{
	my ($name, $extra) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'citus,omnitask'
citus.enable_unsafe_triggers = on
max_prepared_transactions = 20
log_statement = none
} . ($extra // ''));
	$node->start;
	$node->safe_psql($DB, 'CREATE EXTENSION citus; CREATE EXTENSION omnitask;');
	return $node;
}

# Makes $coord the coordinator of @workers (all started with citus_node).
sub citus_cluster
{
	my ($coord, @workers) = @_;
	$coord->safe_psql($DB, sprintf(
		"SELECT citus_set_coordinator_host('%s', %d);", $coord->host, $coord->port));
	for my $w (@workers)
	{
		$coord->safe_psql($DB, sprintf(
			"SELECT citus_add_node('%s', %d);", $w->host, $w->port));
	}
	return;
}

# Runs $sql on $node as $user; returns (stdout, "SQLSTATE: message" or '').
sub run_as
{
	my ($node, $user, $sql) = @_;
	my ($out, $err) = ('', '');
	$node->psql($DB, "\\set VERBOSITY verbose\n$sql",
		stdout => \$out, stderr => \$err, on_error_stop => 1,
		extra_params => [ '-U', $user ]);
	my ($state) = $err =~ /ERROR:\s+([0-9A-Z]{5}: [^\n]*)/;
	return ($out, $state // ($err =~ /(FATAL|ERROR)/ ? $err : ''));
}

# Runs $sql as $user and asserts that it raised no error; returns stdout.
sub ok_as
{
	my ($node, $user, $sql, $name) = @_;
	my ($out, $err) = run_as($node, $user, $sql);
	is($err, '', "$name: no error");
	return $out;
}

# Asserts that $sql as $user fails with $expected ("SQLSTATE: message").
sub error_as
{
	my ($node, $user, $sql, $expected, $name) = @_;
	my (undef, $err) = run_as($node, $user, $sql);
	is($err, $expected, $name);
	return;
}

1;
