# Hostile and huge inputs beyond validate_task's fuzz run (020_fuzz):
#  - a 10 MB Task, 100,000 notes, deep nesting: answered or refused with
#    bounded memory, never a crash;
#  - statement_timeout interrupts validation;
#  - thousands of random workflow documents thrown at set_workflow and random
#    parameters at search_tasks: each is accepted or refused with 22023/22P02,
#    nothing else, the server stays up and the workflow in force stays sound;
#  - search_tasks' parameters are bounded (a _sort names each key once, a
#    code list is at most 1024 bytes and deduplicated) and its kept plans
#    are a bounded LRU cache: one session's memory stays bounded however
#    many combinations it uses.
use strict;
use warnings;
use IPC::Run qw(run timeout);
use JSON::PP;
use MIME::Base64;
use PostgreSQL::Test::Cluster;
use Test::More;

my $pgbin = $ENV{PGBIN} || '/usr/lib/postgresql/15/bin';
# a cluster of its own, configured as the runner's (omnitask preloaded)
my $node = PostgreSQL::Test::Cluster->new('hostile');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'omnitask'\nmax_prepared_transactions = 10\n");
$node->start;
my $sock = $node->host;
my $port = $node->port;
my $db    = 'omnitask_hostile';
my $json  = JSON::PP->new->canonical;
srand($ENV{OMNITASK_FUZZ_SEED} || 20261124);

sub psql
{
	my ($sql, $dbname) = @_;
	my ($out, $err) = ('', '');
	run [ "$pgbin/psql", '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose',
		  '-h', $sock, '-p', $port, '-U', 'postgres', '-d', $dbname // $db ], \$sql, \$out, \$err,
	  timeout(300);
	chomp $out;
	my ($state) = $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return ($out, $state, $err);
}

psql("DROP DATABASE IF EXISTS $db; CREATE DATABASE $db;", 'postgres');
my ($o, $s, $e) = psql('CREATE EXTENSION omnitask;');
is($s, undef, 'a database with the extension') or diag($e);
my ($start) = psql('SELECT pg_postmaster_start_time();');

my $base = q({"resourceType": "Task", "status": "requested", "intent": "order", "description": "x", "for": {"reference": "Patient/p"}});

# --- huge inputs ---------------------------------------------------------------
($o, $s, $e) = psql(<<"SQL");
CREATE TABLE big AS SELECT '$base'::jsonb || jsonb_build_object('note',
	(SELECT jsonb_agg(jsonb_build_object('text', 'note number ' || g || ' ' || repeat('z', 60))) FROM generate_series(1, 100000) g)) AS doc;
SELECT octet_length(doc::text) > 9000000 FROM big;
SQL
is($o, 't', 'a 10 MB Task with 100,000 notes is built');
($o, $s, $e) = psql(<<'SQL');
SELECT omnitask.validate_task(doc) -> 'issue' -> 0 ->> 'diagnostics' FROM big;
SELECT omnitask.create_task(doc) -> 'meta' ->> 'versionId' FROM big;
SELECT jsonb_array_length(resource -> 'note'), pg_column_size(resource) < 10000000 FROM omnitask.task;
SELECT max(total_bytes) < 200 * 1024 * 1024 FROM pg_backend_memory_contexts;
SQL
is($o, "the Task is valid\n1\n100000|t\nt",
	'validated and stored, all 100,000 notes kept, the backend\'s memory stays bounded') or diag($e);

($o, $s, $e) = psql(q{SELECT omnitask.validate_task(jsonb_build_object('resourceType', 'Task', 'status', 'requested', 'intent', 'order', 'description', repeat('d', 2 * 1024 * 1024))) -> 'issue' -> 0 ->> 'diagnostics';});
like($o, qr/at most 1 MiB|too long|1048576/i, 'a 2 MB string is refused (FHIR strings are at most 1 MiB)') or diag($o . $e);

my $deep = '{"url": "u", "extension": [' x 5000 . '{"url": "u", "valueString": "x"}' . ']}' x 5000;
($o, $s, $e) = psql(qq{SELECT omnitask.validate_task(('$base'::jsonb || jsonb_build_object('extension', jsonb_build_array('$deep'::jsonb))))
	-> 'issue' -> 0 ->> 'code';});
ok(($o // '') eq 'too-costly' || ($s // '') eq '54001',
	'5,000 levels of nested extensions: refused (too-costly, or the JSON parser\'s stack limit)') or diag("$o $e");

($o, $s, $e) = psql(<<'SQL');
SET statement_timeout = '200ms';
SELECT count(omnitask.validate_task(doc)) FROM big, generate_series(1, 1000);
SQL
is($s, '57014', 'statement_timeout cancels a long validation (57014)') or diag($e);
($o, $s, $e) = psql(<<'SQL');
SET statement_timeout = '200ms';
SELECT count(*) FROM (SELECT omnitask.create_task(doc) FROM big, generate_series(1, 1000)) s;
SQL
is($s, '57014', 'statement_timeout cancels a long run of creates (57014), which stores none of them');
($o) = psql('SELECT count(*) FROM omnitask.task;');
is($o, '1', '... nothing of the cancelled statement is stored');

# --- random workflow documents ---------------------------------------------------
my ($default) = psql('SELECT omnitask.default_workflow();');
my $wf = decode_json($default);
my @states = qw(draft requested received accepted rejected ready cancelled in-progress on-hold failed completed entered-in-error);

sub random_scalar
{
	my @c = (sub { int(rand(1e6)) - 5e5 }, sub { rand() < 0.5 ? JSON::PP::true : JSON::PP::false },
			 sub { undef }, sub { $states[ int(rand(@states)) ] }, sub { 'x' x int(rand(3000)) },
			 sub { join '', map { chr(1 + int(rand(0x2FF))) } 1 .. int(rand(20)) },
			 sub { "admin" }, sub { "practitioner" }, sub { "auditor" }, sub { "'; DROP TABLE omnitask.task; --" },
			 sub { [] }, sub { {} }, sub { [ $states[ int(rand(@states)) ] ] });
	return $c[ int(rand(@c)) ]->();
}

# mutate a random place of a deep copy of the default workflow
sub mutate
{
	my ($node, $depth) = @_;
	if (ref $node eq 'HASH')
	{
		my @k = keys %$node;
		my $r = rand();
		if ($r < 0.15 && @k) { delete $node->{ $k[ int(rand(@k)) ] }; return $node; }
		if ($r < 0.25) { $node->{ 'k' . int(rand(5)) } = random_scalar(); return $node; }
		if ($r < 0.45 && @k) { $node->{ $k[ int(rand(@k)) ] } = random_scalar(); return $node; }
		if (@k) { my $k = $k[ int(rand(@k)) ]; $node->{$k} = mutate($node->{$k}, $depth + 1); }
		return $node;
	}
	if (ref $node eq 'ARRAY')
	{
		my $r = rand();
		if ($r < 0.15 && @$node) { splice(@$node, int(rand(@$node)), 1); return $node; }
		if ($r < 0.30) { push @$node, (@$node ? $node->[ int(rand(@$node)) ] : random_scalar()); return $node; }
		if ($r < 0.45 && @$node) { $node->[ int(rand(@$node)) ] = random_scalar(); return $node; }
		if (@$node) { my $i = int(rand(@$node)); $node->[$i] = mutate($node->[$i], $depth + 1); }
		return $node;
	}
	return rand() < 0.5 ? random_scalar() : $node;
}

my @docs;
for my $n (1 .. 3000)
{
	my $doc = decode_json($default);
	$doc = mutate($doc, 0) for 1 .. 1 + int(rand(3));
	my $text = JSON::PP->new->allow_nonref->encode($doc);
	$text = substr($text, 0, int(rand(length $text))) if rand() < 0.05;	# truncated: not JSON
	utf8::encode($text);
	push @docs, encode_base64($text, '');
}
my $copy = join("\n", @docs) . "\n\\.\n";
($o, $s, $e) = psql(<<"SQL");
CREATE TABLE wf_docs (n serial, b64 text);
COPY wf_docs (b64) FROM stdin;
$copy
CREATE TABLE wf_results (n int, state text);
DO \$\$
DECLARE
	d record;
	st text;
BEGIN
	FOR d IN SELECT n, convert_from(decode(b64, 'base64'), 'UTF8') AS t FROM wf_docs ORDER BY n LOOP
		BEGIN
			PERFORM omnitask.set_workflow(d.t::json);
			INSERT INTO wf_results VALUES (d.n, 'accepted');
			PERFORM omnitask.set_workflow(omnitask.default_workflow());
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
			INSERT INTO wf_results VALUES (d.n, st);
		END;
	END LOOP;
END
\$\$;
SELECT state || ':' || count(*) FROM wf_results GROUP BY state ORDER BY state;
SQL
is($s, undef, '3,000 random workflow documents were all answered') or diag($e);
my %by_state = map { split /:/ } split /\n/, ($o // '');
diag("set_workflow outcomes: " . join(', ', map { "$_ $by_state{$_}" } sort keys %by_state));
my @unexpected = grep { !/^(accepted|22023|22P02|22P05|54001)$/ } keys %by_state;
is_deeply(\@unexpected, [], 'every workflow document was accepted or refused with 22023/22P02 (22P05 for \\u0000 text, 54001 for nesting)');
ok(($by_state{'22023'} // 0) > 1000, 'most mutated documents are refused as invalid definitions');
($o, $s, $e) = psql(q{SELECT omnitask.workflow()::jsonb = omnitask.default_workflow()::jsonb, count(*) FROM omnitask.workflow_transitions;});
is($o, 't|32', 'the default workflow is in force afterwards and its transitions read back');

# --- random search parameters -------------------------------------------------------
my @params = qw(owner status priority patient _sort);
my @calls;
for my $n (1 .. 2000)
{
	my $p = $params[ int(rand(@params)) ];
	my $v = random_scalar();
	$v = $json->encode($v) if ref $v;
	$v = '' unless defined $v;
	$v = join(',', map { $states[ int(rand(@states)) ] } 1 .. 3) . (rand() < 0.5 ? ",$v" : '') if rand() < 0.3;
	my $call = "$p\t$v";
	utf8::encode($call);
	push @calls, encode_base64($call, '');
}
push @calls, encode_base64("_count\t$_", '') for (-1, 0, 1, 1000, 1001, 2147483647);
push @calls, encode_base64("_offset\t$_", '') for (-2147483648, -1, 0, 2147483647);
$copy = join("\n", @calls) . "\n\\.\n";
($o, $s, $e) = psql(<<"SQL");
CREATE TABLE search_calls (n serial, b64 text);
COPY search_calls (b64) FROM stdin;
$copy
CREATE TABLE search_results (n int, state text);
DO \$\$
DECLARE
	c record;
	st text;
BEGIN
	FOR c IN SELECT n, split_part(t, E'\\t', 1) AS p, substr(t, strpos(t, E'\\t') + 1) AS v
			 FROM (SELECT n, convert_from(decode(b64, 'base64'), 'UTF8') AS t FROM search_calls) s ORDER BY n LOOP
		BEGIN
			EXECUTE format('SELECT omnitask.search_tasks(%I => %s)', c.p,
						   CASE WHEN c.p IN ('_count', '_offset') THEN c.v ELSE quote_nullable(c.v) END);
			INSERT INTO search_results VALUES (c.n, 'ok');
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
			INSERT INTO search_results VALUES (c.n, st);
		END;
	END LOOP;
END
\$\$;
SELECT state || ':' || count(*) FROM search_results GROUP BY state ORDER BY state;
SQL
is($s, undef, '2,010 random search calls were all answered') or diag($e);
%by_state = map { split /:/ } split /\n/, ($o // '');
diag("search_tasks outcomes: " . join(', ', map { "$_ $by_state{$_}" } sort keys %by_state));
@unexpected = grep { !/^(ok|22023|22P05|22003)$/ } keys %by_state;
is_deeply(\@unexpected, [], 'every search call succeeded or was refused with 22023 (22003 for out-of-range integers)');
ok(($by_state{ok} // 0) > 10 && ($by_state{'22023'} // 0) > 1000, 'both outcomes occur');

# --- bounded search parameters and plan cache ---------------------------------------
sub message { my ($err) = @_; return $err =~ /ERROR:\s+[0-9A-Z]{5}:\s+([^\n]*)/ ? $1 : '' }
sub hint { my ($err) = @_; return $err =~ /HINT:\s+([^\n]*)/ ? $1 : '' }
($o, $s, $e) = psql(q{SELECT omnitask.search_tasks(_sort => repeat('priority,', 20000) || 'due');});
is($s, '22023', 'a 20,000-key _sort is refused with 22023');
is(message($e), q{invalid value for search parameter "_sort": "priority"}, '... naming _sort and the repeated key');
is(hint($e), q{_sort names each key at most once; "priority" is listed twice.}, '... and saying why');
($o, $s, $e) = psql(q{SELECT omnitask.search_tasks(_sort => 'due,-due');});
is("$s " . message($e), q{22023 invalid value for search parameter "_sort": "-due"}, 'a key listed twice with another sign is refused too');
($o, $s, $e) = psql(q{SELECT omnitask.search_tasks(_sort => '-priority,due,authored-on,modified,status') ->> 'resourceType';});
is($o, 'Bundle', 'all five keys once each: accepted');
for my $p (qw(status priority))
{
	my $code = $p eq 'status' ? 'requested' : 'stat';
	($o, $s, $e) = psql("SELECT omnitask.search_tasks($p => repeat('$code,', 100000) || '$code');");
	is("$s " . message($e), qq{22023 invalid value for search parameter "$p"},
		"a 100,000-item $p list is refused with 22023 naming $p");
	like($e, qr/DETAIL:\s+The list is longer than 1024 bytes\./, '... saying why');
	like(hint($e), qr/^$p takes a comma-separated list of /, '... with the codes it takes');
}
($o, $s, $e) = psql(q{SELECT count(omnitask.create_task(('{"resourceType": "Task", "status": "' || st || '", "intent": "order", "description": "x", "for": {"reference": "Patient/p"}}')::jsonb))
	FROM unnest(ARRAY['requested', 'requested', 'draft', 'ready']) st;
SELECT (SELECT count(*) FROM omnitask.task WHERE status IN ('requested', 'draft')) || '|' ||
	   (omnitask.search_tasks(status => 'requested,draft') ->> 'total') || '|' ||
	   (omnitask.search_tasks(status => 'requested,requested,draft,draft,requested') ->> 'total') || '|' ||
	   (omnitask.search_tasks(status => 'requested,requested,draft,draft,requested') -> 'link' -> 0 ->> 'url');});
like($o, qr/^4\n(\d+)\|\1\|\1\|Task\?status=requested,requested,draft,draft,requested&_count=50&_offset=0$/,
	'a code listed twice counts once (the same total), the self link keeps the list as given') or diag($e);

# many distinct _sort combinations in one session: at most 64 kept plan
# pairs, least recently used forgotten first
($o, $s, $e) = psql(<<'SQL');
CREATE TEMP TABLE combos AS
	SELECT row_number() OVER (ORDER BY a.k, b.k, sa, sb) AS n, sa || a.k || ',' || sb || b.k AS sort
	FROM unnest(ARRAY['priority', 'due', 'authored-on', 'modified', 'status']) a(k),
		 unnest(ARRAY['priority', 'due', 'authored-on', 'modified', 'status']) b(k),
		 unnest(ARRAY['', '-']) sa, unnest(ARRAY['', '-']) sb
	WHERE a.k <> b.k;
CREATE TEMP TABLE mem (after int, plans bigint, bytes bigint);
CREATE FUNCTION pg_temp.snapshot(after int) RETURNS void LANGUAGE sql AS $f$
	INSERT INTO mem SELECT after,
		(SELECT count(*) FROM pg_backend_memory_contexts WHERE name = 'CachedPlanSource' AND ident LIKE '%FROM omnitask.task t WHERE%'
			AND ident NOT LIKE '%pg_backend_memory_contexts%'),
		(SELECT sum(total_bytes) FROM pg_backend_memory_contexts WHERE name LIKE 'CachedPlan%' OR name = 'CacheMemoryContext')
$f$;
DO $d$
DECLARE c record;
BEGIN
	-- 'status' first, then 63 others: the cache is full
	PERFORM omnitask.search_tasks(_sort => 'status');
	FOR c IN SELECT * FROM combos WHERE n <= 63 ORDER BY n LOOP
		PERFORM omnitask.search_tasks(_sort => c.sort);
	END LOOP;
	-- 'status' used again, then one more: the least recently used goes, not 'status'
	PERFORM omnitask.search_tasks(_sort => 'status');
	PERFORM omnitask.search_tasks(_sort => (SELECT sort FROM combos WHERE n = 64));
	PERFORM pg_temp.snapshot(65);
	FOR c IN SELECT * FROM combos WHERE n BETWEEN 65 AND 80 ORDER BY n LOOP
		PERFORM omnitask.search_tasks(_sort => c.sort);
	END LOOP;
	PERFORM pg_temp.snapshot(81);
END
$d$;
SELECT (SELECT count(*) FROM combos), plans FROM mem ORDER BY after;
SELECT count(*) FROM pg_backend_memory_contexts WHERE name = 'CachedPlanSource' AND ident LIKE '%ORDER BY t.status ASC, t.id LIMIT%';
SELECT (SELECT bytes FROM mem WHERE after = 81) - (SELECT bytes FROM mem WHERE after = 65) < 512 * 1024;
SQL
is($o, "80|128\n80|128\n1\nt",
	'after 81 distinct _sort values one session keeps 64 plan pairs (128 plans), its cache memory does not grow, '
	  . 'and the first plan, used again when the cache was full, is still kept (least recently used, not first in, is forgotten)') or diag($e);
# --- still the same server ------------------------------------------------------------
my ($after) = psql('SELECT pg_postmaster_start_time();');
is($after, $start, 'the server never restarted');
psql("DROP DATABASE $db;", 'postgres');
done_testing();
