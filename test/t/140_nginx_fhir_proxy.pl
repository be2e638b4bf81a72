# 140_nginx_fhir_proxy.pl: the front proxy of the README (test/nginx/
# omnitask-fhir.conf, Debian's nginx) in front of a recording upstream that
# stands in for PostgREST (no PostgREST binary is installed here).  Each FHIR
# request a client sends must arrive rewritten exactly as PostgREST expects
# it: method, path, query, the headers the fhir functions read, and the body
# byte for byte.  Both listen on 127.0.0.1 only, on free ports.
# Skipped when nginx is not installed.
use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP;
use File::Temp qw(tempdir);
use PostgreSQL::Test::Cluster;
use Test::More;

my $TOP = $ENV{OMNITASK_TOP} or die "OMNITASK_TOP is not set\n";
my ($nginx) = grep { -x $_ } ($ENV{NGINX} || (), '/usr/sbin/nginx', map { "$_/nginx" } split /:/, $ENV{PATH});
plan skip_all => 'nginx is not installed (Debian package nginx): the front-proxy test needs it' unless $nginx;

my $proxy_port = PostgreSQL::Test::Cluster::get_free_port();
my $upstream_port = PostgreSQL::Test::Cluster::get_free_port();
my $dir = tempdir(CLEANUP => 1, DIR => $ENV{TESTDIR} || undef);
my $json = JSON::PP->new->canonical;

# --- the recording upstream: answers 200 {} and records each request -----------
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $upstream_port,
	Listen => 16, ReuseAddr => 1, Proto => 'tcp') or die "cannot listen on 127.0.0.1:$upstream_port: $!";
my $upstream_pid = fork() // die "fork: $!";
if ($upstream_pid == 0)
{
	open my $log, '>>', "$dir/requests.jsonl" or die;
	$log->autoflush(1);
	while (my $c = $listen->accept)
	{
		local $/ = "\r\n";
		my $line = <$c>;
		next unless defined $line;
		$line =~ s/\r\n$//;
		my ($method, $target) = split / /, $line;
		my %h;
		while (my $hl = <$c>)
		{
			$hl =~ s/\r\n$//;
			last if $hl eq '';
			my ($k, $v) = split /:\s*/, $hl, 2;
			$h{ lc $k } = $v;
		}
		my $body = '';
		read($c, $body, $h{'content-length'}) if $h{'content-length'};
		print $log $json->encode({ method => $method, target => $target, headers => \%h, body => $body }), "\n";
		print $c "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
		close $c;
	}
	exit 0;
}
close $listen;

# --- nginx with the README's configuration, addresses changed -------------------
open my $in, '<', "$TOP/test/nginx/omnitask-fhir.conf" or die;
my $conf = do { local $/; <$in> };
close $in;
$conf =~ s/server 127\.0\.0\.1:3000;/server 127.0.0.1:$upstream_port;/ or die 'no upstream address in the configuration';
$conf =~ s/listen 127\.0\.0\.1:8080;/listen 127.0.0.1:$proxy_port;/ or die 'no listen address in the configuration';
mkdir "$dir/logs";
open my $out, '>', "$dir/fhir.conf" or die;
print $out $conf;
close $out;
open $out, '>', "$dir/nginx.conf" or die;
print $out <<"EOF2";
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
	include $dir/fhir.conf;
}
EOF2
close $out;
my $nginx_pid = fork() // die "fork: $!";
if ($nginx_pid == 0)
{
	exec $nginx, '-e', "$dir/logs/error.log", '-p', $dir, '-c', "$dir/nginx.conf";
	die "exec nginx: $!";
}
my $up;
for (1 .. 100)
{
	$up = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $proxy_port, Proto => 'tcp') and last;
	select(undef, undef, undef, 0.1);
}
ok($up, "nginx listens on 127.0.0.1:$proxy_port") or BAIL_OUT('nginx did not start: ' . `cat $dir/logs/error.log`);
close $up if $up;

# sends one request through nginx; returns (status, what the upstream
# received, the raw answer)
sub through
{
	my ($method, $target, $headers, $body) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $proxy_port, Proto => 'tcp') or die $!;
	my $req = "$method $target HTTP/1.1\r\nHost: fhir.example.org\r\nConnection: close\r\n";
	$req .= "$_: $headers->{$_}\r\n" for sort keys %$headers;
	$req .= 'Content-Length: ' . length($body) . "\r\n" if defined $body;
	$req .= "\r\n" . ($body // '');
	print $s $req;
	local $/;
	my $resp = <$s>;
	close $s;
	my ($status) = $resp =~ m{^HTTP/1\.\d (\d{3})};
	my @lines = -e "$dir/requests.jsonl" ? do { open my $f, '<', "$dir/requests.jsonl"; <$f> } : ();
	my $seen = @lines ? $json->decode($lines[-1]) : undef;
	truncate "$dir/requests.jsonl", 0 if @lines;
	return ($status, @lines == 1 ? $seen : undef, $resp);
}

my $task = '{"resourceType":"Task","id":"t-1","status":"requested","intent":"order","description":"caf\u00e9 | ñ","for":{"reference":"Patient/p"}}';
my $patch = '[{"op":"test","path":"/meta/versionId","value":"2"},{"op":"replace","path":"/priority","value":"stat"}]';
my $auth = 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x';

# [ name, method, target, headers, body, expected method, path?query, expected headers, body passes? ]
my @cases = (
	[ 'GET /metadata', 'GET', '/metadata', { Accept => 'application/fhir+json' }, undef,
	  'GET', '/rpc/metadata', { accept => 'application/fhir+json' } ],
	[ 'GET /Task/{id}', 'GET', '/Task/t-1', { Accept => 'application/fhir+json', 'If-None-Match' => 'W/"3"', Authorization => $auth }, undef,
	  'GET', '/rpc/task_read?id=t-1', { accept => 'application/fhir+json', 'if-none-match' => 'W/"3"', authorization => $auth, 'x-fhir-id' => undef, 'content-type' => undef } ],
	[ 'GET /Task/{id} with a stray query and X-FHIR-Id', 'GET', '/Task/t-1?_format=json', { 'X-FHIR-Id' => 'other', Accept => '*/*' }, undef,
	  'GET', '/rpc/task_read?id=t-1', { accept => 'application/fhir+json', 'x-fhir-id' => undef } ],
	[ 'POST /Task', 'POST', '/Task', { 'Content-Type' => 'application/fhir+json; charset=utf-8', Accept => 'application/fhir+json',
	  'If-None-Exist' => 'identifier=https://orders.example/id|ord-1', Prefer => 'return=representation', Authorization => $auth }, $task,
	  'POST', '/rpc/task_create', { 'content-type' => 'text/plain', accept => 'application/fhir+json',
	  'if-none-exist' => 'identifier=https://orders.example/id|ord-1', prefer => 'return=representation', authorization => $auth, 'x-fhir-id' => undef } ],
	[ 'PUT /Task/{id}', 'PUT', '/Task/t-1', { 'Content-Type' => 'application/fhir+json', 'If-Match' => 'W/"2"', Prefer => 'return=minimal', 'X-FHIR-Condition' => 'identifier=forged' }, $task,
	  'POST', '/rpc/task_update', { 'content-type' => 'text/plain', 'if-match' => 'W/"2"', prefer => 'return=minimal', 'x-fhir-id' => 't-1', accept => 'application/fhir+json',
	  'x-fhir-condition' => undef } ],
	[ 'PUT /Task?identifier= (conditional update)', 'PUT', '/Task?identifier=https%3A%2F%2Forders.example%2Fid%7Cord-1',
	  { 'Content-Type' => 'application/fhir+json', 'If-Match' => 'W/"4"', 'X-FHIR-Id' => 'forged', 'X-FHIR-Condition' => 'identifier=forged' }, $task,
	  'POST', '/rpc/task_update', { 'content-type' => 'text/plain', 'if-match' => 'W/"4"', 'x-fhir-id' => undef,
	  'x-fhir-condition' => 'identifier=https%3A%2F%2Forders.example%2Fid%7Cord-1' } ],
	[ 'PATCH /Task/{id}', 'PATCH', '/Task/t-1', { 'Content-Type' => 'application/json-patch+json', 'If-Match' => 'W/"2"', 'X-FHIR-Id' => 'forged' }, $patch,
	  'POST', '/rpc/task_patch', { 'content-type' => 'text/plain', 'if-match' => 'W/"2"', 'x-fhir-id' => 't-1' } ],
	[ 'GET /Task?...', 'GET', '/Task?status=requested,accepted&owner:missing=true&authored-on=ge2026-01-01T00%3A00%3A00%2B02%3A00&_count=20&_sort=-priority',
	  { Accept => 'application/json', 'X-FHIR-Query' => 'forged' }, undef,
	  'GET', '/rpc/task_search', { accept => 'application/fhir+json',
	  'x-fhir-query' => 'status=requested,accepted&owner:missing=true&authored-on=ge2026-01-01T00%3A00%3A00%2B02%3A00&_count=20&_sort=-priority' } ],
	[ 'GET /Task', 'GET', '/Task', { 'X-FHIR-Query' => 'forged' }, undef, 'GET', '/rpc/task_search', { 'x-fhir-query' => undef } ],
	[ 'GET /Task/{id}/_history', 'GET', '/Task/t-1/_history?_count=2&_since=2026-01-01T00:00:00Z', {}, undef,
	  'GET', '/rpc/task_history?id=t-1&_count=2&_since=2026-01-01T00:00:00Z', { accept => 'application/fhir+json' } ],
	[ 'GET /Task/{id}/_history/{vid}', 'GET', '/Task/t-1/_history/3', {}, undef,
	  'GET', '/rpc/task_vread?id=t-1&vid=3', {} ],
	[ 'GET /Task/_history (change feed)', 'GET', '/Task/_history?_cursor=3133372e312e74&_count=100', {}, undef,
	  'GET', '/rpc/task_changes?_cursor=3133372e312e74&_count=100', {} ],
	[ 'If-Modified-Since passes', 'GET', '/Task/t-1', { 'If-Modified-Since' => 'Sat, 01 Jan 2000 00:00:00 GMT' }, undef,
	  'GET', '/rpc/task_read?id=t-1', { 'if-modified-since' => 'Sat, 01 Jan 2000 00:00:00 GMT' } ],
	[ 'an XML Accept is left for PostgREST to refuse', 'GET', '/Task/t-1', { Accept => 'application/fhir+xml' }, undef,
	  'GET', '/rpc/task_read?id=t-1', { accept => 'application/fhir+xml' } ],
);
for my $c (@cases)
{
	my ($name, $m, $target, $hdrs, $body, $em, $et, $eh) = @$c;
	my ($status, $seen) = through($m, $target, $hdrs, $body);
	is($status, 200, "$name: answered");
	ok($seen, "$name: reached the upstream once") or next;
	is("$seen->{method} $seen->{target}", "$em $et", "$name: arrives as $em $et");
	my %got = map { $_ => $seen->{headers}{$_} } keys %$eh;
	is_deeply(\%got, $eh, "$name: headers as PostgREST needs them");
	is($seen->{body}, $body // '', "$name: body unchanged") if defined $body;
}

# what the proxy refuses itself, with an OperationOutcome: methods and paths
# it does not serve, query parameters the function does not have or values
# PostgREST could not convert (PostgREST would answer those with its own
# error body), writes whose body is not JSON by its type
my $json_body = { 'Content-Type' => 'application/fhir+json' };
for my $c ([ 'DELETE', '/Task/t-1', {}, 405, 'not-supported' ], [ 'PUT', '/Task', $json_body, 405, 'not-supported' ],
		   [ 'POST', '/Task/t-1/_history', $json_body, 405, 'not-supported' ],
		   [ 'GET', '/Task/not%20an%20id', {}, 404, 'not-found' ], [ 'GET', '/Patient/p-1', {}, 404, 'not-found' ],
		   [ 'GET', '/rpc/task_read?id=x', {}, 404, 'not-found' ],
		   [ 'GET', '/Task/t-1/_history?_count=2&_list=x', {}, 400, 'invalid' ],
		   [ 'GET', '/Task/t-1/_history?_since=yesterday', {}, 400, 'invalid' ],
		   [ 'GET', '/Task/_history?_since=2026-01-01', {}, 400, 'invalid' ],
		   [ 'GET', '/Task/_history?_count=-1', {}, 400, 'invalid' ],
		   [ 'GET', '/Task/_history?_cursor=not-a-cursor', {}, 400, 'invalid' ],
		   [ 'POST', '/Task', { 'Content-Type' => 'application/fhir+xml' }, 415, 'not-supported' ],
		   [ 'POST', '/Task', {}, 415, 'not-supported' ],
		   [ 'PUT', '/Task/t-1', { 'Content-Type' => 'text/plain' }, 415, 'not-supported' ],
		   [ 'PUT', '/Task?identifier=a%7Cb', { 'Content-Type' => 'application/x-www-form-urlencoded' }, 415, 'not-supported' ],
		   [ 'PATCH', '/Task/t-1', { 'Content-Type' => 'application/merge-patch+json' }, 415, 'not-supported' ])
{
	my ($m, $target, $hdrs, $want, $code) = @$c;
	my ($status, $seen, $resp) = through($m, $target, $hdrs, $m eq 'GET' ? undef : '{}');
	is_deeply([ $status, defined $seen ], [ $want, '' ], "$m $target: $want from the proxy, nothing forwarded");
	my ($head, $body) = split /\r\n\r\n/, $resp, 2;
	like($head, qr{^Content-Type: application/fhir\+json\r?$}mi, '... as application/fhir+json');
	my $oo = eval { $json->decode($body) };
	is_deeply([ $oo->{resourceType}, $oo->{issue}[0]{severity}, $oo->{issue}[0]{code} ], [ 'OperationOutcome', 'error', $code ],
		"... an OperationOutcome ($code)");
}

kill 'TERM', $nginx_pid;
waitpid($nginx_pid, 0);
kill 'TERM', $upstream_pid;
waitpid($upstream_pid, 0);
done_testing();
