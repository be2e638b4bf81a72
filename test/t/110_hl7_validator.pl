#!/usr/bin/perl
#
# 110_hl7_validator.pl: omnitask.validate_task() against HL7's own validator
# test suite (github FHIR/fhir-test-cases, validator/), read at test time
# from $OMNITASK_SHARED/fhir/hl7-test-cases (default: OMNITASK_TOP/../shared)
# and never copied into the repository.
#
# The suite's cases are whole resources of every type, with the outcome of
# HL7's Java validator (validator/outcomes/java/*.json, or inline in the
# manifest).  A case is used when what it tests is something omnitask
# checks; the element under test is moved into a Task at test time, and the
# verdict on that element is compared with HL7's:
#
#   div        the narrative (text.div, from JSON, or from the XML file's
#              <text>) becomes Task.text.div; HL7's issues on X.text...
#   value      Parameters.parameter[0].value[x] becomes Task.input[0].value[x];
#              HL7's issues on Parameters.parameter[0].value...
#   contained  the contained resources become Task.contained, every "#id"
#              reference of the rest of the resource a Task.basedOn entry and
#              every other "#id" string (canonical, uri) a Task.input
#              valueCanonical; HL7's issues on X.contained... and its ref-1
#              issues
#   id         the resource id becomes Task.id; HL7's issues on X.id
#   eid        Location.position.id (an element id) becomes Task.restriction.id
#
# For every case: omnitask reports an error on the moved element exactly
# when HL7's validator does, and then at the same FHIRPath (mapped from X to
# Task); where HL7 only warns, omnitask warns and does not refuse.
#
# Every narrative of an R4 (4.0) or R5 case given as JSON is used (txt-1 and
# txt-2 did not change between R4 and R5), plus the cases listed in @CASES.
# Cases left out are listed, with the reason, in README.md ("Validation").
#
# Environment (set by the Makefile under make installcheck): OMNITASK_TOP,
# PGBIN; the test runs a cluster of its own; OMNITASK_SHARED optionally.

use strict;
use warnings;

use File::Temp qw(tempdir);
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Cluster;
use Test::More;

my $TOP  = $ENV{OMNITASK_TOP}  or die "OMNITASK_TOP is not set\n";
# a cluster of its own, configured as the runner's (omnitask preloaded)
my $node = PostgreSQL::Test::Cluster->new('hl7');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'omnitask'\nmax_prepared_transactions = 10\n");
$node->start;
my $SOCK = $node->host;
my $PORT = $node->port;
my $PGBIN = $ENV{PGBIN} // '/usr/lib/postgresql/15/bin';
my $SHARED = $ENV{OMNITASK_SHARED} // "$TOP/../shared";
my $SUITE = "$SHARED/fhir/hl7-test-cases/validator";
my $DB = 'omnitask_hl7';

my $json = JSON::PP->new->utf8->canonical;

# The hand-picked cases: name => [kind, why it is in].  (Narratives of JSON
# cases are picked automatically besides.)
my @CASES = (
	# narratives given as XML: the div is taken from the file's <text>
	['list-xhtml-correct1',    'div', 'XHTML narrative, valid'],
	['list-xhtml-correct2',    'div', 'XHTML with a namespace prefix (class 7)'],
	['list-xhtml-attribute',   'div', 'event handler attribute (txt-1)'],
	['list-xhtml-element',     'div', 'element txt-1 does not allow'],
	['list-xhtml-wrongns1',    'div', 'wrong XHTML namespace on the root'],
	['list-xhtml-wrongns2',    'div', 'wrong XHTML namespace on a prefixed child'],
	['patient-good',           'div', 'valid narrative'],
	# primitives in Parameters.parameter[0].value[x]
	['params-ws',              'value', 'string of whitespace and VT/FF: warnings only (classes 4, 5)'],
	['unicode-control-chars-json', 'value', 'U+0013 in a string: a warning only (class 5)'],
	# contained resources
	['contained',              'contained', 'contained resource referenced by #id'],
	['hakan-se-2',             'contained', 'contained resource referenced by #id'],
	['document-manifest',      'contained', 'five contained resources'],
	['qr-internal-refs',       'contained', 'contained resources referring to each other'],
	['nested-questionnaire-nested-valueset', 'contained', 'contained resources referenced by canonical #id'],
	['q_val_fail',             'contained', 'contained ValueSet referenced by canonical #id'],
	['vs-canonical-good',      'contained', 'contained CodeSystem referenced by canonical #id (class 3)'],
	['vs-canonical-bad',       'contained', 'canonical #id references (class 3)'],
	['vs-canonical-bad-2',     'contained', 'canonical #id references (class 3)'],
	['vs-canonical-urn',       'contained', 'contained CodeSystem referenced by a urn'],
	['vs-canonical-urn-bad',   'contained', 'contained CodeSystem referenced by a urn'],
	['contained-canonical',    'contained', 'contained CodeSystem referenced by canonical #id (class 3)'],
	['contained-canonical-bad', 'contained', 'unreferenced contained CodeSystem (dom-3)'],
	['contained-canonical-bad-2', 'contained', 'contained CodeSystem referenced by canonical #id (class 3)'],
	['dr-bad-att-hash',        'contained', 'contained resources referenced by #id'],
	['list-contained-bad-json', 'contained', 'unreferenced contained resource (dom-3), #id with no target (ref-1)'],
	['patient-duplicate-contained', 'contained', 'duplicate contained ids (class 11), contained without id'],
	['contained-resource-bad-id', 'contained', 'contained resource id longer than 64'],
	['resource-invalid-id-3',  'contained', 'contained resource id with "_"'],
	# resource ids
	['resource-invalid-id-0',  'id', 'valid id'],
	['resource-invalid-id-1',  'id', 'id with "/" and "="'],
	['resource-invalid-id-2',  'id', 'id longer than 64'],
	['patient-id-bad-1 / R4',  'id', 'id with "_"'],
	['patient-id-bad-2 / R4',  'id', 'id with a space'],
	['patient-id-bad-3 / R4',  'id', 'id longer than 64'],
	['patient-id-bad-1 / R5',  'id', 'id with "_" (rule unchanged in R5)'],
	['patient-id-bad-2 / R5',  'id', 'id with a space (rule unchanged in R5)'],
	['patient-id-bad-3 / R5',  'id', 'id longer than 64 (rule unchanged in R5)'],
	# element ids (System.String, at most 1 MiB)
	['resource-invalid-eid-0', 'eid', 'element id'],
	['resource-invalid-eid-1', 'eid', 'element id with "/" and "=": any string'],
	['resource-invalid-eid-2', 'eid', 'element id longer than 1 MiB'],
);

# Cases whose HL7 warning on the moved element omnitask does not give (the
# verdict, accepted, is the same).
my %WARN_NOT_CHECKED = (
	'dr-bad-att-hash' => 'duplicate id/anchor names in the narrative (a validator best-practice check, no R4 rule)',
);

# ---------------------------------------------------------------------------
# Reading the suite
# ---------------------------------------------------------------------------

sub slurp
{
	my ($file) = @_;
	open(my $fh, '<:raw', $file) or die "$file: $!";
	local $/;
	my $s = <$fh>;
	close $fh;
	return $s;
}

# The issues HL7's Java validator reported for a case: [severity, path, text].
sub hl7_issues
{
	my ($case) = @_;
	my $java = $case->{java};
	my @out;

	return undef unless defined $java;
	if (ref $java eq 'HASH')
	{
		for my $line (@{ $java->{output} // [] })
		{
			next unless $line =~ /^(ERROR|FATAL|WARNING|INFORMATION): ([^:]*?): (.*)$/;
			push @out, [lc $1, $2, $3];
		}
		return \@out;
	}
	my $file = "$SUITE/outcomes/$java";
	# some outcomes are stored without the " - R4-base.json" the manifest names
	$file =~ s/ - [^\/]*-base\.json$// unless -f $file;
	return undef unless -f $file;
	my $oo = $json->decode(slurp($file));
	for my $i (@{ $oo->{issue} // [] })
	{
		my $path = ($i->{expression} // $i->{location} // [''])->[0];
		push @out, [$i->{severity}, $path, ($i->{details} // {})->{text} // ''];
	}
	return \@out;
}

# The narrative div of an XML input (the element after <status/> in <text>).
sub xml_div
{
	my ($xml) = @_;
	return undef unless $xml =~ m{<text>\s*(?:<!--.*?-->\s*)*<status\b[^>]*/>\s*(.*?)\s*</text>}s;
	return $1;
}

# Every "#id" string outside "contained" and the narrative: under a
# "reference" key into @$refs, anywhere else (canonical, uri) into @$canon.
sub local_refs
{
	my ($v, $refs, $canon) = @_;
	if (ref $v eq 'HASH')
	{
		for my $k (sort keys %$v)
		{
			next if $k eq 'contained' || $k eq 'div';
			if (!ref $v->{$k} && defined $v->{$k} && $v->{$k} =~ /^#/)
			{
				push @{ $k eq 'reference' ? $refs : $canon }, $v->{$k};
			}
			else
			{
				local_refs($v->{$k}, $refs, $canon);
			}
		}
	}
	elsif (ref $v eq 'ARRAY')
	{
		local_refs($_, $refs, $canon) for @$v;
	}
}

# ---------------------------------------------------------------------------
# Building the Tasks
# ---------------------------------------------------------------------------

my %TASK = (resourceType => 'Task', status => 'draft', intent => 'order');

# Builds the fixture of one case: the Task, the HL7 path prefix of the part
# under test (a regex), and how it maps to the Task's.  Returns undef, with a
# reason, when the case cannot be moved.
sub build
{
	my ($case, $kind) = @_;
	my $file = "$SUITE/$case->{file}";
	return (undef, "input $case->{file} missing") unless -f $file;
	my $raw = slurp($file);
	my %task = %TASK;
	my ($res, $rt);

	if ($case->{file} =~ /\.json$/)
	{
		$res = eval { $json->decode($raw) };
		return (undef, 'input is not JSON') unless ref $res eq 'HASH';
		$rt = $res->{resourceType};
	}
	elsif ($case->{file} =~ /\.xml$/ && $kind eq 'div')
	{
		($rt) = $raw =~ /<([A-Z][A-Za-z]+)\s+xmlns="http:\/\/hl7.org\/fhir"/;
	}
	return (undef, 'no resource type') unless defined $rt;

	if ($kind eq 'div')
	{
		my $div = $res ? (ref $res->{text} eq 'HASH' ? $res->{text}{div} : undef)
		  : xml_div($raw);
		return (undef, 'no narrative') unless defined $div;
		$task{text} = { status => 'generated', div => $div };
		return ({ task => \%task, hl7 => qr/^\Q$rt\E\.text(?:$|[.\[])/,
				  from => "$rt.text", to => 'Task.text', ours => qr/^Task\.text(?:$|[.\[])/ });
	}
	if ($kind eq 'value')
	{
		my $p = $res->{parameter}[0] // {};
		my @v = grep { /^value/ } keys %$p;
		return (undef, 'no parameter value') unless @v == 1;
		$task{input} = [{ type => { text => 'hl7' }, $v[0] => $p->{ $v[0] } }];
		return ({ task => \%task, hl7 => qr/^Parameters\.parameter\[0\]\.value/,
				  from => 'Parameters.parameter[0]', to => 'Task.input[0]',
				  ours => qr/^Task\.input\[0\]\.value/ });
	}
	if ($kind eq 'contained')
	{
		my (@refs, @canon);
		return (undef, 'no contained resources') unless ref $res->{contained} eq 'ARRAY';
		local_refs($res, \@refs, \@canon);
		$task{contained} = $res->{contained};
		$task{basedOn} = [ map { { reference => $_ } } @refs ] if @refs;
		$task{input} = [ map { { type => { text => 'canonical' }, valueCanonical => $_ } } @canon ]
		  if @canon;
		# ref-1 issues are at the referring element, which becomes basedOn
		# only issues on a contained resource itself or its id are compared:
		# inside contained resources of other types than Task, omnitask checks
		# the DomainResource elements, not the type's own
		return ({ task => \%task,
				  hl7 => qr{^\Q$rt\E\.contained\[\d+\](?:/\*.*?\*/)?(?:\.id)?$}, ref1 => 1,
				  from => "$rt.contained", to => 'Task.contained',
				  ours => qr/^Task\.(?:contained|basedOn)/ });
	}
	if ($kind eq 'eid')
	{
		my $pos = $res->{position};
		return (undef, 'no position.id') unless ref $pos eq 'HASH' && defined $pos->{id};
		$task{restriction} = { id => $pos->{id}, repetitions => 1 };
		return ({ task => \%task, hl7 => qr/^\Q$rt\E\.position\.id$/,
				  from => "$rt.position", to => 'Task.restriction',
				  ours => qr/^Task\.restriction\.id$/ });
	}
	if ($kind eq 'id')
	{
		return (undef, 'no id') unless defined $res->{id};
		$task{id} = $res->{id};
		return ({ task => \%task, hl7 => qr/^\Q$rt\E\.id$/, from => "$rt.id",
				  to => 'Task.id', ours => qr/^Task\.id$/ });
	}
	return (undef, "unknown kind $kind");
}

# ---------------------------------------------------------------------------
# Selecting the cases
# ---------------------------------------------------------------------------

plan skip_all => "HL7's validator suite not found at $SUITE (set OMNITASK_SHARED)"
  if 0;							# never skipped: a missing suite is a failure
ok(-f "$SUITE/manifest.json", "HL7's validator suite is at $SUITE")
  or BAIL_OUT("HL7's validator test suite not found (set OMNITASK_SHARED)");

my $manifest = $json->decode(slurp("$SUITE/manifest.json"));
my %by_name = map { ($_->{name} => $_) } @{ $manifest->{'test-cases'} };

my @fixtures;					# {name, kind, why, task, hl7, ours, from, to, issues}
my %seen;
my $add = sub {
	my ($name, $kind, $why) = @_;
	my $case = $by_name{$name} or return diag("case $name is not in the manifest");
	return if $seen{"$name/$kind"}++;
	my $issues = hl7_issues($case);
	return diag("case $name has no Java outcome") unless $issues;
	my ($f, $reason) = build($case, $kind);
	return diag("case $name ($kind) cannot be moved: $reason") unless $f;
	push @fixtures, { %$f, name => $name, kind => $kind, why => $why, issues => $issues };
};

$add->(@$_) for @CASES;
for my $case (@{ $manifest->{'test-cases'} })
{
	my $v = $case->{version};
	next unless !defined $v || $v eq '4.0' || $v eq '5.0';
	next unless ($case->{file} // '') =~ /\.json$/;
	next if $case->{profile} || $case->{supporting} || $case->{packages};
	my $raw = eval { $json->decode(slurp("$SUITE/$case->{file}")) };
	next unless ref $raw eq 'HASH' && ref $raw->{text} eq 'HASH' && defined $raw->{text}{div};
	$add->($case->{name}, 'div', 'narrative of a JSON case');
}

# ---------------------------------------------------------------------------
# Validating every Task in one psql call
# ---------------------------------------------------------------------------

sub psql
{
	my ($db, @args) = @_;
	local $ENV{PGOPTIONS} = "-c client_min_messages=warning";
	my @cmd = ("$PGBIN/psql", '-X', '-q', '-A', '-t', '-F', "\t", '-v', 'ON_ERROR_STOP=1',
			   '-h', $SOCK, '-p', $PORT, '-U', 'postgres', '-d', $db, @args);
	open(my $fh, '-|', @cmd) or die "cannot run psql: $!";
	local $/;
	my $out = <$fh> // '';
	close $fh;
	die "psql failed (exit " . ($? >> 8) . "): @args\n" if $?;
	return $out;
}

my $tmp = tempdir(CLEANUP => 1);
chmod 0755, $tmp;
my $data = "$tmp/tasks.tsv";
open(my $out, '>:raw', $data) or die "$data: $!";
for my $i (0 .. $#fixtures)
{
	print $out "$i\t" . encode_base64($json->encode($fixtures[$i]{task}), '') . "\n";
}
close $out;
chmod 0644, $data;
my $sql = "$tmp/run.sql";
open(my $sq, '>', $sql) or die "$sql: $!";
print $sq <<"SQL";
CREATE TEMP TABLE hl7 (i int, doc text);
\\copy hl7 FROM '$data'
SELECT h.i, x ->> 'severity', coalesce(x -> 'expression' ->> 0, '')
FROM hl7 h, jsonb_array_elements(omnitask.validate_task(convert_from(decode(h.doc, 'base64'), 'UTF8')::jsonb) -> 'issue') x
ORDER BY 1, 3;
SQL
close $sq;

psql('postgres', '-c', "DROP DATABASE IF EXISTS $DB", '-c', "CREATE DATABASE $DB");
psql($DB, '-c', 'CREATE EXTENSION omnitask');
my %ours;						# index -> [[severity, expression]]
for my $line (split /\n/, psql($DB, '-f', $sql))
{
	my ($i, $sev, $expr) = split /\t/, $line, 3;
	push @{ $ours{$i} }, [$sev, $expr // ''];
}

# ---------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------

# HL7 paths: without /*Type/id*/ comments; X.part mapped to the Task's.
sub map_path
{
	my ($f, $issue) = @_;
	my $p = $issue->[1];
	return 'Task.basedOn' if $f->{ref1} && $issue->[2] =~ /ref-1|Unable to resolve/;
	$p =~ s{/\*.*?\*/}{}g;
	$p =~ s/^\Q$f->{from}\E/$f->{to}/;
	return $p;
}

my ($nerr, $nok) = (0, 0);
for my $i (0 .. $#fixtures)
{
	my $f = $fixtures[$i];
	my @hl7 = grep {
		$_->[1] =~ $f->{hl7} ||
		  ($f->{ref1} && $_->[2] =~ /ref-1|Unable to resolve resource with reference '#/)
	} @{ $f->{issues} };
	my @ours = grep { $_->[1] =~ $f->{ours} } @{ $ours{$i} // [] };
	my @hl7_err = grep { $_->[0] eq 'error' || $_->[0] eq 'fatal' } @hl7;
	my @hl7_warn = grep { $_->[0] eq 'warning' } @hl7;
	my @our_err = grep { $_->[0] eq 'error' } @ours;
	my @our_warn = grep { $_->[0] eq 'warning' } @ours;
	my $label = "$f->{name} ($f->{kind}: $f->{why})";

	if (@hl7_err)
	{
		$nerr++;
		ok(@our_err > 0, "$label: refused, as by HL7's validator")
		  or diag("HL7: " . join('; ', map { "$_->[0] $_->[1]" } @hl7_err));
		# the FHIRPath: one of ours at (or under) one of HL7's, mapped
		my @want = map { map_path($f, $_) } @hl7_err;
		my $match = 0;
		for my $o (@our_err)
		{
			for my $w (@want)
			{
				$match = 1 if $o->[1] eq $w || index($w, "$o->[1]\[") == 0 ||
				  index($o->[1], "$w.") == 0 || index($o->[1], "$w\[") == 0 ||
				  index($w, "$o->[1].") == 0;
			}
		}
		ok($match, "$label: an error at the FHIRPath HL7's validator gives")
		  or diag("HL7 (mapped): @want; ours: " . join(' ', map { $_->[1] } @our_err));
	}
	else
	{
		$nok++;
		ok(@our_err == 0, "$label: accepted, as by HL7's validator")
		  or diag("ours: " . join('; ', map { "$_->[0] $_->[1]" } @our_err));
		if (@hl7_warn && $WARN_NOT_CHECKED{ $f->{name} })
		{
			note("$f->{name}: HL7 warns, omnitask does not: $WARN_NOT_CHECKED{ $f->{name} }");
		}
		elsif (@hl7_warn && $f->{kind} ne 'contained')
		{
			ok(@our_warn > 0, "$label: a warning, as from HL7's validator")
			  or diag("HL7: " . join('; ', map { "$_->[0] $_->[1]" } @hl7_warn));
		}
	}
}
note(scalar(@fixtures) . " HL7 cases moved into Tasks: $nerr refused, $nok accepted by HL7's validator");
cmp_ok(scalar(@fixtures), '>=', 50, 'at least 50 HL7 cases are compared');

psql('postgres', '-c', "DROP DATABASE IF EXISTS $DB");
done_testing();
