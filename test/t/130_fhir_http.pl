# 130_fhir_http.pl: the FHIR RESTful interface (schema fhir) through the
# full PostgREST request cycle, exactly as PostgREST 12 sends it:
#
#   BEGIN ISOLATION LEVEL READ COMMITTED [READ ONLY];
#   SELECT set_config('search_path', '"fhir"', true), set_config('role', <role>, true),
#          set_config('request.jwt.claims', <claims>, true), set_config('request.method', <method>, true),
#          set_config('request.path', <path>, true), set_config('request.headers', <headers>, true),
#          set_config('request.cookies', '{}', true);
#   WITH pgrst_source AS (SELECT pgrst_call.pgrst_scalar FROM (SELECT "fhir"."<fn>"(<args>) pgrst_scalar) pgrst_call)
#   SELECT "fhir"."application/fhir+json"(_postgrest_t.pgrst_scalar) AS body,
#          nullif(current_setting('response.headers', true), ''), nullif(current_setting('response.status', true), '')
#   FROM (SELECT pgrst_source.pgrst_scalar FROM pgrst_source) _postgrest_t;
#   COMMIT;
#
# over a NOINHERIT authenticator login, for every interaction and its error
# paths: the status, headers and body PostgREST would answer are read back
# in the same transaction.  PostgREST reads the body in the binary protocol
# and sends its bytes as they come: the replay reads it through the binary
# send function of the media-type domain's base type (json_send: the text;
# over jsonb, jsonb_send would put a version byte 0x01 in front of every
# body, which the JSON decode below refuses).  (A 4xx response.status does not roll back in
# PostgREST: the transaction commits, so each error is also checked to have
# written nothing.)  Then (B) the change feed on a physical standby, with a
# transaction left open on the primary: the standby's feed waits for it,
# never skips it, never repeats a change.
use strict;
use warnings;
use IPC::Run qw(run);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pgbin = $ENV{PGBIN} || '/usr/lib/postgresql/15/bin';
# a cluster of its own, configured as the runner's (omnitask preloaded)
my $node = PostgreSQL::Test::Cluster->new('fhir_http');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'omnitask'\nmax_prepared_transactions = 10\n");
$node->start;
my $sock = $node->host;
my $port = $node->port;
my $db    = 'postgres';
my $json  = JSON::PP->new->canonical;

sub lit { my ($v) = @_; return 'NULL' unless defined $v; $v =~ s/'/''/g; return "'$v'"; }

# Runs SQL as a login role; returns (stdout, stderr).
sub psql_as
{
	my ($user, $sql) = @_;
	my ($out, $err) = ('', '');
	run [ "$pgbin/psql", '-X', '-q', '-A', '-t', '-F', "\t", '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose',
		  '-h', $sock, '-p', $port, '-U', $user, '-d', $db ], \$sql, \$out, \$err;
	chomp $out;
	return ($out, $err);
}

# the send function of the media-type domain's base type (set below), the
# bodies read and those that are not JSON text
my ($body_send, $raw_bodies, $bad_bodies) = ('', 0, 0);
my $json_bytes = JSON::PP->new->utf8->canonical;

# One HTTP request as PostgREST runs it.  $args: [ [name, value], ... ] for
# named arguments (query string) or a scalar body for a single unnamed
# parameter.  Returns { status, headers => {name => value}, body, error }.
sub request
{
	my ($token, $method, $path, $fn, $args, $headers) = @_;
	my $call = ref $args eq 'ARRAY'
	  ? qq{"fhir"."$fn"(} . join(', ', map { qq{"$_->[0]" := } . lit($_->[1]) } @$args) . ')'
	  : qq{"fhir"."$fn"(} . lit($args) . '::text)';
	my %h = (%{ $headers || {} }, 'accept' => 'application/fhir+json', 'authorization' => 'Bearer x');
	my $sql = 'BEGIN ISOLATION LEVEL READ COMMITTED' . ($method eq 'GET' ? ' READ ONLY' : '') . ";\n"
	  . "SELECT set_config('search_path', '\"fhir\"', true), set_config('role', " . lit($token->{role}) . ", true), "
	  . "set_config('request.jwt.claims', " . lit($json->encode($token)) . ", true), "
	  . "set_config('request.method', " . lit($method) . ", true), set_config('request.path', " . lit($path) . ", true), "
	  . "set_config('request.headers', " . lit($json->encode(\%h)) . ", true), "
	  . "set_config('request.cookies', '{}', true) \\g /dev/null\n"
	  . "WITH pgrst_source AS (SELECT pgrst_call.pgrst_scalar FROM (SELECT $call pgrst_scalar) pgrst_call)\n"
	  . "SELECT coalesce(pg_catalog.encode($body_send(\"fhir\".\"application/fhir+json\"(_postgrest_t.pgrst_scalar)), 'hex'), ''), "
	  . "coalesce(nullif(current_setting('response.headers', true), ''), '[]'), "
	  . "coalesce(nullif(current_setting('response.status', true), ''), '200') "
	  . "FROM (SELECT pgrst_source.pgrst_scalar FROM pgrst_source) _postgrest_t;\nCOMMIT;\n";
	my ($out, $err) = psql_as('fhir_authenticator', $sql);
	my ($hex, $hdrs, $status) = split /\t/, $out;
	my %resp;
	if ($err =~ /ERROR:\s+([0-9A-Z]{5}):/)
	{
		return { status => 'sql-error', error => $1, message => $err };
	}
	for my $kv (@{ $json->decode($hdrs) }) { %resp = (%resp, %$kv); }
	# the bytes PostgREST sends: UTF-8 JSON text, nothing in front
	my $raw = pack('H*', $hex);
	$raw_bodies++;
	$bad_bodies++ if $raw ne '' && $raw !~ /^[{\[]/;
	return { status => $status, headers => \%resp,
			 body => ($raw eq '' || $raw !~ /^[{\[]/ ? undef : $json_bytes->decode($raw)) };
}

my $admin = { role => 'omnitask_admin', sub => 'fhir-admin' };
my $p1    = { role => 'omnitask_practitioner', sub => 'fhir-p1' };
my $p2    = { role => 'omnitask_practitioner', sub => 'fhir-p2' };
my $aud   = { role => 'omnitask_auditor', sub => 'fhir-auditor' };

# --- set-up ------------------------------------------------------------------
my ($o, $e) = psql_as('postgres', <<'SQL');
SET client_min_messages = warning;
DROP DATABASE IF EXISTS omnitask_fhir;
CREATE DATABASE omnitask_fhir;
DROP ROLE IF EXISTS fhir_authenticator, fhir_p1, fhir_p2;
SQL
is($e, '', 'set-up: a fresh database') or diag($e);
$db = 'omnitask_fhir';
($o, $e) = psql_as('postgres', <<'SQL');
CREATE EXTENSION omnitask;
CREATE ROLE fhir_authenticator LOGIN NOINHERIT;
GRANT omnitask_admin, omnitask_practitioner, omnitask_auditor TO fhir_authenticator;
CREATE ROLE fhir_p1 NOLOGIN IN ROLE omnitask_practitioner;
CREATE ROLE fhir_p2 NOLOGIN IN ROLE omnitask_practitioner;
SELECT omnitask.register_practitioner('fhir_p1', 'fhir-p1', 'Dr. One') \g /dev/null
SELECT omnitask.register_practitioner('fhir_p2', 'fhir-p2', 'Dr. Two') \g /dev/null
ALTER DATABASE omnitask_fhir SET omnitask.jwt_authenticator = 'fhir_authenticator';
ALTER DATABASE omnitask_fhir SET omnitask.fhir_base_url = 'https://fhir.example.org/r4';
SQL
is($e, '', 'set-up: extension, authenticator, practitioners, base URL') or diag($e);
($body_send) = psql_as('postgres', q{SELECT b.typsend::regproc FROM pg_type d JOIN pg_type b ON b.oid = d.typbasetype
									   WHERE d.oid = 'fhir."application/fhir+json"'::regtype});

my $base = 'https://fhir.example.org/r4';
my $task = $json->encode({
	resourceType => 'Task', status => 'requested', intent => 'order', priority => 'routine',
	description => 'Call the patient about lab results',
	identifier => [ { system => 'https://orders.example/id', value => 'lab-0042' } ],
	for => { reference => 'Patient/fhir-pat-1' },
	owner => { reference => 'Practitioner/fhir-p1' } });

sub count_tasks { my ($o) = psql_as('postgres', 'SELECT count(*) FROM omnitask.task'); return $o; }

# --- GET /metadata ------------------------------------------------------------
my $r = request($aud, 'GET', '/rpc/metadata', 'metadata', []);
is($r->{status}, 200, 'GET /metadata: 200');
is($r->{body}{resourceType}, 'CapabilityStatement', '... a CapabilityStatement');
is(join(',', map { $_->{code} } @{ $r->{body}{rest}[0]{resource}[0]{interaction} }),
	'read,vread,update,patch,history-instance,history-type,create,search-type', '... listing the interactions served');
is($r->{body}{implementation}{url}, $base, '... and the base URL');

# --- POST /Task ---------------------------------------------------------------
$r = request($p1, 'POST', '/rpc/task_create', 'task_create', $task,
	{ 'content-type' => 'application/json', 'if-none-exist' => 'identifier=https://orders.example/id|lab-0042' });
is($r->{status}, 201, 'POST /Task with If-None-Exist, no match: 201');
my $id = $r->{body}{id};
is($r->{headers}{Location}, "$base/Task/$id/_history/1", '... Location is absolute, with the version');
is($r->{headers}{ETag}, 'W/"1"', '... ETag W/"1"');
like($r->{headers}{'Last-Modified'}, qr/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/, '... Last-Modified is an HTTP-date');
# the client lost that answer and retries
my $n = count_tasks();
$r = request($p1, 'POST', '/rpc/task_create', 'task_create', $task,
	{ 'if-none-exist' => 'identifier=https://orders.example/id|lab-0042' });
is_deeply([ $r->{status}, $r->{body}{id} ], [ 200, $id ], 'the retried create: 200 with the same task');
is(count_tasks(), $n, '... and nothing stored');
$r = request($p1, 'POST', '/rpc/task_create', 'task_create', $task, { prefer => 'return=minimal' });
is_deeply([ $r->{status}, $r->{body} ], [ 201, undef ], 'Prefer: return=minimal: 201 without a body');
like($r->{headers}{Location}, qr{^\Q$base\E/Task/[0-9a-f-]{36}/_history/1$}, '... with a Location');
# errors: 422, 403, 409, 400; each commits in PostgREST and writes nothing
$n = count_tasks();
(my $invalid = $task) =~ s/"requested"/"done"/;
$r = request($p1, 'POST', '/rpc/task_create', 'task_create', $invalid);
is_deeply([ $r->{status}, $r->{body}{resourceType}, $r->{body}{issue}[0]{expression}[0] ], [ 422, 'OperationOutcome', 'Task.status' ],
	'invalid Task: 422 with the validator\'s OperationOutcome (an object, not a string)');
$r = request($aud, 'POST', '/rpc/task_create', 'task_create', $task);
is_deeply([ $r->{status}, $r->{body}{issue}[0]{code} ], [ 403, 'forbidden' ], 'auditor creates: 403 OperationOutcome');
(my $completed = $task) =~ s/"requested"/"completed"/;
$r = request($p1, 'POST', '/rpc/task_create', 'task_create', $completed);
is_deeply([ $r->{status}, $r->{body}{issue}[0]{code} ], [ 409, 'business-rule' ], 'creating a completed task: 409');
$r = request($p1, 'POST', '/rpc/task_create', 'task_create', $task, { 'if-none-exist' => 'status=requested' });
is($r->{status}, 400, 'If-None-Exist on a parameter that cannot be made race-free: 400');
$r = request($p2, 'POST', '/rpc/task_create', 'task_create', $task =~ s/fhir-p1/fhir-p2/r,
	{ 'if-none-exist' => 'identifier=https://orders.example/id|lab-0042' });
is($r->{status}, 409, 'If-None-Exist matching a task the caller cannot see: 409 ...');
unlike($json->encode($r->{body}), qr/\Q$id\E/, '... that does not reveal the task');
# a body that is not JSON reaches the function as text (text/plain from the
# proxy) and is answered there, not by PostgREST
for my $bad ('{"resourceType": "Task",', 'status=requested', '')
{
	$r = request($p1, 'POST', '/rpc/task_create', 'task_create', $bad);
	is_deeply([ $r->{status}, $r->{body}{resourceType}, $r->{body}{issue}[0]{code}, $r->{body}{issue}[0]{details}{coding}[0]{code} ],
		[ 400, 'OperationOutcome', 'invalid', '22P02' ], "POST /Task with the body '$bad' (not JSON): 400 OperationOutcome");
}
is(count_tasks(), $n, 'no error wrote anything');

# --- GET /Task/{id} -------------------------------------------------------------
$r = request($p1, 'GET', '/rpc/task_read', 'task_read', [ [ id => $id ] ]);
is_deeply([ $r->{status}, $r->{body}{id}, $r->{headers}{ETag} ], [ 200, $id, 'W/"1"' ], 'GET /Task/{id}: 200 with ETag');
my $lm = $r->{headers}{'Last-Modified'};
$r = request($p1, 'GET', '/rpc/task_read', 'task_read', [ [ id => $id ] ], { 'if-none-match' => 'W/"1"' });
is_deeply([ $r->{status}, $r->{body} ], [ 304, undef ], 'If-None-Match with the current ETag: 304, no body');
$r = request($p1, 'GET', '/rpc/task_read', 'task_read', [ [ id => $id ] ], { 'if-modified-since' => $lm });
is($r->{status}, 304, 'If-Modified-Since its own Last-Modified: 304');
$r = request($p2, 'GET', '/rpc/task_read', 'task_read', [ [ id => $id ] ]);
my $r2 = request($p2, 'GET', '/rpc/task_read', 'task_read', [ [ id => 'nope' ] ]);
is_deeply([ $r->{status}, $r->{body}{issue}[0]{code} ], [ 404, 'not-found' ], 'another practitioner\'s task: 404');
is($r->{body}{issue}[0]{diagnostics} =~ s/\Q$id\E/ID/r, $r2->{body}{issue}[0]{diagnostics} =~ s/nope/ID/r,
	'... said exactly as for a task that does not exist');

# --- PUT /Task/{id} -------------------------------------------------------------
my $current = request($p1, 'GET', '/rpc/task_read', 'task_read', [ [ id => $id ] ])->{body};
$current->{priority} = 'urgent';
$r = request($p1, 'POST', '/rpc/task_update', 'task_update', $json->encode($current),
	{ 'x-fhir-id' => $id, 'if-match' => 'W/"1"' });
is_deeply([ $r->{status}, $r->{headers}{ETag}, $r->{body}{priority} ], [ 200, 'W/"2"', 'urgent' ], 'PUT with If-Match W/"1": 200, now W/"2"');
is($r->{headers}{Location}, "$base/Task/$id/_history/2", '... Location of the new version');
$current->{priority} = 'stat';
$r = request($p1, 'POST', '/rpc/task_update', 'task_update', $json->encode($current),
	{ 'x-fhir-id' => $id, 'if-match' => 'W/"1"' });
is_deeply([ $r->{status}, $r->{body}{issue}[0]{code} ], [ 412, 'conflict' ], 'PUT with a stale If-Match: 412');
($o) = psql_as('postgres', "SELECT version_id || priority::text FROM omnitask.task WHERE id = '$id'");
is($o, '2urgent', '... nothing written');
psql_as('postgres', 'ALTER DATABASE omnitask_fhir SET omnitask.fhir_require_if_match = on');
$r = request($p1, 'POST', '/rpc/task_update', 'task_update', $json->encode($current), { 'x-fhir-id' => $id });
is_deeply([ $r->{status}, $r->{body}{issue}[0]{code} ], [ 428, 'required' ], 'If-Match required by the server: PUT without it is 428');
psql_as('postgres', 'ALTER DATABASE omnitask_fhir RESET omnitask.fhir_require_if_match');
$r = request($p1, 'POST', '/rpc/task_update', 'task_update', $json->encode($current), { 'x-fhir-id' => 'other' });
is($r->{status}, 400, 'PUT whose body id differs from the URL\'s: 400');
$r = request($aud, 'POST', '/rpc/task_update', 'task_update', $json->encode($current), { 'x-fhir-id' => $id });
is($r->{status}, 403, 'auditor PUT: 403');
$r = request($p2, 'POST', '/rpc/task_update', 'task_update', $json->encode($current), { 'x-fhir-id' => $id });
is($r->{status}, 404, 'PUT on another practitioner\'s task: 404');
$r = request($p1, 'POST', '/rpc/task_update', 'task_update', '<Task/>', { 'x-fhir-id' => $id });
is_deeply([ $r->{status}, $r->{body}{issue}[0]{code} ], [ 400, 'invalid' ], 'PUT with a body that is not JSON: 400 OperationOutcome');

# --- PATCH /Task/{id} -----------------------------------------------------------
$r = request($p1, 'POST', '/rpc/task_patch', 'task_patch',
	'[{"op": "test", "path": "/meta/versionId", "value": "2"}, {"op": "replace", "path": "/priority", "value": "asap"},'
	. ' {"op": "add", "path": "/note", "value": [{"text": "called, no answer"}]}]', { 'x-fhir-id' => $id });
is_deeply([ $r->{status}, $r->{headers}{ETag}, $r->{body}{priority}, $r->{body}{note}[0]{text} ],
	[ 200, 'W/"3"', 'asap', 'called, no answer' ], 'PATCH (JSON Patch with a versionId test): 200, W/"3"');
$r = request($p1, 'POST', '/rpc/task_patch', 'task_patch',
	'[{"op": "test", "path": "/meta/versionId", "value": "2"}, {"op": "replace", "path": "/priority", "value": "stat"}]', { 'x-fhir-id' => $id });
is($r->{status}, 412, 'PATCH whose versionId test fails: 412');
$r = request($p1, 'POST', '/rpc/task_patch', 'task_patch', '[{"op": "replace", "path": "/status", "value": "completed"}]', { 'x-fhir-id' => $id });
is($r->{status}, 409, 'PATCH against the workflow: 409');
$r = request($p1, 'POST', '/rpc/task_patch', 'task_patch', '[{"op": "remove", "path": "/nothing"}]', { 'x-fhir-id' => $id });
is($r->{status}, 422, 'PATCH that cannot be applied: 422');
$r = request($p1, 'POST', '/rpc/task_patch', 'task_patch', '{"op": "remove"}', { 'x-fhir-id' => $id });
is($r->{status}, 400, 'PATCH that is not a JSON Patch: 400');
$r = request($p1, 'POST', '/rpc/task_patch', 'task_patch', '[{"op": "remove"', { 'x-fhir-id' => $id });
is_deeply([ $r->{status}, $r->{body}{issue}[0]{code} ], [ 400, 'invalid' ], 'PATCH with a body that is not JSON: 400 OperationOutcome');

# --- GET /Task/{id}/_history/{vid} and /_history -------------------------------
$r = request($p1, 'GET', '/rpc/task_vread', 'task_vread', [ [ id => $id ], [ vid => '2' ] ]);
is_deeply([ $r->{status}, $r->{body}{priority}, $r->{headers}{ETag} ], [ 200, 'urgent', 'W/"2"' ], 'vread version 2: 200');
$r = request($p1, 'GET', '/rpc/task_vread', 'task_vread', [ [ id => $id ], [ vid => '7' ] ]);
is($r->{status}, 404, 'vread of a version that does not exist: 404');
$r = request($p1, 'GET', '/rpc/task_history', 'task_history', [ [ id => $id ], [ _count => 2 ] ]);
my ($next) = map { $_->{url} } grep { $_->{relation} eq 'next' } @{ $r->{body}{link} };
is_deeply([ $r->{status}, [ map { $_->{resource}{meta}{versionId} } @{ $r->{body}{entry} } ] ], [ 200, [ 3, 2 ] ],
	'instance history, _count=2: versions 3, 2');
is($next, "$base/Task/$id/_history?_count=2&_before=2", '... with an absolute next link');
is($r->{body}{entry}[0]{fullUrl}, "$base/Task/$id", '... and absolute fullUrls');
$r = request($p1, 'GET', '/rpc/task_history', 'task_history', [ [ id => $id ], [ _count => 2 ], [ _before => 2 ] ]);
is_deeply([ map { $_->{resource}{meta}{versionId} } @{ $r->{body}{entry} } ], [ 1 ], '... the next page: version 1');

# --- GET /Task?... ----------------------------------------------------------------
$r = request($p1, 'GET', '/rpc/task_search', 'task_search', [ [ status => 'requested' ], [ _count => 1 ] ]);
is_deeply([ $r->{status}, $r->{body}{type}, $r->{body}{total} ], [ 200, 'searchset', 2 ], 'GET /Task?status=requested: a searchset of p1\'s 2 tasks');
like($r->{body}{link}[0]{url}, qr{^\Q$base\E/Task\?}, '... links are absolute');
$r = request($p1, 'GET', '/rpc/task_search', 'task_search', [ [ status => 'bogus' ] ]);
is_deeply([ $r->{status}, $r->{body}{resourceType} ], [ 400, 'OperationOutcome' ], 'a bad search parameter: 400 OperationOutcome');

# --- GET /Task/_history: the change feed ---------------------------------------
my (%seen, $twice, $pages);
my $cursor;
for (1 .. 50)
{
	$r = request($admin, 'GET', '/rpc/task_changes', 'task_changes', [ [ _cursor => $cursor ], [ _count => 2 ] ]);
	last unless @{ $r->{body}{entry} };
	$pages++;
	for my $en (@{ $r->{body}{entry} })
	{
		$twice++ if $seen{"$en->{resource}{id}/$en->{resource}{meta}{versionId}"}++;
	}
	($cursor) = map { /_cursor=([0-9a-f]+)/ } map { $_->{url} } grep { $_->{relation} eq 'next' } @{ $r->{body}{link} };
}
($o) = psql_as('postgres', 'SELECT count(*) FROM omnitask.task_history');
is_deeply([ scalar(keys %seen), $twice ], [ $o, undef ], "the change feed, 2 per page: all $o versions, none twice");
$r = request($admin, 'GET', '/rpc/task_changes', 'task_changes', [ [ _cursor => 'xyz' ] ]);
is($r->{status}, 400, 'a bad cursor: 400');

# every body above as PostgREST sends it: JSON text, nothing in front (a
# domain over jsonb sent a version byte 0x01 before each)
ok($raw_bodies > 40, "bodies read through $body_send: $raw_bodies");
is($bad_bodies, 0, 'every body is JSON text as PostgREST sends it, with no byte in front');

# --- clean up ---------------------------------------------------------------------
$db = 'postgres';
(undef, $e) = psql_as('postgres', "DROP DATABASE omnitask_fhir;\nDROP ROLE fhir_authenticator, fhir_p1, fhir_p2;\n");
is($e, '', 'clean-up') or diag($e);

# ==================================================================================
# (B) the change feed on a physical standby, with a transaction left open on the
# primary while later ones commit
# ==================================================================================
my $primary = PostgreSQL::Test::Cluster->new('fhir_primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION omnitask');
my $mk = sub {
	my ($d) = @_;
	return qq{SELECT omnitask.create_task('{"resourceType":"Task","status":"requested","intent":"order","description":"$d","for":{"reference":"Patient/sb-1"}}') IS NOT NULL};
};
$primary->safe_psql('postgres', $mk->("before $_")) for 1 .. 3;
$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('fhir_standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;

# reads the feed on the standby from $cursor to its end; returns the descriptions
my $feed = sub {
	my @got;
	for (1 .. 100)
	{
		my $b = $json->decode($standby->safe_psql('postgres',
			'SELECT omnitask.task_changes(' . lit($cursor) . ', 2)'));
		last unless @{ $b->{entry} };
		push @got, map { $_->{resource}{description} } @{ $b->{entry} };
		($cursor) = map { /_cursor=([0-9a-f]+)/ } map { $_->{url} } grep { $_->{relation} eq 'next' } @{ $b->{link} };
	}
	return join(',', @got);
};
$cursor = undef;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($feed->(), 'before 1,before 2,before 3', 'standby: the feed from the start');
my $long = $primary->background_psql('postgres');
$long->query_safe('BEGIN');
$long->query_safe($mk->('long'));
$primary->safe_psql('postgres', $mk->("after $_")) for 1 .. 2;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($feed->(), '', 'standby: while the older transaction is open, nothing newer is handed out');
$long->query_safe('COMMIT');
$long->quit;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($feed->(), 'long,after 1,after 2', 'standby: once it commits, it and the newer ones, in transaction order');
is($feed->(), '', 'standby: nothing twice');
$standby->stop;
$primary->stop;

done_testing();
