# Randomized parity of search_tasks_query with SQL: thousands of random FHIR
# searches (the column parameters; code, identifier, group-identifier,
# business-status, performer, part-of, based-on, focus and encounter, which
# search_tokens answers, with values long enough to be kept as hashes; comma
# lists, repetition, :missing, :not, token system|code, date prefixes at
# every precision and zone) over 1,500 random
# tasks, each compared with the equivalent SQL over omnitask.task written
# independently here: the total and the first page's ids must be identical,
# as an admin and as a practitioner (row-level security scopes both sides).
# Deterministic: a fixed seed (OMNITASK_FUZZ_SEED overrides it).  The
# orders include the default one, in which a status list is read per
# status and merged, and dates are walked first like tokens (both forced
# plans cover them).
use strict;
use warnings;
use File::Temp;
use IPC::Run qw(run timeout);
use PostgreSQL::Test::Cluster;
use Test::More;
use Time::Local qw(timegm);

my $pgbin = $ENV{PGBIN} || '/usr/lib/postgresql/15/bin';
my $node = PostgreSQL::Test::Cluster->new('parity');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'omnitask'\n");
$node->start;
my $db = 'omnitask_parity';
srand($ENV{OMNITASK_FUZZ_SEED} || 20261129);

# Runs a script from a file (psql stopping at an error then leaves no
# unread input behind to fail on).
sub psql
{
	my ($sql, $dbname) = @_;
	my ($out, $err) = ('', '');
	my $f = File::Temp->new(SUFFIX => '.sql');
	print $f $sql;
	close $f;
	run [ "$pgbin/psql", '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-f', $f->filename,
		  '-h', $node->host, '-p', $node->port, '-U', 'postgres', '-d', $dbname // $db ],
	  '<', \undef, '>', \$out, '2>', \$err, timeout(600);
	chomp $out;
	return ($out, $err);
}

psql("CREATE DATABASE $db;", 'postgres');
my ($o, $e) = psql(<<'SQL');
SET client_min_messages = warning;
CREATE EXTENSION omnitask;
CREATE ROLE par_admin LOGIN IN ROLE omnitask_admin;
CREATE ROLE par_pr1 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE par_pr2; CREATE ROLE par_pr3; CREATE ROLE par_pr4;
SELECT count(omnitask.register_practitioner(('par_pr' || i)::name, 'p' || i, 'Dr. ' || i)) FROM generate_series(1, 4) i;
SELECT setseed(0.42);
-- random tasks: every status, intent and priority (or none), owners p1-p4 or
-- none, 30 patients, requesters of two types or none, codings with and
-- without systems, authoredOn as a date or a dateTime in three zones, due
-- dates from restriction or executionPeriod, as dates or dateTimes
SELECT count(omnitask.import_task(jsonb_strip_nulls(jsonb_build_object(
	'resourceType', 'Task', 'id', 'par-' || g, 'description', 'parity ' || g,
	'status', (ARRAY['draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled',
					 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error'])[1 + floor(random() * 12)::int],
	'intent', (ARRAY['order', 'plan', 'proposal', 'original-order'])[1 + floor(random() * 4)::int],
	'priority', (ARRAY['routine', 'urgent', 'asap', 'stat', NULL])[1 + floor(random() * 5)::int],
	'for', jsonb_build_object('reference', 'Patient/pt' || floor(random() * 30)::int),
	'owner', CASE WHEN random() < 0.8 THEN jsonb_build_object('reference', 'Practitioner/p' || (1 + floor(random() * 4)::int)) END,
	'requester', CASE floor(random() * 3)::int WHEN 0 THEN jsonb_build_object('reference', 'Practitioner/p' || (1 + floor(random() * 4)::int))
											   WHEN 1 THEN jsonb_build_object('reference', 'Organization/o' || (1 + floor(random() * 2)::int)) END,
	'code', CASE WHEN random() < 0.85 THEN jsonb_build_object('coding',
		(SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
			'system', (ARRAY['http://s1', 'http://s2', NULL])[1 + floor(random() * 3)::int],
			'code', 'c' || (1 + floor(random() * 4)::int))))
		 FROM generate_series(0, floor(random() * 2)::int + g * 0))) END,
	'authoredOn', CASE WHEN random() < 0.3
		THEN to_char(timestamp '2026-01-01' + random() * interval '90 days', 'YYYY-MM-DD')
		ELSE to_char(timestamp '2026-01-01' + random() * interval '90 days', 'YYYY-MM-DD"T"HH24:MI:SS')
			 || (ARRAY['Z', '+02:00', '-05:00'])[1 + floor(random() * 3)::int] END,
	'restriction', CASE WHEN random() < 0.4 THEN jsonb_build_object('period', jsonb_build_object('end',
		to_char(timestamp '2026-02-01' + random() * interval '60 days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))) END,
	'identifier', CASE WHEN random() < 0.7 THEN
		(SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
			'system', (ARRAY['urn:a', 'urn:b', NULL])[1 + floor(random() * 3)::int],
			-- v5: longer than a search token (kept as a hash, checked exactly)
			'value', 'v' || (1 + floor(random() * 5)::int) || CASE WHEN random() < 0.3 THEN repeat('x', 300) ELSE '' END)))
		 FROM generate_series(0, floor(random() * 2)::int + g * 0)) END,
	'groupIdentifier', CASE WHEN random() < 0.6 THEN jsonb_strip_nulls(jsonb_build_object(
		'system', (ARRAY['urn:g', 'urn:h', NULL])[1 + floor(random() * 3)::int],
		'value', 'g' || (1 + floor(random() * 4)::int))) END,
	-- codings and a text, a text only, or none
	'businessStatus', CASE floor(random() * 3)::int
		WHEN 0 THEN jsonb_build_object('text', 'stage ' || g % 3, 'coding',
			(SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
				'system', (ARRAY['http://bs1', 'http://bs2', NULL])[1 + floor(random() * 3)::int],
				'code', 'b' || (1 + floor(random() * 4)::int))))
			 FROM generate_series(0, floor(random() * 2)::int + g * 0)))
		WHEN 1 THEN jsonb_build_object('text', 'waiting ' || g % 4) END,
	'performerType', CASE WHEN random() < 0.6 THEN
		(SELECT jsonb_agg(CASE WHEN random() < 0.15 THEN jsonb_build_object('text', 'someone') ELSE
			jsonb_build_object('coding', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
				'system', (ARRAY['http://pt1', 'http://pt2', NULL])[1 + floor(random() * 3)::int],
				'code', 'r' || (1 + floor(random() * 4)::int))))
			 FROM generate_series(0, floor(random() * 2)::int + k * 0))) END)
		 FROM generate_series(0, floor(random() * 2)::int + g * 0) k) END,
	'partOf', CASE WHEN random() < 0.5 THEN jsonb_build_array(jsonb_build_object('reference',
		'Task/par-' || (1 + floor(random() * 50)::int))) END,
	-- references of two types, and some with a display only
	'basedOn', CASE WHEN random() < 0.6 THEN
		(SELECT jsonb_agg(CASE WHEN random() < 0.1 THEN jsonb_build_object('display', 'an outside order')
			ELSE jsonb_build_object('reference', (ARRAY['ServiceRequest/sr', 'CarePlan/cp'])[1 + floor(random() * 2)::int]
									|| (1 + floor(random() * 8)::int)) END)
		 FROM generate_series(0, floor(random() * 2)::int + g * 0)) END,
	'focus', CASE WHEN random() < 0.6 THEN CASE WHEN random() < 0.1 THEN jsonb_build_object('display', 'a document')
		ELSE jsonb_build_object('reference', (ARRAY['ServiceRequest/sr', 'DocumentReference/d'])[1 + floor(random() * 2)::int]
								|| (1 + floor(random() * 8)::int)) END END,
	'encounter', CASE WHEN random() < 0.6 THEN CASE WHEN random() < 0.1 THEN jsonb_build_object('display', 'last visit')
		ELSE jsonb_build_object('reference', 'Encounter/e' || (1 + floor(random() * 12)::int)) END END,
	'executionPeriod', CASE WHEN random() < 0.3 THEN jsonb_build_object('end',
		to_char(timestamp '2026-02-01' + random() * interval '60 days', 'YYYY-MM-DD'), 'start', CASE WHEN random() < 0.5
		THEN to_char(timestamp '2026-01-01' + random() * interval '30 days', 'YYYY-MM-DD') END) END))))
FROM generate_series(1, 1500) g;
SQL
is($o, "4\n\n1500", 'four practitioners, 1,500 random tasks') or diag($e);

sub pick { return $_[ int(rand(@_)) ] }
sub some { my @v = @_; my $n = 1 + int(rand(3)); return map { pick(@v) } 1 .. $n }
sub sqlq { my ($s) = @_; $s =~ s/'/''/g; return "'$s'" }
sub in_list { return join(', ', map { sqlq($_) } @_) }

my @statuses = qw(draft requested received accepted rejected ready cancelled in-progress on-hold failed completed entered-in-error);
my %token = (
	status => [ 't.status::text', \@statuses, 'http://hl7.org/fhir/task-status', 'false' ],
	intent => [ 't.intent::text', [qw(order plan proposal original-order)], 'http://hl7.org/fhir/task-intent', 'false' ],
	priority => [ 't.priority::text', [qw(routine urgent asap stat)], 'http://hl7.org/fhir/request-priority',
				  q{NOT (t.resource ? 'priority')} ],
);
my %dates = (
	'authored-on' => [ 't.authored_on', q{NOT (t.resource ? 'authoredOn')} ],
	'due-date' => [ 't.due_at', 't.due_at IS NULL' ],
	'_lastUpdated' => [ 't.last_updated', 'false' ],
	'modified' => [ 't.last_modified', 'false' ],
	'period' => [ 'NULL', q{NOT (t.resource ? 'executionPeriod')} ],
);
# period's range [S, E): executionPeriod start and end as UTC days, open when absent
my ($ps, $pe) = (q{COALESCE(((t.resource #>> '{executionPeriod,start}') || 'Z')::timestamptz, '-infinity')},
	q{COALESCE(((t.resource #>> '{executionPeriod,end}') || 'Z')::timestamptz + interval '1 day', 'infinity')});

# One random date value: (text, SQL lower bound, SQL upper bound).
sub random_date
{
	my $day = 1 + int(rand(28));
	my $mon = 1 + int(rand(4));
	my $p = int(rand(4));
	return ('2026', q{timestamptz '2026-01-01Z'}, q{timestamptz '2027-01-01Z'}) if $p == 0;
	my $m = sprintf('2026-%02d', $mon);
	return ($m, "timestamptz '$m-01Z'", "timestamptz '$m-01Z' + interval '1 month'") if $p == 1;
	my $d = sprintf('%s-%02d', $m, $day);
	return ($d, "timestamptz '${d}Z'", "timestamptz '${d}Z' + interval '1 day'") if $p == 2;
	my $zone = pick('Z', '+02:00', '-05:00');
	my $t = sprintf('%sT%02d:%02d:%02d%s', $d, int(rand(24)), int(rand(60)), int(rand(60)), $zone);
	return ($t, "timestamptz '$t'", "timestamptz '$t' + interval '1 second'");
}

# r17 (0.8): a range of a few days of February 2026, repeated (AND): from
# a day or an instant (ge, gt, sa) to one 0-12 days later (lt, le, eb),
# read day by day in the page's order (search_query.c, days_finish):
# (query text, SQL condition).
sub random_days
{
	my ($name, $col) = @_;
	my $day = 1 + int(rand(16));
	my (@q, @c);
	for my $side (0, 1)
	{
		my $d = sprintf('2026-02-%02d', $side ? $day + int(rand(13)) : $day);
		my ($t, $lo, $hi) = ($d, "timestamptz '${d}Z'", "timestamptz '${d}Z' + interval '1 day'");
		if (rand() < 0.5)
		{
			$t = sprintf('%sT%02d:%02d:%02d%s', $d, int(rand(24)), int(rand(60)), int(rand(60)), pick('Z', '+02:00', '-05:00'));
			($lo, $hi) = ("timestamptz '$t'", "timestamptz '$t' + interval '1 second'");
		}
		my $prefix = $side ? pick(qw(lt le eb)) : pick(qw(ge gt sa));
		my %sql = (ge => ">= $lo", gt => ">= $hi", sa => ">= $hi", lt => "< $lo", le => "< $hi", eb => "< $lo");
		(my $enc = $t) =~ s/\+/%2B/g;
		push @q, "$name=$prefix$enc";
		push @c, "$col $sql{$prefix}";
	}
	return (join('&', @q), '(' . join(' AND ', @c) . ')');
}

# One random parameter: (query text, SQL condition).
sub random_param
{
	my $kind = int(rand(16));
	if ($kind <= 1)
	{
		my $name = pick(sort keys %token);
		my ($col, $codes, $system, $missing) = @{ $token{$name} };
		if (rand() < 0.15)
		{
			my $v = pick('true', 'false');
			return ("$name:missing=$v", $v eq 'true' ? "($missing)" : "NOT ($missing)");
		}
		my @v = some(@$codes);
		my @q = map { rand() < 0.2 ? "$system|$_" : $_ } @v;
		my $cond = "$col IN (" . in_list(@v) . ')';
		return ("$name:not=" . join(',', @q), "NOT ($cond)") if rand() < 0.3;
		return ("$name=" . join(',', @q), $cond);
	}
	if ($kind == 2)
	{
		my $name = pick(sort keys %dates);
		my ($col, $missing) = @{ $dates{$name} };
		if (rand() < 0.1)
		{
			my $v = pick('true', 'false');
			return ("$name:missing=$v", $v eq 'true' ? "($missing)" : "NOT ($missing)");
		}
		return random_days($name, $col) if $name ne 'period' && rand() < 0.25;
		my (@q, @c);
		for (1 .. (rand() < 0.8 ? 1 : 2))
		{
			my ($text, $lo, $hi) = random_date();
			my $prefix = pick('', qw(eq ne lt gt le ge sa eb));
			my %sql = ('' => "($col >= $lo AND $col < $hi)", eq => "($col >= $lo AND $col < $hi)",
					   ne => "NOT ($col >= $lo AND $col < $hi)", lt => "$col < $lo", eb => "$col < $lo",
					   gt => "$col >= $hi", sa => "$col >= $hi", le => "$col < $hi", ge => "$col >= $lo");
			%sql = ('' => "($ps >= $lo AND $pe <= $hi)", eq => "($ps >= $lo AND $pe <= $hi)",
					ne => "NOT ($ps >= $lo AND $pe <= $hi)", lt => "$ps < $lo", gt => "$pe > $hi",
					le => "($ps < $lo OR ($ps >= $lo AND $pe <= $hi))", ge => "($pe > $hi OR ($ps >= $lo AND $pe <= $hi))",
					sa => "$ps >= $hi", eb => "$pe <= $lo") if $name eq 'period';
			(my $enc = $text) =~ s/\+/%2B/g;
			push @q, "$prefix$enc";
			push @c, "COALESCE($sql{$prefix}, false)" . ($name eq 'period' ? q{ AND t.resource ? 'executionPeriod'} : '');
		}
		return ("$name=" . join(',', @q), '(' . join(' OR ', @c) . ')');
	}
	if ($kind == 3)
	{
		if (rand() < 0.2)
		{
			my $v = pick('true', 'false');
			return ("owner:missing=$v", $v eq 'true' ? 't.owner_id IS NULL' : 't.owner_id IS NOT NULL');
		}
		my @v = some(map { "p$_" } 1 .. 5);
		return ('owner=' . join(',', map { rand() < 0.5 ? "Practitioner/$_" : $_ } @v),
				't.owner_id IN (' . in_list(@v) . ')');
	}
	if ($kind == 4)
	{
		my $name = pick('patient', 'subject');
		my @v = some(map { "pt$_" } 0 .. 35);
		return ("$name=" . join(',', map { rand() < 0.5 ? "Patient/$_" : $_ } @v),
				't.patient_id IN (' . in_list(@v) . ')');
	}
	if ($kind == 5)
	{
		if (rand() < 0.2)
		{
			my $v = pick('true', 'false');
			return ("requester:missing=$v", $v eq 'true' ? 't.requester IS NULL' : 't.requester IS NOT NULL');
		}
		my @v = some('Practitioner/p1', 'Practitioner/p2', 'Organization/o1', 'p3', 'o2', 'p9');
		return ('requester=' . join(',', @v),
				'(' . join(' OR ', map { m{/} ? 't.requester = ' . sqlq($_) : 't.requester LIKE ' . sqlq("%/$_") } @v) . ')');
	}
	if ($kind == 6)
	{
		my @v = some(map { "par-$_" } 1 .. 1600);
		my $cond = 't.id IN (' . in_list(@v) . ')';
		return ('_id:not=' . join(',', @v), "NOT ($cond)") if rand() < 0.3;
		return ('_id=' . join(',', @v), $cond);
	}
	if ($kind == 7)
	{
		my @v = some(map { "par-$_" } 1 .. 55);
		return ('part-of=' . join(',', map { rand() < 0.5 ? "Task/$_" : $_ } @v),
				"EXISTS (SELECT FROM jsonb_array_elements(t.resource -> 'partOf') r WHERE r ->> 'reference' IN ("
				  . in_list(map { "Task/$_" } @v) . '))');
	}
	return coding_param('identifier', 'identifier', "t.resource -> 'identifier'", 'value', 'v', 'urn:a', 'urn:b')
	  if $kind == 8;
	return coding_param('group-identifier', 'groupIdentifier', "jsonb_build_array(t.resource -> 'groupIdentifier')",
						'value', 'g', 'urn:g', 'urn:h')
	  if $kind == 10;
	return coding_param('business-status', 'businessStatus', "t.resource -> 'businessStatus' -> 'coding'",
						'code', 'b', 'http://bs1', 'http://bs2')
	  if $kind == 11;
	return coding_param('performer', 'performerType',
						"(SELECT jsonb_agg(x) FROM jsonb_array_elements(t.resource -> 'performerType') p, "
						  . "jsonb_array_elements(p -> 'coding') x)", 'code', 'r', 'http://pt1', 'http://pt2')
	  if $kind == 12;
	return reference_param('based-on', 'basedOn', "t.resource -> 'basedOn'", undef,
						   map { ("ServiceRequest/sr$_", "CarePlan/cp$_") } 1 .. 9)
	  if $kind == 13;
	return reference_param('focus', 'focus', "jsonb_build_array(t.resource -> 'focus')", undef,
						   map { ("ServiceRequest/sr$_", "DocumentReference/d$_") } 1 .. 9)
	  if $kind == 14;
	return reference_param('encounter', 'encounter', "jsonb_build_array(t.resource -> 'encounter')", 'Encounter',
						   map { "Encounter/e$_" } 1 .. 14)
	  if $kind == 15;
	return coding_param('code', 'code', "t.resource -> 'code' -> 'coding'", 'code', 'c', 'http://s1', 'http://s2');
}

# A random reference parameter kept in the resource: Type/id, or a bare id
# where the parameter has one type; :missing.
sub reference_param
{
	my ($name, $element, $array, $type, @refs) = @_;
	if (rand() < 0.15)
	{
		my $v = pick('true', 'false');
		return ("$name:missing=$v", $v eq 'true' ? "NOT (t.resource ? '$element')" : "(t.resource ? '$element')");
	}
	my @v = some(@refs);
	return ("$name=" . join(',', map { $type && rand() < 0.5 ? s{^$type/}{}r : $_ } @v),
			"EXISTS (SELECT FROM jsonb_array_elements($array) r WHERE r ->> 'reference' IN (" . in_list(@v) . '))');
}

# A random Coding or Identifier parameter: code, system|code, system|,
# |code; :not; :missing.
sub coding_param
{
	my ($name, $element, $array, $field, $prefix, @systems) = @_;
	if (rand() < 0.15)
	{
		my $v = pick('true', 'false');
		return ("$name:missing=$v", $v eq 'true' ? "NOT (t.resource ? '$element')" : "(t.resource ? '$element')");
	}
	my (@q, @c);
	for (1 .. 1 + int(rand(2)))
	{
		my $code = $prefix . (1 + int(rand(6))) . ($name eq 'identifier' && rand() < 0.3 ? 'x' x 300 : '');
		my $sys = pick(@systems);
		my $form = int(rand(4));
		my @q1 = ($code, "$sys|$code", "$sys|", "|$code");
		my @c1 = ("c ->> '$field' = '$code'", "c ->> 'system' = '$sys' AND c ->> '$field' = '$code'",
				  "c ->> 'system' = '$sys'", "c ->> '$field' = '$code' AND NOT c ? 'system'");
		push @q, $q1[$form];
		push @c, "EXISTS (SELECT FROM jsonb_array_elements($array) c WHERE $c1[$form])";
	}
	my $cond = '(' . join(' OR ', @c) . ')';
	return ("$name:not=" . join(',', @q), "NOT $cond") if rand() < 0.3;
	return ("$name=" . join(',', @q), $cond);
}

# The searches: 1 to 3 parameters each (a parameter may repeat: AND), a
# total and a page of 1, 3 or 10 (sometimes from offset 2) in one of three
# orders (_id, -_id, the default, which task_priority_idx reads), with
# _total accurate, none or estimate, compared in one statement each: the
# total, the page's ids and whether there is a next link.
my $n = 1500;
my %order = ('_id' => 't.id', '-_id' => 't.id DESC',
			 '' => 't.priority DESC, t.due_at ASC NULLS LAST, t.authored_on ASC, t.id');
my $nforced = 400;				# the first searches, run again with each plan forced
my (@queries, $script, $forced);
for my $i (1 .. $n)
{
	my (@q, @c);
	for (1 .. 1 + int(rand(3)))
	{
		my ($q, $c) = random_param();
		push @q, $q;
		push @c, $c;
	}
	# c17 (0.8): the last searches lead with a code (code, system|code,
	# |code) and one day of authored-on (the code's key and the day in the page's order:
	# search_query.c, coding_key_arg), a third of them after a business
	# status's system|code (read by its key: a token condition after it
	# must not drop it from the walk)
	if ($i > $n - 150)
	{
		my $day = sprintf('2026-%02d-%02d', 1 + int(rand(3)), 1 + int(rand(28)));
		my $code = 'c' . (1 + int(rand(4)));
		my $sys = pick('http://s1', 'http://s2', '', undef, undef);
		# n17: half of them a range of 1-6 days instead, from a whole day or
		# from an hour (each day read by the code's key: search_days_source)
		my ($from, $days) = ("${day}T00:00:00Z", 1);
		($from, $days) = (sprintf('%sT%02d:00:00Z', $day, int(rand(2)) * int(rand(24))), 1 + int(rand(6)))
		  if $i % 2 == 0;
		my ($y, $m, $d) = split /-/, $day;
		my @end = gmtime(timegm(0, 0, 0, $d, $m - 1, $y) + 86400 * $days);
		my $upto = $days == 1 ? undef : sprintf('%04d-%02d-%02d', $end[5] + 1900, $end[4] + 1, $end[3]);
		unshift @q, 'code=' . (defined $sys ? "$sys|" : '') . $code,
		  defined $upto ? ("authored-on=ge$from", "authored-on=lt$upto") : "authored-on=$day";
		unshift @c, "EXISTS (SELECT FROM jsonb_array_elements(t.resource -> 'code' -> 'coding') c "
		  . "WHERE c ->> 'code' = '$code'"
		  . (!defined $sys ? ')' : $sys eq '' ? " AND NOT c ? 'system')" : " AND c ->> 'system' = '$sys')"),
		  defined $upto
		  ? "(t.authored_on >= timestamptz '$from' AND t.authored_on < timestamptz '${upto}Z')"
		  : "(t.authored_on >= timestamptz '${day}Z' AND t.authored_on < timestamptz '${day}Z' + interval '1 day')";
		if ($i % 3 == 0)
		{
			my $b = 'b' . (1 + int(rand(6)));
			unshift @q, "business-status=http://bs1|$b";
			unshift @c, "EXISTS (SELECT FROM jsonb_array_elements(t.resource -> 'businessStatus' -> 'coding') c "
			  . "WHERE c ->> 'system' = 'http://bs1' AND c ->> 'code' = '$b')";
		}
	}
	my $sort = pick('_id', '-_id', '');
	my $count = pick(1, 3, 10, 10);
	my $offset = rand() < 0.2 ? 2 : 0;
	my $total = pick('accurate', 'accurate', 'none', 'estimate');
	my $query = join('&', @q) . ($sort ne '' ? "&_sort=$sort" : '') . "&_count=$count&_offset=$offset&_total=$total";
	my $cond = join(' AND ', @c);
	# estimate: exact up to 1000, none with a code of a vocabulary or a
	# token parameter's :missing=false (search.c: walked first)
	my $vocabulary = ($query =~ /(^|&)(code|performer|business-status)=/
					  || $query =~ /(^|&)(identifier|group-identifier|business-status|code|performer|part-of|based-on|focus|encounter):missing=false/)
	  ? 'false' : 'm.n <= 1000';
	my %total_ok = (accurate => "(b ->> 'total') = m.n::text", none => "NOT b ? 'total'",
					estimate => "(b ->> 'total') IS NOT DISTINCT FROM (CASE WHEN $vocabulary THEN m.n::text END)");
	push @queries, $query;
	$script .= sprintf(
		"SELECT %d, %s, "
		  . "coalesce((SELECT string_agg(e -> 'resource' ->> 'id', ',') FROM jsonb_array_elements(b -> 'entry') e), '') = "
		  . "coalesce((SELECT string_agg(id, ',') FROM (SELECT t.id FROM omnitask.task t WHERE %s ORDER BY %s LIMIT %d OFFSET %d) s), ''), "
		  . "(b -> 'link' @> '[{\"relation\": \"next\"}]') = (m.n > %d), "
		  . "m.n FROM omnitask.search_tasks_query(%s) b, (SELECT count(*) AS n FROM omnitask.task t WHERE %s) m;\n",
		$i, $total_ok{$total}, $cond, $order{$sort}, $count, $offset, $offset + $count, sqlq($query), $cond);
	$forced = $script if $i == $nforced;
}

# Each caller, with the token plan chosen (auto: all the searches) and with
# each of the two plans forced (the first $nforced): the same answers
# (search.c: the walk and the filter); the practitioner's with ids first.
for my $role (qw(par_admin par_pr1))
{
	for my $plan (qw(auto walk filter))
	{
		my $k = $plan eq 'auto' ? $n : $nforced;
		# the practitioner's pages select ids, then fetch the documents (as on Citus)
		my $ids = $role eq 'par_pr1' ? 'on' : 'off';
		my ($out, $err) = psql("SET timezone = 'UTC';\nSET omnitask.search_token_plan = $plan;\n"
							   . "SET omnitask.search_ids_first = $ids;\nSET ROLE $role;\n"
							   . ($plan eq 'auto' ? $script : $forced));
		my @rows = split /\n/, $out;
		is(scalar(@rows), $k, "$role, $plan: $k searches answered") or diag($err);
		my @bad = grep { !/^\d+\|t\|t\|t\|/ } @rows;
		is(scalar(@bad), 0, "$role, $plan: every total, page and next link equals the SQL's")
		  or diag(join("\n", map { /^(\d+)/; "$_  <- $queries[$1 - 1]" } @bad[0 .. ($#bad < 9 ? $#bad : 9)]));
		my $nonempty = grep { /\|t\|t\|t\|[1-9]/ } @rows;
		ok($nonempty > $k / 5, "$role, $plan: the searches are not all empty ($nonempty match something)");
	}
	# r17 (0.8): with no sequential or bitmap scan, as at a million tasks,
	# a range of a few days is read day by day (search.c, days_in_order):
	# the same answers
	{
		my ($out, $err) = psql("SET timezone = 'UTC';\nSET enable_seqscan = off;\nSET enable_bitmapscan = off;\n"
							   . "SET ROLE $role;\n" . $forced);
		my @rows = split /\n/, $out;
		my @bad = grep { !/^\d+\|t\|t\|t\|/ } @rows;
		is(scalar(@rows) . ' ' . scalar(@bad), "$nforced 0", "$role, no scans but the indexes': every total, page and next link equals the SQL's")
		  or diag($err, join("\n", map { /^(\d+)/; "$_  <- $queries[$1 - 1]" } @bad[0 .. ($#bad < 9 ? $#bad : 9)]));
	}
	if ($role eq 'par_pr1')
	{
		my ($seen) = psql("SET ROLE par_pr1; SELECT count(*) FILTER (WHERE owner_id = 'p1') = count(*) FROM omnitask.task;");
		is($seen, 't', 'par_pr1 sees only the tasks it owns');
	}
}

# Which plan a search takes (search.c: walk_first), shown by auto_explain:
# every query search_tasks_query runs, its text and its plan, as notices.
# The walk reads the order's index and stops early; the filter scans the
# tokens' GIN index first.  auto_explain is PostgreSQL's contrib module: a
# server built without it skips this part (test/pg_build.sh builds it for
# the newest PostgreSQL, so CI asserts the plans on 15 and 18).
my $libdir = `$pgbin/pg_config --pkglibdir`;
chomp $libdir;
SKIP:
{
	skip 'auto_explain is not installed', 92 unless -e "$libdir/auto_explain.so";

	# The table's size as the planner sees it must not depend on whether
	# autovacuum has analyzed it yet: analyzed, a filter over these few
	# thousand rows is a sequential scan.  The assertions are about which
	# queries omnitask runs and which index can serve each, so sequential
	# scans are off in the sessions below (a plan that can use no index
	# still shows as a Seq Scan and fails).  VACUUM too: whether an index-only
	# scan is cheapest depends on the visibility map (pg_class.relallvisible),
	# which only a vacuum sets, and autovacuum may or may not have run yet.
	psql('VACUUM (ANALYZE) omnitask.task;');

	# The kinds of the page queries a search ran (walk, filter, page), in
	# order, and the plans' text.
	my $explain = sub {
		my ($query, $plan, $role) = @_;
		$role //= 'par_admin';
		my ($out, $err) = psql(<<"SQL");
LOAD 'auto_explain';
SET enable_seqscan = off;
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SET omnitask.search_token_plan = $plan;
SET ROLE $role;
SELECT omnitask.search_tasks_query('$query') IS NOT NULL;
SQL
		my @kinds;
		for my $text ($err =~ /Query Text: ([^\n]*)/g)
		{
			push @kinds, $text =~ /LIMIT \$\d+\) t WHERE/ ? 'walk'
			  : $text =~ /OFFSET 0\) t/ ? 'filter'
			  : $text =~ /ORDER BY/ ? 'page' : ();
		}
		return (join(',', @kinds), $err);
	};
	my @cases = (
		# a code (a vocabulary) with the default order: the walk finds the page
		[ 'code=c1&_count=3&_total=none', 'auto', 'walk', qr/Index Scan using task_priority_idx/ ],
		[ 'code=c1&_count=3', 'auto', 'walk', qr/Index Scan using task_priority_idx/ ],
		[ 'code=c1&_sort=-_id&_count=3&_total=none', 'auto', 'walk', qr/Index Scan Backward using task_pkey/ ],
		# an identifier or a reference names one case: filter first
		[ 'identifier=v1&_count=3&_total=none', 'auto', 'filter', qr/Bitmap Index Scan on task_search_tokens_idx/ ],
		[ 'part-of=par-1&_count=3&_total=none', 'auto', 'filter', qr/Bitmap Index Scan on task_search_tokens_idx/ ],
		# a patient keeps no statistics either and names one case: filter first
		[ 'patient=pt1&_count=3&_total=none', 'auto', 'filter', qr/Index Scan on task_patient_idx|Index Scan using task_patient_idx/ ],
		# no index reads the order: filter first
		[ 'code=c1&_sort=status&_count=3&_total=none', 'auto', 'filter', qr/Bitmap Index Scan on task_search_tokens_idx/ ],
		# _lastUpdated has an index (0.6): walked
		[ 'code=c1&_sort=_lastUpdated&_count=3&_total=none', 'auto', 'walk', qr/Index Scan using task_last_updated_idx/ ],
		# the total says there are few: filter first
		[ 'code=nonesuch&_count=3', 'auto', 'filter', qr/Bitmap Index Scan on task_search_tokens_idx/ ],
		# the walk finds fewer than asked for: then the filter
		[ 'code=nonesuch&_count=3&_total=none', 'auto', 'walk,filter', qr/Bitmap Index Scan on task_search_tokens_idx/ ],
		# forced either way
		[ 'identifier=v1&_count=3&_total=none', 'walk', 'walk', qr/Index Scan using task_priority_idx/ ],
		[ 'code=c1&_count=3&_total=none', 'filter', 'filter', qr/Bitmap Index Scan on task_search_tokens_idx/ ],
		# no token: the one page query, whatever the setting
		[ 'status=ready&_count=3&_total=none', 'walk', 'page', qr/Scan/ ],
		# a status list in the default order: one ordered branch per status
		# (search_query.c, search_page_source); as par_admin, under row-level
		# security, each status an index condition of task_status_priority_idx
		# (~=~, the leakproof equality of task_status_ops)
		[ 'status=requested,ready,completed&_count=3&_total=none', 'auto', 'page',
		  qr/(?s)(?=.*Index Scan using task_status_priority_idx[^\n]*\n\s*Index Cond: [^\n]*OPERATOR\(omnitask\.~=~\) 'requested')(?=.*Index Scan using task_status_priority_idx[^\n]*\n\s*Index Cond: [^\n]*OPERATOR\(omnitask\.~=~\) 'ready')(?=.*Index Scan using task_status_priority_idx[^\n]*\n\s*Index Cond: [^\n]*OPERATOR\(omnitask\.~=~\) 'completed')/ ],
		[ 'status=ready&owner:missing=true&_count=3&_total=none', 'auto', 'page',
		  qr/Index Scan using task_unowned_status_idx[^\n]*\n\s*Index Cond: [^\n]*OPERATOR\(omnitask\.~=~\) 'ready'/ ],
		# the walk's inner query, per status
		[ 'code=c1&status=requested,ready&_count=3&_total=none', 'auto', 'walk',
		  qr/(?s)UNION ALL.*task_status_priority_idx.*task_status_priority_idx/ ],
		# as a practitioner too, a status list is read per status and merged
		[ 'status=requested,ready,completed&_count=3&_total=none', 'auto', 'page',
		  qr/(?s)Merge Append.*Index Scan.*Index Scan.*Index Scan/, 'par_pr1' ],
		# one owner or requester: an equality, read in the page's order
		[ 'owner=p1&_count=3&_total=none', 'auto', 'page', qr/Index Scan using task_owner_worklist_idx/ ],
		[ 'requester=Practitioner/p1&_count=3&_total=none', 'auto', 'page', qr/Index Scan using task_requester_worklist_idx/ ],
		[ 'owner:missing=true&_count=3&_total=none', 'auto', 'page', qr/Index Scan using task_unowned_worklist_idx/ ],
		# a date range: counted up to the walk's rows first (by its index);
		# many matches are walked, few sorted at once (search.c, run_page)
		[ 'authored-on=ge2026-01-01&_count=3&_total=none', 'auto', 'walk',
		  qr/(?s)(?:Index (?:Only )?Scan using|Bitmap Index Scan on) task_authored_idx.*Index (?:Only )?Scan using task_priority_idx/ ],
		[ '_lastUpdated=lt2000-01-01&_count=3&_total=none', 'auto', 'filter', qr/task_last_updated_idx/ ],
		[ 'modified=ge2000-01-01&_count=3&_total=none', 'walk', 'walk', qr/Index (?:Only )?Scan using task_priority_idx/ ],
		[ 'modified=ge2000-01-01&_count=3&_total=none', 'filter', 'filter', qr/task_modified_idx/ ],
		# h17: a date range with a code of a vocabulary: the range counted
		# (at most 10,000 rows), then its rows read and the code tested on
		# them (search.c, dated_first): the code's GIN entry is not read
		[ 'performer=r2&authored-on=2026-02&_count=3&_total=none', 'auto', 'filter',
		  qr/\A(?!.*task_search_tokens_idx).*task_authored_idx/s ],
		[ 'performer=r2&_lastUpdated=ge2000-01-01&_count=3&_total=none', 'auto', 'filter',
		  qr/\A(?!.*task_search_tokens_idx).*task_last_updated_idx/s ],
		# forced, the filter of the same search reads the GIN index
		[ 'code=c1&authored-on=2026-02&_count=3&_total=none', 'filter', 'filter',
		  qr/Bitmap Index Scan on task_search_tokens_idx/ ],
		# s17 (0.7): business-status=system|code in the page's order from
		# task_business_status_token_idx: its key an index condition under
		# row-level security (texteq is leakproof), merged with the tasks
		# whose businessStatus has many keyed codings (search_query.c,
		# search_page_source); forced, the token plans of before 0.7
		[ 'business-status=http://bs1|b1&_count=3&_total=none', 'auto', 'page',
		  qr/(?:Index Scan using|Bitmap Index Scan on) task_business_status_token_idx[^\n]*\n\s*Index Cond: \(business_status_token = (?:'business-status:http:\/\/bs1\|b1'|\$\d+)/ ],
		[ 'business-status=http://bs1|b1&_count=3&_total=none', 'filter', 'filter',
		  qr/Bitmap Index Scan on task_search_tokens_idx/ ],
		# part-of:missing=false: its partial index in the page's order
		[ 'part-of:missing=false&_count=3&_total=none', 'auto', 'page',
		  qr/Index (?:Only )?Scan using task_part_of_priority_idx/ ],
		# d17 (0.7): one day of authored-on is an equality on its UTC day,
		# read from task_authored_day_idx in the page's order (as par_admin,
		# no Sort); an index condition under row-level security, as
		# par_admin and par_pr1 (task_day is leakproof)
		[ 'authored-on=2026-02-03&_count=3&_total=none', 'auto', 'page',
		  qr/\A(?!.*\bSort\b).*Index Scan using task_authored_day_idx[^\n]*\n\s*Index Cond: \(\(?omnitask\.task_day\(authored_on\) = /s ],
		[ 'authored-on=eq2026-02-03&_count=3&_total=none', 'auto', 'page',
		  qr/(?:Index Scan using|Bitmap Index Scan on) task_authored_day_idx[^\n]*\n\s*Index Cond: \(\(?omnitask\.task_day\(authored_on\) = /, 'par_pr1' ],
		# with a code list (c17, 0.8: one code is read by its key, below):
		# the day's rows counted, then all of them walked and the code
		# tested on each (search.c, day_counted_first): the code's GIN entry
		# is not read
		[ 'code=c1,c2&authored-on=2026-02-03&_count=3&_total=none', 'auto', 'walk',
		  qr/\A(?!.*task_search_tokens_idx)(?=.*count\(\*\)).*LIMIT \$\d+\) t WHERE[^\n]*\n.*task_authored_day_idx/s ],
		# the kept plans (search.c, plan_options): generic where the values
		# cannot change the plan (the plan shows the parameter), planned
		# for its values with a date range (the plan shows the constant)
		[ 'owner=p1&_count=3&_total=none', 'auto', 'page', qr/Index Cond: \(owner_id = \$1\)/ ],
		[ 'code=c1&_count=3&_total=none', 'auto', 'walk', qr/search_tokens && \$1\)/ ],
		[ '_lastUpdated=lt2000-01-01&_count=3&_total=none', 'auto', 'filter',
		  qr/\A(?!.*Cond: \(last_updated < \$).*Cond: \(last_updated < '[^']+'::timestamp with time zone\)/s ],
		# r17 (0.8): a range of at most 62 days, the only positive
		# condition, in the default order: for each day its first rows in
		# the page's order from the column's day index (a Limit right above
		# the scan: no sort per day), the whole days a LATERAL over their
		# array, the days' rows then sorted (search_query.c,
		# search_days_source); a month was a walk of task_priority_idx,
		# then the range's rows sorted
		[ 'authored-on=2026-02&_count=3&_total=none', 'auto', 'page',
		  qr/(?s)Function Scan on unnest.*Limit[^\n]*\n\s*->\s+Index (?:Only )?Scan using task_authored_day_idx[^\n]*\n\s*Index Cond: \(\(?omnitask\.task_day\(authored_on\)\)? = d\.day\)/ ],
		# the range's edges within a day: branches of their own, the bound
		# an index condition, planned for the bound's value (search.c,
		# plan_options: the constants show; a generic plan, with $n, read
		# every write of the day for "changed since" a minute ago)
		[ 'authored-on=ge2026-02-03T12:00:00Z&authored-on=lt2026-02-06T06:00:00%2B02:00&_count=3&_total=none', 'auto', 'page',
		  qr/(?s)(?=.*Limit[^\n]*\n\s*->\s+Index (?:Only )?Scan using task_authored_day_idx[^\n]*\n\s*Index Cond: \(\(\(?omnitask\.task_day\(authored_on\)\)? = '2026-02-03'::date\) AND \(authored_on >= '[^']+'::timestamp with time zone\)\))(?=.*Limit[^\n]*\n\s*->\s+Index (?:Only )?Scan using task_authored_day_idx[^\n]*\n\s*Index Cond: \(\(\(?omnitask\.task_day\(authored_on\)\)? = '2026-02-06'::date\) AND \(authored_on < '[^']+'::timestamp with time zone\)\)).*Function Scan on unnest/ ],
		# modified: its day index (0.8)
		[ 'modified=ge2026-02-01&modified=le2026-02-07&_count=3&_total=none', 'auto', 'page',
		  qr/(?s)Function Scan on unnest.*Limit[^\n]*\n\s*->\s+Index (?:Only )?Scan using task_modified_day_idx/ ],
		# beyond 62 days: the range's plans (a walk first)
		[ 'authored-on=ge2026-01-01&authored-on=lt2026-03-05&_count=3&_total=none', 'auto', 'walk',
		  qr/\A(?!.*_day_idx).*task_authored_idx/s ],
		# c17 (0.8): a code with one day of authored-on, the code's key and
		# the day index conditions of task_code_token_day_idx, read in the
		# page's order and merged with the tasks of many coded codings
		# (search_query.c, search_page_source), under row-level security too
		# (texteq and task_day are leakproof); the code's GIN entry is not
		# read; system|code: the same key, its token tested on its rows
		[ 'code=c1&authored-on=2026-02-03&_count=3&_total=none', 'auto', 'page',
		  qr/\A(?!.*task_search_tokens_idx).*Index Scan using task_code_token_day_idx[^\n]*\n\s*Index Cond: \(\(code_token = (?:'code:c1'|\$\d+)\) AND \(omnitask\.task_day\(authored_on\) = /s ],
		[ 'authored-on=2026-02-03&code=http://s1|c1&_count=3&_total=none', 'auto', 'page',
		  qr/(?:Index Scan using|Bitmap Index Scan on) task_code_token_day_idx[^\n]*\n\s*Index Cond: \(\(code_token = (?:'code:c1'|\$\d+)\) AND \(omnitask\.task_day\(authored_on\) = /, 'par_pr1' ],
		# a code without a day is a token condition still (walked)
		[ 'code=c1&_count=3&_total=none', 'auto', 'walk', qr/\A(?!.*task_code_token_day_idx).*task_priority_idx/s ],
		# n17: a code without a day walked with its key column tested first
		# (search_query.c, search_unkey): the code's key, or many keys and
		# the token; for system|c the token on the key's rows too; as the
		# practitioner, the walk of its own tasks in the page's order
		[ 'code=c1&_count=3&_total=none', 'auto', 'walk',
		  qr/(?s)(?=.*Filter: \(\(t\.code_token = \$\d+\) OR \(\(t\.code_token = '\*'::text\) AND \(t\.search_tokens && \$\d+\)\)\))(?=.*Index Scan using task_owner_worklist_idx)/, 'par_pr1' ],
		[ 'code=http://s1|c1&_count=3&_total=none', 'auto', 'walk',
		  qr/Filter: CASE WHEN \(\(t\.code_token = \$\d+\) OR \(t\.code_token = '\*'::text\)\) THEN \(t\.search_tokens && \$\d+\) ELSE false END/ ],
		# n17: a code with a range of days of authored-on: each day twice
		# from task_code_token_day_idx (the code's key, and many keys), the
		# whole days a LATERAL over their array (search_query.c,
		# search_days_source); a month was its rows counted, read and sorted
		# (a page of 1: on these 1,500 tasks a day holds about 3 of a code)
		[ 'code=c1&authored-on=2026-02&_count=1&_total=none', 'auto', 'page',
		  qr/(?s)Function Scan on unnest.*Index (?:Only )?Scan using task_code_token_day_idx[^\n]*\n\s*Index Cond: \(\(code_token = \$\d+\) AND \(\(?omnitask\.task_day\(authored_on\)\)? = d\.day\)\).*Index (?:Only )?Scan using task_code_token_day_idx[^\n]*\n\s*Index Cond: \(\(code_token = '\*'::text\) AND \(\(?omnitask\.task_day\(authored_on\)\)? = d(?:_\d+)?\.day\)\)/ ],
		# a business status read by its key, then a code: the walk's rows
		# come from the business status's key (0.7 dropped it)
		[ 'business-status=http://bs1|b1&code=c1&_count=3&_total=none', 'auto', 'walk',
		  qr/Query Text: [^\n]*business_status_token = \$\d+[^\n]*LIMIT \$\d+\) t WHERE/ ],
	);
	for my $c (@cases)
	{
		my ($query, $plan, $want, $node, $role) = @$c;
		my ($kinds, $err) = $explain->($query, $plan, $role);
		my $as = $role ? " as $role" : '';
		is($kinds, $want, "$query ($plan)$as: $want") or diag($err);
		like($err, $node, "$query ($plan)$as: the plan has $node") or diag($err);
	}
}

$node->stop;
done_testing();
