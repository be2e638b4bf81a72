#!/usr/bin/perl
#
# 010_mutations.pl: mutation test of omnitask.validate_task().
#
# Every official R4 Task example (test/fixtures) must be valid.  From each
# one, mutations are generated automatically by walking the parsed JSON;
# each mutated document must be REJECTED (at least one issue of severity
# error) with an error whose expression is the FHIRPath of the mutated
# element or lies under it ("X", "X.…" or "X[…]").
#
# Mutation kinds, applied wherever they fit:
#   drop-required  status/intent of a Task; type and value[x] of input[i] and
#                  output[i]; url of every extension / modifierExtension
#   wrong-type     string -> number, number -> string, object -> string,
#                  array -> object (its first item), boolean -> string
#   unknown-code   status, intent, priority of a Task, text.status,
#                  identifier use, Quantity comparator -> "bogus-code"
#   bad-date       dateTime-looking string -> "2023-02-30T10:00:00Z" and
#                  "2023-01-01T10:00"; any date or dateTime -> "2023-13-01"
#   empty-string, empty-object, empty-array, null
#                  as the value of every property (and null / {} in place of
#                  every object in an array)
#   unknown-key    "bogusKey": 1 in every object (expected at parent.bogusKey)
#   broken-period  swap start/end of a Period that has both (when they differ
#                  and have the same precision); end = start minus one year
#   (issue 12)
#   wrong-target   reference of Task.encounter/location/partOf/insurance/
#                  relevantHistory/requester/owner/restriction.recipient ->
#                  "Basic/x" (not among the element's targetProfile types)
#   duplicate-id   the first contained resource appended again (same id)
#   bad-type       a contained resource's resourceType lower-cased
#   txt-1          a <p foo="1"> (attribute HTML 4 lacks) or U+FFFF added to
#                  every narrative div
# and mutations that must KEEP the document valid (no error; warnings allowed):
#   id-only twin   "_status": {"id": ...} next to a Task's status
#   blank string   description -> "   " (a warning)
#   control char   description with U+0013 (a warning)
#   deep narrative every narrative's content inside 150 nested <span>s
#   HTML 4         <address>, <bdo dir="rtl">, <kbd> added to every narrative
#
# Excluded on purpose: below a contained resource that is not a Task only the
# FHIR JSON rules and the DomainResource elements are checked (validate_task
# validates Task; other resource types are not part of base Task validation
# -- see walk_contained_other() in src/fhir_validate.c), so there only the
# JSON-rule kinds (empty-*, null) are generated; wrong types, unknown keys or bad dates inside e.g. a
# contained Provenance are legitimately not reported by this validator.
#
# All mutations go to the server in ONE psql call: they are written,
# base64-encoded, to a temporary file, \copy'd into a temporary table and
# validated by one query that returns, per mutation, whether it was rejected
# and whether an error expression matched.
#
# Environment (set by the Makefile under make installcheck): OMNITASK_TOP,
# PGBIN; the test runs a cluster of its own.

use strict;
use warnings;

use B ();
use File::Temp qw(tempdir);
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use POSIX qw(ceil);
use PostgreSQL::Test::Cluster;
use Test::More;

my $TOP  = $ENV{OMNITASK_TOP}  or die "OMNITASK_TOP is not set\n";
# a cluster of its own, configured as the runner's (omnitask preloaded)
my $node = PostgreSQL::Test::Cluster->new('mutations');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'omnitask'\nmax_prepared_transactions = 10\n");
$node->start;
my $SOCK = $node->host;
my $PORT = $node->port;
my $PGBIN = $ENV{PGBIN} // '/usr/lib/postgresql/15/bin';
my $DB   = 'omnitask_mutations';
my $CAP  = 300;					# mutations per example at most

my $json = JSON::PP->new->utf8->canonical;

# ---------------------------------------------------------------------------
# FHIRPath of a JSON path, as the validator writes it.
# ---------------------------------------------------------------------------

# R4 data types that can appear as the suffix of a choice member
# (valueString, valueCodeableConcept, authorReference, ...).
my %PRIMITIVE = map { $_ => 1 } qw(
  Base64Binary Boolean Canonical Code Date DateTime Decimal Id Instant Integer
  Markdown Oid PositiveInt String Time UnsignedInt Uri Url Uuid);
my %COMPLEX = map { $_ => 1 } qw(
  Address Age Annotation Attachment CodeableConcept Coding ContactPoint Count
  Distance Duration HumanName Identifier Money Period Quantity Range Ratio
  Reference SampledData Signature Timing ContactDetail Contributor
  DataRequirement Expression ParameterDefinition RelatedArtifact
  TriggerDefinition UsageContext Dosage Meta);
# choice elements reachable from Task: Task.input/output.value[x],
# Extension.value[x], Annotation.author[x], Timing.repeat.bounds[x],
# UsageContext.value[x], Dosage.asNeeded[x] / doseAndRate.dose[x] / rate[x],
# DataRequirement.subject[x], TriggerDefinition.timing[x]
my $CHOICE_RX = qr/^(value|author|bounds|asNeeded|dose|rate|subject|timing)([A-Z][A-Za-z0-9]*)$/;

# FHIRPath segment for a property name.  $generic: inside a contained
# resource that is not a Task, where the validator appends raw key names.
sub key_segment
{
	my ($key, $generic) = @_;
	return ".$key" if $generic;
	(my $k = $key) =~ s/^_(?=.)//;	# "_status" twin: the element itself
	if ($k =~ $CHOICE_RX && ($PRIMITIVE{$2} || $COMPLEX{$2}))
	{
		my ($prefix, $type) = ($1, $2);
		$type = lcfirst $type if $PRIMITIVE{$type};
		return ".$prefix.ofType($type)";
	}
	return ".$k";
}

# The JSON kind of a decoded value, without stringifying numbers (which
# would turn them into strings for JSON::PP).
sub kind_of
{
	my ($v) = @_;
	return 'null' unless defined $v;
	my $r = ref $v;
	return 'object' if $r eq 'HASH';
	return 'array' if $r eq 'ARRAY';
	return 'boolean' if JSON::PP::is_bool($v);
	my $flags = B::svref_2object(\$v)->FLAGS;
	return 'number'
	  if ($flags & (B::SVp_IOK | B::SVp_NOK)) && !($flags & B::SVp_POK);
	return 'string';
}

# ---------------------------------------------------------------------------
# Walking a document: one node per value.
#   jp      JSON path: list of keys (strings) and indices ({i => n})
#   fp      FHIRPath as the validator reports it
#   key     property name (undef for an array item, and at the root)
#   generic inside a contained resource other than Task
#   task    the value is a Task object (the root or a contained Task)
# ---------------------------------------------------------------------------
sub walk
{
	my ($v, $node, $out) = @_;
	$node->{kind} = kind_of($v);
	$node->{value} = $v;
	push @$out, $node;
	if ($node->{kind} eq 'object')
	{
		for my $k (sort keys %$v)
		{
			walk($v->{$k},
				 {
					jp => [ @{ $node->{jp} }, $k ],
					fp => $node->{fp} . key_segment($k, $node->{generic}),
					key => $k,
					parent => $node,
					generic => $node->{generic},
				 },
				 $out);
		}
	}
	elsif ($node->{kind} eq 'array')
	{
		for my $i (0 .. $#$v)
		{
			my $item = $v->[$i];
			my $generic = $node->{generic};
			# a contained resource other than Task gets only the JSON rules
			if (!$generic && defined $node->{key} && $node->{key} eq 'contained')
			{
				$generic = !(ref $item eq 'HASH' && defined $item->{resourceType}
							 && kind_of($item->{resourceType}) eq 'string'
							 && $item->{resourceType} eq 'Task');
			}
			walk($item,
				 {
					jp => [ @{ $node->{jp} }, { i => $i } ],
					fp => $node->{fp} . "[$i]",
					key => undef,
					parent => $node,
					generic => $generic,
					item_of => $node->{key},
				 },
				 $out);
		}
	}
	return;
}

# The property name an object lives under (for an array item: the array's).
sub home_key
{
	my ($node) = @_;
	return $node->{key} // $node->{item_of} // '';
}

sub is_task_object
{
	my ($node) = @_;
	my $v = $node->{value};
	return $node->{kind} eq 'object' && !$node->{generic}
	  && defined $v->{resourceType} && kind_of($v->{resourceType}) eq 'string'
	  && $v->{resourceType} eq 'Task'
	  && (@{ $node->{jp} } == 0 || ($node->{item_of} // '') eq 'contained');
}

# ---------------------------------------------------------------------------
# Applying a mutation to a fresh copy of the document.
# ---------------------------------------------------------------------------
sub locate
{
	my ($doc, $jp) = @_;			# returns a reference to the slot
	my $ref = \$_[0];
	for my $seg (@$jp)
	{
		$ref = ref $seg ? \(${$ref}->[ $seg->{i} ]) : \(${$ref}->{$seg});
	}
	return $ref;
}

sub apply_mutation
{
	my ($text, $m) = @_;
	my $doc = $json->decode($text);
	my $op = $m->{op};
	if ($op eq 'set')
	{
		my $slot = locate($doc, $m->{jp});
		$$slot = $m->{new};
	}
	elsif ($op eq 'delete')
	{
		my $slot = locate($doc, $m->{jp});
		delete $$slot->{ $m->{prop} };
	}
	elsif ($op eq 'insert')
	{
		my $slot = locate($doc, $m->{jp});
		$$slot->{ $m->{prop} } = $m->{new};
	}
	elsif ($op eq 'swap')
	{
		my $slot = locate($doc, $m->{jp});
		@{$$slot}{qw(start end)} = @{$$slot}{qw(end start)};
	}
	else { die "unknown op $op" }
	return $json->encode($doc);
}

# A deep copy (the generator's values must not be shared with later edits).
sub clone { return $json->decode($json->encode([ $_[0] ]))->[0]; }

# start minus one year (Feb 29 goes back four years to stay on the calendar)
sub year_before
{
	my ($s) = @_;
	my ($y, $rest) = $s =~ /^(\d{4})(.*)$/s or return undef;
	my $back = $rest =~ /^-02-29/ ? 4 : 1;
	return undef if $y < $back + 1;
	return sprintf('%04d%s', $y - $back, $rest);
}

# ---------------------------------------------------------------------------
# The mutation generator.
# ---------------------------------------------------------------------------
sub mutations_of
{
	my ($text) = @_;
	my $doc = $json->decode($text);
	my @nodes;
	walk($doc, { jp => [], fp => 'Task', key => undef, generic => 0 }, \@nodes);
	my @m;
	my $add = sub {
		my (%m) = @_;
		push @m, \%m;
	};

	for my $n (@nodes)
	{
		my ($kind, $v, $fp, $key, $generic) = @$n{qw(kind value fp key generic)};
		my $is_prop = defined $key;
		my $is_item = !$is_prop && @{ $n->{jp} } > 0;

		# --- the FHIR JSON rules: everywhere, even in other contained resources
		if ($is_prop)
		{
			$add->(kind => 'empty string', jp => $n->{jp}, op => 'set', new => '', at => $fp, expect => $fp)
			  unless $kind eq 'string' && $v eq '';
			$add->(kind => 'empty object', jp => $n->{jp}, op => 'set', new => {}, at => $fp, expect => $fp);
			$add->(kind => 'empty array', jp => $n->{jp}, op => 'set', new => [], at => $fp, expect => $fp);
			$add->(kind => 'null', jp => $n->{jp}, op => 'set', new => undef, at => $fp, expect => $fp);
		}
		elsif ($is_item && $kind eq 'object')
		{
			# (null items of primitive arrays are legal with a _twin entry, so
			# only object items are nulled)
			$add->(kind => 'null item', jp => $n->{jp}, op => 'set', new => undef, at => $fp, expect => $fp);
			$add->(kind => 'empty object item', jp => $n->{jp}, op => 'set', new => {}, at => $fp, expect => $fp);
		}
		next if $generic;

		# --- wrong JSON type
		if ($is_prop || $is_item)
		{
			if ($kind eq 'string')
			{
				$add->(kind => 'wrong type (string->number)', jp => $n->{jp}, op => 'set',
					   new => 42, at => $fp, expect => $fp);
			}
			elsif ($kind eq 'number')
			{
				$add->(kind => 'wrong type (number->string)', jp => $n->{jp}, op => 'set',
					   new => B::svref_2object(\$v)->FLAGS & B::SVp_IOK ? sprintf('%d', $v) : sprintf('%s', 0 + $v),
					   at => $fp, expect => $fp);
			}
			elsif ($kind eq 'boolean')
			{
				$add->(kind => 'wrong type (boolean->string)', jp => $n->{jp}, op => 'set',
					   new => ($v ? 'true' : 'false'), at => $fp, expect => $fp);
			}
			elsif ($kind eq 'object' && @{ $n->{jp} } > 0)
			{
				$add->(kind => 'wrong type (object->string)', jp => $n->{jp}, op => 'set',
					   new => 'bogus', at => $fp, expect => $fp);
			}
			elsif ($kind eq 'array' && @$v > 0)
			{
				# the array's first item alone: a well-formed element, but not an array
				$add->(kind => 'wrong type (array->object)', jp => $n->{jp}, op => 'set',
					   new => (ref $v->[0] eq 'HASH' ? clone($v->[0]) : { bogus => clone($v->[0]) }),
					   at => $fp, expect => $fp);
			}
		}

		# --- unknown code
		if ($is_prop && kind_of($v) ne 'object' && kind_of($v) ne 'array')
		{
			my $p = $n->{parent};
			my $coded =
			  ($key =~ /^(status|intent|priority)$/ && is_task_object($p))
			  || ($key eq 'status' && home_key($p) eq 'text' && $p->{fp} =~ /\.text$/)
			  || ($key eq 'use' && home_key($p) =~ /identifier$/i)
			  || $key eq 'comparator';
			$add->(kind => 'unknown code', jp => $n->{jp}, op => 'set', new => 'bogus-code',
				   at => $fp, expect => $fp)
			  if $coded;
		}

		# --- bad dates
		if (($is_prop || $is_item) && $kind eq 'string')
		{
			if ($v =~ /^\d{4}-\d{2}-\d{2}T/)
			{
				$add->(kind => 'bad date (Feb 30)', jp => $n->{jp}, op => 'set',
					   new => '2023-02-30T10:00:00Z', at => $fp, expect => $fp);
				$add->(kind => 'bad date (no seconds or zone)', jp => $n->{jp}, op => 'set',
					   new => '2023-01-01T10:00', at => $fp, expect => $fp);
			}
			if ($v =~ /^\d{4}-\d{2}-\d{2}(T|$)/)
			{
				$add->(kind => 'bad date (month 13)', jp => $n->{jp}, op => 'set',
					   new => '2023-13-01', at => $fp, expect => $fp);
			}
		}

		# --- issue 12: reference targets, narratives
		my %restricted = map { $_ => 1 }
		  qw(encounter location partOf insurance relevantHistory requester owner recipient);
		if ($is_prop && $key eq 'reference' && $kind eq 'string' && $v =~ m{^[A-Z][A-Za-z]+/}
			&& $restricted{ home_key($n->{parent}) } && !$generic)
		{
			$add->(kind => 'wrong target', jp => $n->{jp}, op => 'set', new => 'Basic/x',
				   at => $fp, expect => $fp);
		}
		if ($is_prop && $key eq 'div' && $kind eq 'string' && $v =~ m{</div>\s*$})
		{
			(my $attr = $v) =~ s{</div>(\s*)$}{<p foo="1">x</p></div>$1};
			$add->(kind => 'txt-1 attribute', jp => $n->{jp}, op => 'set', new => $attr,
				   at => $fp, expect => $fp);
			(my $ffff = $v) =~ s{</div>(\s*)$}{\x{FFFF}</div>$1};
			$add->(kind => 'U+FFFF in narrative', jp => $n->{jp}, op => 'set', new => $ffff,
				   at => $fp, expect => $fp);
			(my $html4 = $v) =~ s{</div>(\s*)$}{<address>a</address><bdo dir="rtl">b</bdo><kbd>c</kbd></div>$1};
			$add->(kind => 'HTML 4 elements (valid)', jp => $n->{jp}, op => 'set', new => $html4,
				   at => $fp, stays_valid => 1);
			if ($v =~ m{^(\s*<div[^>]*>)(.*)(</div>\s*)$}s)
			{
				my $deep = $1 . ('<span>' x 150) . $2 . ('</span>' x 150) . $3;
				$add->(kind => 'deep narrative (valid)', jp => $n->{jp}, op => 'set', new => $deep,
					   at => $fp, stays_valid => 1);
			}
		}

		next unless $kind eq 'object';

		if (is_task_object($n))
		{
			$add->(kind => 'id-only twin (valid)', jp => $n->{jp}, op => 'insert', prop => '_status',
				   new => { id => 'st1' }, at => "$fp._status", stays_valid => 1)
			  if exists $v->{status} && !exists $v->{_status};
			$add->(kind => 'blank string (valid)', jp => $n->{jp}, op => 'insert', prop => 'description',
				   new => '   ', at => "$fp.description", stays_valid => 1);
			$add->(kind => 'control character (valid)', jp => $n->{jp}, op => 'insert',
				   prop => 'description', new => "a\x{13}b", at => "$fp.description", stays_valid => 1);
			if (ref $v->{contained} eq 'ARRAY' && @{ $v->{contained} })
			{
				my @c = (@{ $v->{contained} }, $v->{contained}[0]);
				$add->(kind => 'duplicate contained id', jp => $n->{jp}, op => 'insert',
					   prop => 'contained', new => \@c, at => "$fp.contained",
					   expect => "$fp.contained[" . $#c . "].id");
			}
		}
		if (!$is_prop && home_key($n) eq 'contained' && kind_of($v->{resourceType} // []) eq 'string')
		{
			$add->(kind => 'unknown contained resourceType', jp => $n->{jp}, op => 'insert',
				   prop => 'resourceType', new => lc $v->{resourceType}, at => "$fp.resourceType",
				   expect => "$fp.resourceType");
		}

		# --- unknown key
		$add->(kind => 'unknown key', jp => $n->{jp}, op => 'insert', prop => 'bogusKey',
			   new => 1, at => $fp, expect => "$fp.bogusKey");

		# --- missing required elements
		if (is_task_object($n))
		{
			for my $req (qw(status intent))
			{
				$add->(kind => "drop required $req", jp => $n->{jp}, op => 'delete',
					   prop => $req, at => "$fp.$req", expect => "$fp.$req")
				  if exists $v->{$req};
			}
		}
		my $home = home_key($n);
		if (!$is_prop && ($home eq 'input' || $home eq 'output')
			&& $n->{parent}{parent} && is_task_object($n->{parent}{parent}))
		{
			$add->(kind => 'drop required type', jp => $n->{jp}, op => 'delete',
				   prop => 'type', at => "$fp.type", expect => "$fp.type")
			  if exists $v->{type};
			for my $vk (grep { /^value[A-Z]/ } sort keys %$v)
			{
				$add->(kind => 'drop required value[x]', jp => $n->{jp}, op => 'delete',
					   prop => $vk, at => $fp . key_segment($vk, 0), expect => "$fp.value[x]");
			}
		}
		if (!$is_prop && ($home eq 'extension' || $home eq 'modifierExtension')
			&& exists $v->{url})
		{
			$add->(kind => 'drop required url', jp => $n->{jp}, op => 'delete',
				   prop => 'url', at => "$fp.url", expect => "$fp.url");
		}

		# --- broken Period (per-1)
		my $periodish = $home =~ /^(executionPeriod|period|valuePeriod)$/
		  || (grep { /^(start|end)$/ } keys %$v)
		  && !(grep { !/^(id|extension|start|end)$/ } keys %$v);
		if ($periodish && defined $v->{start} && kind_of($v->{start}) eq 'string')
		{
			my ($s, $e) = ($v->{start}, $v->{end});
			if (defined $e && kind_of($e) eq 'string' && $s ne $e && length $s == length $e)
			{
				$add->(kind => 'broken period (start/end swapped)', jp => $n->{jp},
					   op => 'swap', at => $fp, expect => $fp);
			}
			my $yb = year_before($s);
			$add->(kind => 'broken period (end a year before start)', jp => $n->{jp},
				   op => 'insert', prop => 'end', new => $yb, at => $fp, expect => $fp)
			  if defined $yb;
		}
	}
	return @m;
}

# Keeps at most $CAP mutations: the same every-k-th step inside each kind,
# so that every kind stays represented.  Deterministic.
sub cap_mutations
{
	my @m = @_;
	return @m if @m <= $CAP;
	my $k = ceil(@m / $CAP);
	my (%seen, @kept);
	for my $m (@m)
	{
		push @kept, $m if ($seen{ $m->{kind} }++ % $k) == 0;
	}
	return @kept;
}

# ---------------------------------------------------------------------------
# psql
# ---------------------------------------------------------------------------
sub psql
{
	my ($db, @args) = @_;
	local $ENV{PGOPTIONS} = "-c client_min_messages=warning";
	my @cmd = ("$PGBIN/psql", '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
			   '-h', $SOCK, '-p', $PORT, '-U', 'postgres', '-d', $db, @args);
	open(my $fh, '-|', @cmd) or die "cannot run psql: $!";
	local $/;
	my $out = <$fh> // '';
	close $fh;
	die "psql failed (exit " . ($? >> 8) . "): @args\n" if $?;
	return $out;
}

# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
my @files = sort glob("$TOP/test/fixtures/Task-*.json");
BAIL_OUT("expected the 12 R4 Task examples in test/fixtures, found " . scalar(@files))
  unless @files == 12;

my @cases;		# { name, text, kind, at, expect, valid }
for my $file (@files)
{
	(my $name = $file) =~ s{.*/Task-(.*)\.json$}{$1};
	open(my $fh, '<:raw', $file) or die "$file: $!";
	my $text = do { local $/; <$fh> };
	close $fh;
	push @cases, { name => $name, text => $text, valid => 1 };
	for my $m (cap_mutations(mutations_of($text)))
	{
		push @cases, { %$m, name => $name, text => apply_mutation($text, $m) };
	}
}

my $tmp = tempdir('omnitask_mut_XXXX', TMPDIR => 1, CLEANUP => 1);
my $data = "$tmp/mutations.tsv";
open(my $out, '>:raw', $data) or die "$data: $!";
for my $i (0 .. $#cases)
{
	my $c = $cases[$i];
	my $expect = ($c->{valid} || $c->{stays_valid}) ? '' : $c->{expect};
	die "unexpected character in $expect" if $expect =~ /[\t\n\\]/;
	print $out join("\t", $i, $expect, encode_base64($c->{text}, '')), "\n";
}
close $out;

my $sql = "$tmp/run.sql";
open(my $sq, '>', $sql) or die "$sql: $!";
print $sq <<"SQL";
CREATE TEMP TABLE mutation (id int PRIMARY KEY, expect text NOT NULL, doc text NOT NULL);
\\copy mutation FROM '$data'
SELECT json_build_object('id', m.id, 'rejected', coalesce(r.rejected, false),
                         'matched', coalesce(r.matched, false),
                         'information', coalesce(r.information, false), 'errors', r.errors)
FROM mutation m
CROSS JOIN LATERAL (SELECT omnitask.validate_task(convert_from(decode(m.doc, 'base64'), 'UTF8')::jsonb) AS o) v
CROSS JOIN LATERAL (
	SELECT bool_or(i->>'severity' = 'error') AS rejected,
	       bool_or(i->>'severity' = 'error' AND EXISTS (
	           SELECT FROM jsonb_array_elements_text(i->'expression') e(x)
	           WHERE x = m.expect OR starts_with(x, m.expect || '.')
	              OR starts_with(x, m.expect || '['))) AS matched,
	       bool_and(i->>'severity' = 'information') AS information,
	       string_agg(CASE WHEN i->>'severity' = 'error'
	                  THEN coalesce(i->'expression'->>0, '(no expression)') || ': ' || (i->>'diagnostics') END,
	                  ' | ') AS errors
	FROM jsonb_array_elements(v.o->'issue') i) r
ORDER BY m.id;
SQL
close $sq;

psql('postgres', '-c', "DROP DATABASE IF EXISTS $DB", '-c', "CREATE DATABASE $DB");
psql($DB, '-c', 'CREATE EXTENSION omnitask');
my %result;
for my $line (split /\n/, psql($DB, '-f', $sql))
{
	next unless $line =~ /^\{/;
	my $r = $json->decode($line);
	$result{ $r->{id} } = $r;
}

plan tests => scalar(@cases);

for my $i (0 .. $#cases)
{
	my $c = $cases[$i];
	my $r = $result{$i};
	if ($c->{valid})
	{
		ok($r && !$r->{rejected} && $r->{information}, "$c->{name}: the unmodified example is valid")
		  or diag("errors: " . ($r ? $r->{errors} // '' : 'no result'));
		next;
	}
	if ($c->{stays_valid})
	{
		ok($r && !$r->{rejected}, "$c->{name}: $c->{kind} at $c->{at} -> still valid")
		  or diag("errors: " . ($r ? $r->{errors} // '' : 'no result'), "\ndocument: $c->{text}");
		next;
	}
	my $desc = "$c->{name}: $c->{kind} at $c->{at} -> rejected at $c->{expect}";
	ok($r && $r->{rejected} && $r->{matched}, $desc)
	  or diag($r ? ($r->{rejected} ? "rejected, but elsewhere: $r->{errors}" : 'accepted as valid')
			  : 'no result', "\ndocument: $c->{text}");
}

psql('postgres', '-c', "DROP DATABASE IF EXISTS $DB");
