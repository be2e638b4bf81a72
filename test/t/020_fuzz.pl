#!/usr/bin/perl
#
# 020_fuzz.pl: compiles test/fuzz/fuzz_validate.c (a libpq program), runs it
# against the running cluster in a fresh database omnitask_fuzz, and turns
# its summary into TAP assertions: it compiled; at least 1,000,000
# documents were validated and every one was answered with an
# OperationOutcome; invalid JSON failed with SQLSTATE 22P02 and left the
# session usable; the server did not crash or restart; each fixed
# adversarial large document of the stress phase was answered with an
# OperationOutcome; and the cost of the costliest shapes grows linearly:
# ten validations of n elements and one of 10n are timed in the same run and
# compared (no test asserts wall-clock time: CI machines slow down 2-5x).  Then random targeted
# edits of generated Tasks (test/fuzz/fuzz_edits.sql), each checked against
# the same edit with every element validated, and full validation of all
# that was stored.
#
# Environment (set by the Makefile under make installcheck): OMNITASK_TOP,
# PGBIN; the test runs a cluster of its own; OMNITASK_TMP if set (else $OMNITASK_TOP/test/tmp),
# where the driver is built.  Optional: OMNITASK_FUZZ_SEED (default 20240601),
# OMNITASK_FUZZ_DOCS (default 1000000; fewer fails the ">= 1,000,000"
# assertion, for quick local runs only).
#
# A failure is reproducible with the seed printed by the driver:
#   test/tmp/fuzz_validate -s SEED -f test/fixtures -o test/tmp/fuzz \
#       "host=SOCK port=PORT user=postgres dbname=omnitask_fuzz"
# and documents that failed on their own are written to
# test/tmp/fuzz/fuzz-*-SEED.jsonl (replay them with fuzz_validate -r FILE).
# fuzz_validate -d prints the generated documents without a server.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use Test::More;

my $TOP  = $ENV{OMNITASK_TOP}  or die "OMNITASK_TOP is not set\n";
# a cluster of its own, configured as the runner's (omnitask preloaded)
my $node = PostgreSQL::Test::Cluster->new('fuzz');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'omnitask'\nmax_prepared_transactions = 10\n");
$node->start;
my $SOCK = $node->host;
my $PORT = $node->port;
my $PGBIN = $ENV{PGBIN} // '/usr/lib/postgresql/15/bin';
my $SEED = $ENV{OMNITASK_FUZZ_SEED} // 20240601;
my $DOCS = $ENV{OMNITASK_FUZZ_DOCS} // 1_000_000;
my $DB   = 'omnitask_fuzz';
my $TIMEOUT = 1800;			# seconds: guards against a hung driver only (a loaded machine is slower)

# The stress documents of fuzz_validate.c, in order.  The first two found
# real bugs when they were written: issue expressions repeated the whole raw
# key path of a contained resource (a 3 MB document made a >256 MB
# OperationOutcome, so validate_task raised SQLSTATE 54000), and the ref-1 /
# dom-3 check was quadratic without CHECK_FOR_INTERRUPTS (40,000 contained
# resources and references took 11 s and ignored statement_timeout).
my @STRESS = qw(deep-long-keys many-local-refs many-contained-tasks
  many-unknown-keys many-nulls huge-values big-narrative
  deep-narrative duplicate-ids ucum-ranges);

# Shapes whose cost must grow linearly: the document for n elements.  The
# run compares one validation of 10n elements with ten validations of n
# elements, the same amount of work if the cost is linear (ratio ~1; a
# quadratic cost gives ~10).  Both sides take about the same time and stay
# small enough for the CPU caches, so a loaded machine slows them alike.
my %SCALING = (
	'many-nulls' => q{'{"resourceType":"Task","status":"draft","intent":"order","note":[null' || repeat(',null', N - 1) || ']}'},
	'many-unknown-keys' => q{'{"resourceType":"Task","status":"draft","intent":"order"' || (SELECT string_agg(format(',"k%s":null', i), '') FROM generate_series(1, N) i) || '}'},
	'many-local-refs' => q{'{"resourceType":"Task","status":"draft","intent":"order","contained":[' || (SELECT string_agg(format('{"resourceType":"Patient","id":"p%s"}', i), ',') FROM generate_series(1, N) i) || '],"basedOn":[' || (SELECT string_agg(format('{"reference":"#q%s"}', i), ',') FROM generate_series(1, N) i) || ']}'},
);
my $SCALING_N = 2000;
# a null or an unknown key validates in nanoseconds: their n is larger, so
# that ten documents of n take a measurable time (a few ms)
my %SCALING_N_OF = ('many-nulls' => 20000, 'many-unknown-keys' => 20000);
my $SCALING_MAX_RATIO = 4;	# one 10n / ten n; linear is ~1, quadratic ~10

plan tests => 10 + @STRESS + keys %SCALING;

my $tmp = $ENV{OMNITASK_TMP} // "$TOP/test/tmp";	# as test/run_tests.sh
my $out = "$tmp/fuzz";
mkdir $tmp;
mkdir $out;
my $bin = "$tmp/fuzz_validate";

sub capture
{
	my (@cmd) = @_;
	open(my $fh, '-|', @cmd) or die "cannot run $cmd[0]: $!";
	local $/;
	my $text = <$fh> // '';
	close $fh;
	return ($text, $?);
}

sub psql
{
	my ($db, @args) = @_;
	local $ENV{PGOPTIONS} = "-c client_min_messages=warning";
	my ($text, $rc) = capture("$PGBIN/psql", '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
							  '-h', $SOCK, '-p', $PORT, '-U', 'postgres', '-d', $db, @args);
	die "psql failed: @args\n" if $rc;
	return $text;
}

# --- build
my ($inc) = capture("$PGBIN/pg_config", '--includedir');
my ($lib) = capture("$PGBIN/pg_config", '--libdir');
chomp($inc, $lib);
unlink $bin;
my ($build_log, $build_rc) = capture('sh', '-c',
	'exec "$@" 2>&1', 'sh', 'gcc', '-O2', '-Wall', '-Wextra', '-Werror', "-I$inc",
	"$TOP/test/fuzz/fuzz_validate.c", "-L$lib", '-lpq', '-o', $bin);
ok($build_rc == 0 && -x $bin, 'fuzz_validate.c compiles with -Wall -Wextra -Werror')
  or diag($build_log);

# --- run
my %s;
my @stress_lines;
my $result = '';
my $elapsed = 0;
if (-x $bin)
{
	psql('postgres', '-c', "DROP DATABASE IF EXISTS $DB", '-c', "CREATE DATABASE $DB");
	psql($DB, '-c', 'CREATE EXTENSION omnitask');

	my $conninfo = "host=$SOCK port=$PORT user=postgres dbname=$DB";
	my $t0 = time;
	my $pid = open(my $fh, '-|') // die "fork: $!";
	if ($pid == 0)
	{
		open(STDERR, '>&', \*STDOUT);
		exec($bin, '-s', $SEED, '-n', $DOCS, '-f', "$TOP/test/fixtures", '-o', $out, $conninfo)
		  or die "exec $bin: $!";
	}
	local $SIG{ALRM} = sub { kill 'TERM', $pid; die "fuzz_validate timed out after $TIMEOUT s\n" };
	alarm $TIMEOUT;
	my @lines;
	eval {
		while (my $line = <$fh>)
		{
			chomp $line;
			push @lines, $line;
			# progress and findings on stderr; the summary as TAP notes
			if ($line =~ /^(SUMMARY|RESULT|STRESS) /) { note($line) }
			else { print STDERR "$line\n" }
		}
		1;
	} or diag($@);
	alarm 0;
	close $fh;
	$elapsed = time - $t0;
	for my $line (@lines)
	{
		if ($line =~ /^SUMMARY (.*)/)
		{
			my $kv = $1;
			while ($kv =~ /(\w+)=("[^"]*"|\S+)/g)
			{
				my ($k, $v) = ($1, $2);
				$v =~ s/^"(.*)"$/$1/;
				$s{$k} = $v;
			}
		}
		push @stress_lines, $line if $line =~ /^STRESS /;
		$result = $1 if $line =~ /^RESULT (\w+)/;
	}
	note("fuzz_validate ran for about $elapsed s (seed $SEED)");
}

my $n = sub { my $v = $s{ $_[0] }; defined $v && $v =~ /^\d+$/ ? $v : -1 };

ok($result ne '' && $n->('documents') >= 1_000_000 && $n->('documents') == $DOCS,
   sprintf('ran %s documents in %s batches in %s s (%s documents/s), seed %s',
		   map { $s{$_} // '?' } qw(documents batches seconds docs_per_second seed)))
  or diag("driver result: " . ($result || 'none (did not finish)'));

ok($n->('answered') == $n->('documents') && $n->('outcomes') == $n->('documents')
   && $n->('failed_batches') == 0 && $n->('documents') > 0,
   sprintf('every document was answered with an OperationOutcome (%s answered, %s outcomes, %s failed batches)',
		   map { $s{$_} // '?' } qw(answered outcomes failed_batches)));

ok($n->('valid') > 0 && $n->('invalid') > 0 && $n->('pristine_rejected') == 0,
   sprintf('both verdicts occur (%s valid, %s invalid) and the unmodified examples stayed valid',
		   map { $s{$_} // '?' } qw(valid invalid)));

ok($n->('invalid_json_sent') >= 1000 && $n->('invalid_json_22P02') == $n->('invalid_json_sent'),
   sprintf('invalid JSON failed with SQLSTATE 22P02 (%s of %s)',
		   map { $s{$_} // '?' } qw(invalid_json_22P02 invalid_json_sent)));

ok(($s{connection_alive} // '') eq 'yes' && ($s{select_1} // '') eq 'yes',
   'the connection is alive at the end and SELECT 1 works');

ok(($s{restarted} // '') eq 'no' && $n->('crashes') == 0
   && ($s{postmaster_start_before} // 'a') eq ($s{postmaster_start_after} // 'b'),
   'the server did not crash or restart (pg_postmaster_start_time unchanged)');

ok($s{stress_run} && $s{stress_run} == @STRESS, "the stress phase ran all " . scalar(@STRESS) . " documents")
  or diag("stress_run=" . ($s{stress_run} // '?'));
note("the whole run took $elapsed s");

for my $name (@STRESS)
{
	my ($line) = grep { /^STRESS name=\Q$name\E / } @stress_lines;
	my $ok = defined $line && $line =~ / answered=yes/;
	ok($ok, "stress document $name answered with an OperationOutcome")
	  or diag($line // 'not run');
	note($line) if defined $line;
}

# Linear growth: ten validations of n elements and one of 10n, timed in
# the same session (server-side, clock_timestamp), alternated five times and
# the best of each kept, so a loaded machine slows both alike and a
# scheduling hiccup would have to hit every run to count.
psql('postgres', '-c', "DROP DATABASE IF EXISTS ${DB}_scaling", '-c', "CREATE DATABASE ${DB}_scaling");
psql("${DB}_scaling", '-c', 'CREATE EXTENSION omnitask');
for my $name (sort keys %SCALING)
{
	my $n1 = $SCALING_N_OF{$name} // $SCALING_N;
	(my $small = $SCALING{$name}) =~ s/\bN\b/$n1/g;
	(my $large = $SCALING{$name}) =~ s/\bN\b/10 * $n1/ge;
	my $out = psql("${DB}_scaling", '-c', qq{
		CREATE TEMP TABLE d AS SELECT ($small)::jsonb AS small, ($large)::jsonb AS large;
		DO \$\$
		DECLARE ten_small float8 := 'infinity'; one_large float8 := 'infinity';
			t0 timestamptz; r jsonb;
		BEGIN
			FOR i IN 1..5 LOOP
				t0 := clock_timestamp();
				FOR j IN 1..10 LOOP
					SELECT omnitask.validate_task(small) INTO r FROM d;
				END LOOP;
				ten_small := least(ten_small, extract(epoch FROM clock_timestamp() - t0) * 1000);
				t0 := clock_timestamp();
				SELECT omnitask.validate_task(large) INTO r FROM d;
				one_large := least(one_large, extract(epoch FROM clock_timestamp() - t0) * 1000);
			END LOOP;
			PERFORM set_config('omnitask_test.ms', ten_small || ' ' || one_large, false);
		END \$\$;
		SELECT current_setting('omnitask_test.ms');});
	chomp $out;
	my @ms = split ' ', $out;
	my $ratio = $ms[0] > 0 ? $ms[1] / $ms[0] : 0;
	ok($ratio > 0 && $ratio < $SCALING_MAX_RATIO,
	   sprintf('%s: one validation of %d elements costs %.2fx ten of %d (%.1f ms vs %.1f ms; linear is ~1x, quadratic ~10x, limit %dx)',
			   $name, 10 * $n1, $ratio, $n1, $ms[1], $ms[0], $SCALING_MAX_RATIO));
}
psql('postgres', '-c', "DROP DATABASE IF EXISTS ${DB}_scaling");

# Targeted edits (test/fuzz/fuzz_edits.sql): random status changes, notes,
# business statuses, due dates and updates of single elements (valid and
# invalid) of 300 generated Tasks, each made once with every element
# validated (omnitask.revalidate_unchanged, undone) and once as writes run
# (only what changed is validated): the two must agree on every outcome and
# on the stored content, and full validation of everything stored after --
# each current Task (verify(): also its derived columns and history) and
# each history version (validate_task) -- finds nothing.
my $EDITS = 3000;
psql('postgres', '-c', "DROP DATABASE IF EXISTS ${DB}_edits", '-c', "CREATE DATABASE ${DB}_edits");
psql("${DB}_edits", '-c', 'CREATE EXTENSION omnitask');
psql("${DB}_edits", '-v', 'n=300', '-v', 'asof=2026-11-29', '-f', "$TOP/test/sample/generate.sql");
my $fz = psql("${DB}_edits", '-v', 'seed=' . (($SEED % 1000) / 1000), '-c', "SET fz.edits = $EDITS",
			  '-f', "$TOP/test/fuzz/fuzz_edits.sql");
my ($summary) = $fz =~ /^(edits=.*)$/m;
my %e = ($summary // '') =~ /(\w+)=(\d+)/g;
diag($_) for $fz =~ /^(MISMATCH .*)$/mg;
ok(($e{edits} // 0) == $EDITS && ($e{accepted} // 0) >= $EDITS / 5 && ($e{refused} // 0) >= $EDITS / 5
   && ($e{mismatches} // -1) == 0,
   "targeted edits agree with full validation on every outcome and stored content (" . ($summary // 'no summary') . ")");
my $after = psql("${DB}_edits", '-c', q{
	SELECT (SELECT count(*) FROM omnitask.verify()) || ' ' ||
		   (SELECT count(*) FROM omnitask.task_history h
			WHERE omnitask.validate_task(h.resource) -> 'issue' @> '[{"severity": "error"}]') || ' ' ||
		   (SELECT count(*) FROM omnitask.task_history)});
chomp $after;
my ($problems, $invalid, $versions) = split / /, $after;
ok(defined $versions && $problems == 0 && $invalid == 0 && $versions > 300,
   "after the edits full validation finds nothing: verify() $problems problems, $invalid invalid of $versions history versions");
psql('postgres', '-c', "DROP DATABASE IF EXISTS ${DB}_edits");

if (-x $bin)
{
	psql('postgres', '-c', "DROP DATABASE IF EXISTS $DB");
}
