#!/usr/bin/perl
#
# 160_bulk_import.pl: omnitask.import_tasks() while it runs, seen from
# another session, and the admin's bulk path under row-level security.
#
# What an operator relies on:
#   - omnitask.import_progress shows a running import's backend, role and
#     progress ("omnitask import: N done, E errors, R/s"), updated every
#     1,000 items, while the import's transaction is still open;
#   - the import goes on where it waited, keeps the good Tasks and the
#     order, reports the bad ones, and the progress line is gone after it;
#   - an admin login (not a superuser) cannot COPY into omnitask.task
#     (0A000) but can COPY into a staging table of their own and store it
#     with one INSERT ... SELECT; verify() is empty afterwards.
#
# The import is made to wait at a known point, not timed: its item 1,501
# has the id of a task another session is inserting in an open
# transaction, so it waits on the unique index until that one rolls back.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('bulk');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'omnitask'\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION omnitask;
	CREATE ROLE bulk_admin LOGIN IN ROLE omnitask_admin;
	GRANT CREATE ON SCHEMA public TO bulk_admin;
});

sub task
{
	my ($id, %extra) = @_;
	my $status = $extra{status} // 'completed';
	my $descr = exists $extra{description} ? $extra{description} : "bulk $id";
	return qq({"resourceType": "Task", "id": "$id", "status": "$status", "intent": "order", )
	  . (defined $descr ? qq("description": "$descr", ) : '')
	  . qq("for": {"reference": "Patient/bulk-1"}, "authoredOn": "2021-03-01T00:00:00Z", "lastModified": "2021-03-04T05:06:07Z"});
}

# 3,000 lines: line 700 invalid (no description), line 1,501 the blocked id
my @lines = map { task(sprintf('bulk-%04d', $_)) } 1 .. 3000;
$lines[699] = task('bulk-0700', description => undef);
$lines[1500] = task('bulk-block');
my $ndjson = join("\n", @lines) . "\n";
my $file = $node->basedir . '/Task.ndjson';
open(my $fh, '>', $file) or die "cannot write $file: $!";
print $fh $ndjson;
close($fh);

# the other session holds id bulk-block in an open transaction
my $holder = $node->background_psql('postgres');
$holder->query_safe(q{BEGIN; SELECT omnitask.import_task('} . task('bulk-block') . q{')});

# the import, as the admin login, in the background (psql running a script)
my $script = $node->basedir . '/import.sql';
open($fh, '>', $script) or die "cannot write $script: $!";
print $fh qq{\\set ndjson `cat $file`
CREATE TEMP TABLE problems AS SELECT * FROM omnitask.import_tasks(:'ndjson');
SELECT 'problems: ' || coalesce(string_agg(item || ':' || coalesce(expression, '') || ':' || code, ',' ORDER BY item), '') FROM problems;
};
close($fh);
my ($imp_out, $imp_err) = ('', '');
my $importer = IPC::Run::start(
	[ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-U', 'bulk_admin', '-d', $node->connstr('postgres'), '-f', $script ],
	'>', \$imp_out, '2>', \$imp_err);

ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM omnitask.import_progress
	WHERE progress ~ '^omnitask import: 1000 done, 1 errors, [0-9]+/s$' AND usename = 'bulk_admin'
}), 'while it waits, import_progress shows 1000 done and 1 error so far, as the admin');
is($node->safe_psql('postgres', q{SELECT count(*) FROM omnitask.task}), '0',
	'nothing of the import is visible to others before it commits');

$holder->query_safe('ROLLBACK');
$holder->quit;
$importer->finish;
is($?, 0, 'the import ends without error') or diag($imp_err);
like($imp_out, qr/^problems: 700:Task\.description:23514$/m,
	'the one bad line is reported with its line number, FHIRPath and SQLSTATE');
is($node->safe_psql('postgres', q{SELECT count(*) FROM omnitask.import_progress}), '0',
	'no progress line once it is done');
is($node->safe_psql('postgres', q{
	SELECT count(*) || ' ' || count(*) FILTER (WHERE h.operation = 'import' AND h.recorded_by = 'bulk_admin')
	  || ' ' || count(*) FILTER (WHERE t.last_modified = '2021-03-04T05:06:07Z')
	FROM omnitask.task t JOIN omnitask.task_history h USING (id, version_id)}),
	'2999 2999 2999', 'every good Task stored, with its history as an import and its lastModified kept');
is($node->safe_psql('postgres', q{
	SELECT bool_and(a.xid <= b.xid) FROM
	(SELECT id, xid, row_number() OVER (ORDER BY id) AS n FROM omnitask.task_history WHERE id LIKE 'bulk-0%') a
	JOIN (SELECT id, xid, row_number() OVER (ORDER BY id) AS n FROM omnitask.task_history WHERE id LIKE 'bulk-0%') b
	ON b.n = a.n + 1}), 't', 'stored in input order (transaction positions never decrease)');

# the admin's bulk path under RLS
my ($rc, $out, $err) = $node->psql('postgres',
	"SET ROLE bulk_admin; COPY omnitask.task (resource) FROM STDIN;\n" . task('bulk-copy', status => 'requested') . "\n\\.\n",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/0A000: COPY FROM not supported with row-level security/, 'COPY into omnitask.task as an admin: 0A000');
$node->safe_psql('postgres', "SET ROLE bulk_admin;
	CREATE TABLE public.staging (line int GENERATED ALWAYS AS IDENTITY, doc jsonb);
	\\copy public.staging (doc) FROM '$file' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')
	UPDATE public.staging SET doc = doc - 'id' - 'lastModified' || '{\"status\": \"requested\"}';
	INSERT INTO omnitask.task (resource) SELECT doc FROM public.staging WHERE line <> 700 ORDER BY line;");
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE h.operation = 'create' AND h.recorded_by = 'bulk_admin')
	FROM omnitask.task t JOIN omnitask.task_history h USING (id, version_id)}),
	'2999', 'COPY into a staging table and one INSERT ... SELECT: every row stored with its history');
is($node->safe_psql('postgres', q{SELECT count(*) FROM omnitask.verify()}), '0', 'verify() is empty')
  or diag($node->safe_psql('postgres', q{SELECT task_id || ': ' || problem FROM omnitask.verify() LIMIT 3}));

$node->stop;
done_testing();
