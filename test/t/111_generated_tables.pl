#!/usr/bin/perl
#
# 111_generated_tables.pl: the generated validator tables are reproducible.
#
# Runs src/gen/gen_fhir_tables.py on the R4 definitions and UCUM in
# $OMNITASK_SHARED/fhir (default OMNITASK_TOP/../shared/fhir) into a
# temporary directory and checks that every file it writes is byte for byte
# the one checked in under src/.
#
# Environment (set by test/run_tests.sh): OMNITASK_TOP; OMNITASK_SHARED
# optionally.

use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More;

my $TOP = $ENV{OMNITASK_TOP} or die "OMNITASK_TOP is not set\n";
my $SHARED = $ENV{OMNITASK_SHARED} // "$TOP/../shared";
my $DEFS = "$SHARED/fhir/definitions";
my @FILES = qw(fhir_tables.c fhir_tables.h fhir_xhtml_tables.h fhir_ucum_tables.h);

ok(-d $DEFS, "the R4 definitions are at $DEFS")
  or BAIL_OUT("R4 definitions not found (set OMNITASK_SHARED)");

sub slurp
{
	my ($file) = @_;
	open(my $fh, '<:raw', $file) or return undef;
	local $/;
	my $s = <$fh>;
	close $fh;
	return $s;
}

my $out = tempdir(CLEANUP => 1);
my $log = "$out/gen.log";
my $rc = system("python3 '$TOP/src/gen/gen_fhir_tables.py' '$DEFS' '$out' 2>'$log'");
ok($rc == 0, 'gen_fhir_tables.py runs') or diag(slurp($log) // '');

for my $f (@FILES)
{
	my $want = slurp("$TOP/src/$f");
	my $got = slurp("$out/$f");
	ok(defined $got && defined $want && $got eq $want,
		"regenerating src/$f gives the checked-in file byte for byte");
}

# and a second run gives the same bytes again
my $out2 = tempdir(CLEANUP => 1);
system("python3 '$TOP/src/gen/gen_fhir_tables.py' '$DEFS' '$out2' 2>/dev/null");
ok(!grep({ (slurp("$out/$_") // 'a') ne (slurp("$out2/$_") // 'b') } @FILES),
	'two runs of the generator write identical files');

done_testing();
