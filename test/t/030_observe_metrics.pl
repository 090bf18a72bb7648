# Proves the metrics endpoint end to end: geoshard.metrics moves as
# route_region is called; a real Prometheus scrapes /metrics and its HTTP
# API returns the count the test made; the text follows format 0.0.4 (one
# HELP and TYPE per family, cumulative histogram buckets); malformed and
# oversized requests are refused, a client that sends half a request and
# waits and 200 concurrent connections do not stop the endpoint from
# answering, and the worker never restarts; basic auth refuses a scrape
# without the password (but not /healthz); the listener closes when
# geoshard.metrics_listen is emptied, and nothing listens by default.
use strict;
use warnings FATAL => 'all';

use File::Path qw(make_path);
use HTTP::Tiny;
use IO::Socket::INET;
use IPC::Run;
use JSON::PP;
use MIME::Base64;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $metrics_port = PostgreSQL::Test::Cluster::get_free_port();
my $listen = "127.0.0.1:$metrics_port";
my $base = "http://$listen";
my $http = HTTP::Tiny->new(timeout => 10);

my $node = PostgreSQL::Test::Cluster->new('observe');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
geoshard.node_id = 1
jit = off
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION geoshard');

# Poll a condition (a sub returning true) for up to 60 s, 100 ms apart.
sub poll_until
{
	my ($check) = @_;
	for (my $i = 0; $i < 600; $i++)
	{
		return 1 if $check->();
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# Can a TCP connection to the endpoint be made?
sub listening
{
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $metrics_port, Timeout => 2);
	return 0 unless $s;
	close($s);
	return 1;
}

# 1. Off by default.
ok(!listening(), 'nothing listens while geoshard.metrics_listen is empty');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'geoshard metrics'}),
	'1', 'the metrics worker runs all the same');

# 2. The view moves with route_region.
$node->safe_psql('postgres', q{
	SELECT geoshard.add_region('eu-west-1', 53.35, -6.26);
	SELECT geoshard.add_region('us-east-1', 38.9, -77.0);
});
my $argument_count = q{SELECT value FROM geoshard.metrics
	WHERE name = 'geoshard_route_location_source_total' AND labels = '{"source": "argument"}'};
my $before = $node->safe_psql('postgres', $argument_count);
$node->safe_psql('postgres', 'SELECT route_region(48.85, 2.35, NULL) FROM generate_series(1, 7)');
is($node->safe_psql('postgres', $argument_count), $before + 7, 'the view counts seven calls');

# 3. The endpoint opens on reload.
$node->safe_psql('postgres', "ALTER SYSTEM SET geoshard.metrics_listen = '$listen'");
$node->reload;
ok(poll_until(sub { $http->get("$base/healthz")->{status} == 200 }), 'the endpoint opens on reload');
my $worker_pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard metrics'});

my $res = $http->get("$base/metrics");
is($res->{status}, 200, '/metrics answers');
like($res->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'in the text format 0.0.4');
my $text = $res->{content};
like($text, qr/^geoshard_route_location_source_total\{source="argument"\} 7$/m,
	'the endpoint shows the same count as the view');

# Format: one HELP and one TYPE per family, before its samples; every
# sample of a family; the geoshard_ prefix; cumulative buckets ending in +Inf = _count.
my (%help, %type, @problems);
my $family = '';
foreach my $line (split /\n/, $text)
{
	if ($line =~ /^# HELP (\S+) /)
	{
		push @problems, "second HELP for $1" if $help{$1}++;
		$family = $1;
	}
	elsif ($line =~ /^# TYPE (\S+) (counter|gauge|histogram)$/)
	{
		push @problems, "second TYPE for $1" if $type{$1};
		push @problems, "TYPE of $1 is not after its HELP" if $1 ne $family;
		$type{$1} = $2;
	}
	elsif ($line =~ /^([a-z_]+)(\{[^}]*\})? (\S+)$/)
	{
		my ($name, $value) = ($1, $3);
		my $base_name = $type{$family} && $type{$family} eq 'histogram' ? $name =~ s/_(bucket|sum|count)$//r : $name;
		push @problems, "sample $name outside its family $family" if $base_name ne $family;
		push @problems, "$name has no geoshard_ prefix" unless $name =~ /^geoshard_/;
		push @problems, "$name has a bad value $value" unless $value =~ /^(-?[0-9.e+-]+|[+-]Inf|NaN)$/;
	}
	else
	{
		push @problems, "unparsable line: $line";
	}
}
is(join("\n", @problems), '', 'every line parses, each family has one HELP and one TYPE, all names are prefixed');
is($type{geoshard_probe_duration_seconds}, 'histogram', 'probe round trips are a histogram');

# The histogram of a probed region: this very endpoint's /healthz.
$node->safe_psql('postgres', "SELECT geoshard.update_region('eu-west-1', endpoint => '$base/healthz')");
ok( poll_until(
		sub {
			$http->get("$base/metrics")->{content} =~
			  /^geoshard_probe_duration_seconds_count\{region="eu-west-1"\} ([1-9][0-9]*)$/m;
		}),
	'a probed region gets round trips in its histogram');
$text = $http->get("$base/metrics")->{content};
my @buckets = $text =~ /^geoshard_probe_duration_seconds_bucket\{region="eu-west-1",le="([^"]+)"\} (\d+)$/mg;
my ($count) = $text =~ /^geoshard_probe_duration_seconds_count\{region="eu-west-1"\} (\d+)$/m;
my ($last_le, $last, $monotonic) = ('', -1, 1);
while (my ($le, $n) = splice(@buckets, 0, 2))
{
	$monotonic = 0 if $n < $last;
	($last_le, $last) = ($le, $n);
}
ok($monotonic, 'bucket counts are cumulative');
is("$last_le $last", "+Inf $count", 'the +Inf bucket holds every observation (_count)');
like($text, qr/^geoshard_region_breaker_state\{region="eu-west-1",state="closed"\} 1$/m,
	'the region\'s breaker state');

# 4. A real Prometheus scrapes it.
my $prom_port = PostgreSQL::Test::Cluster::get_free_port();
my $prom_dir = "$PostgreSQL::Test::Utils::tmp_check/prometheus";
make_path("$prom_dir/data");
open(my $conf, '>', "$prom_dir/prometheus.yml") or die $!;
print $conf <<"EOF";
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: geoshard
    static_configs:
      - targets: ['$listen']
EOF
close($conf);
my $prom = IPC::Run::start(
	[
		'prometheus', "--config.file=$prom_dir/prometheus.yml",
		"--storage.tsdb.path=$prom_dir/data", "--web.listen-address=127.0.0.1:$prom_port",
	],
	'<', \undef, '>', "$prom_dir/prometheus.log", '2>&1');

sub prom_query
{
	my ($query) = @_;
	my $r = $http->get("http://127.0.0.1:$prom_port/api/v1/query?query=" . $query);
	return undef unless $r->{success};
	my $result = decode_json($r->{content})->{data}{result};
	return @$result ? $result->[0]{value}[1] : undef;
}

$node->safe_psql('postgres', 'SELECT route_region(40.7, -74.0, NULL) FROM generate_series(1, 5)');
my $seen;
ok( poll_until(
		sub {
			$seen = prom_query('geoshard_route_location_source_total%7Bsource%3D%22argument%22%7D');
			defined $seen && $seen eq '12';
		}),
	'Prometheus scraped the count the test made (12 calls)')
  or diag("last answer: " . ($seen // 'none') . "\n" . slurp_file("$prom_dir/prometheus.log"));
is(prom_query('up%7Bjob%3D%22geoshard%22%7D'), '1', 'Prometheus sees the target up');

# 5. Hostile clients.
sub raw_request
{
	my ($bytes) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $metrics_port, Timeout => 10)
	  or return 'no connection';
	$s->send($bytes);
	$s->shutdown(1);
	my $answer = '';
	while (my $n = sysread($s, my $buf, 65536)) { $answer .= $buf; }
	close($s);
	return $answer;
}

like(raw_request("GARBAGE\r\n\r\n"), qr{\A(?:HTTP/1\.[01] 400 .*)?\z}s,
	'a malformed request line gets 400 or a closed connection');
like(raw_request("\x00\xff\x16\x03\x01 binary\r\n\r\n"), qr{\A(?:HTTP/1\.[01] 400 .*)?\z}s,
	'binary junk (a TLS hello) gets 400 or a closed connection');
like(raw_request("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n"), qr{^HTTP/1\.[01] 400 },
	'a malformed header gets 400');
like(raw_request("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " . ('a' x 100_000) . "\r\n\r\n"),
	qr{^HTTP/1\.[01] 4\d\d }, 'a 100 kB request is refused');
like(raw_request("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), qr{^HTTP/1\.[01] 405 }, 'DELETE gets 405');
like(raw_request("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"), qr{^HTTP/1\.[01] 404 }, 'an unknown path gets 404');

# a slow client: half a request, then silence
my $slow = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $metrics_port)
  or die "no connection: $!";
$slow->send("GET /metrics HTTP/1.1\r\nHost: x\r\n");
is($http->get("$base/metrics")->{status}, 200, 'the endpoint answers while a client sends half a request');

# 200 concurrent connections, each with a whole request, answered while all are open
my @clients;
for my $i (1 .. 200)
{
	my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $metrics_port)
	  or die "connection $i: $!";
	$c->send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	push @clients, $c;
}
# and 200 idle ones
my @idle;
for my $i (1 .. 200)
{
	push @idle, IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $metrics_port)
	  // die "idle connection $i: $!";
}
is($http->get("$base/metrics")->{status}, 200, 'the endpoint answers with 400 connections open');
my $complete = 0;
foreach my $c (@clients)
{
	my $answer = '';
	while (my $n = sysread($c, my $buf, 65536)) { $answer .= $buf; }
	$complete++ if $answer =~ m{^HTTP/1\.1 200 } && $answer =~ /geoshard_health_panic \d\n/;
	close($c);
}
is($complete, 200, 'all 200 concurrent scrapes got the whole text');
close($_) foreach @idle;
my $slow_answer = '';
$slow->blocking(1);
# the idle timeout (10 s) ends the half request: the server closes it
while (my $n = sysread($slow, my $buf, 65536)) { $slow_answer .= $buf; }
close($slow);
pass('the server closed the half request after its timeout');
is($node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard metrics'}),
	$worker_pid, 'the worker was never restarted');

# 6. Basic auth.
$node->safe_psql('postgres', q{ALTER SYSTEM SET geoshard.metrics_password = 'pr0m-s3cret'});
$node->reload;
ok(poll_until(sub { $http->get("$base/metrics")->{status} == 401 }), 'without the password: 401');
my $res401 = $http->get("$base/metrics");
like($res401->{headers}{'www-authenticate'}, qr/^Basic realm="geoshard metrics"/, 'it asks for basic auth');
is( $http->get("$base/metrics",
		{ headers => { Authorization => 'Basic ' . encode_base64('prometheus:wrong', '') } })->{status},
	401, 'a wrong password: 401');
is( $http->get("$base/metrics",
		{ headers => { Authorization => 'Basic ' . encode_base64('prometheus:pr0m-s3cret', '') } })->{status},
	200, 'the password: 200');
is($http->get("$base/healthz")->{status}, 200, '/healthz needs no password');
is($node->safe_psql('postgres', q{SET ROLE pg_monitor; SELECT count(*) > 0 FROM geoshard.metrics}), 't',
	'a non-superuser reads the view');

# 7. Off again.
$node->safe_psql('postgres', 'ALTER SYSTEM RESET geoshard.metrics_listen');
$node->reload;
ok(poll_until(sub { !listening() }), 'the listener closes when geoshard.metrics_listen is emptied');

$prom->kill_kill;
$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|PANIC|TRAP/, 'no crash in the server log');
like($log, qr/geoshard metrics listening on "\Q$listen\E"/, 'the log says where it listened');

done_testing();
