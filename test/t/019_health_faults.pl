# Proves that hostile or broken endpoints are probe failures with a clear
# error text, never a stuck or restarted worker: a redirect loop, an endpoint
# that streams an endless body, one that accepts and never answers, an HTTP
# 500, a host name that resolves to nothing, and malformed endpoints; while a
# healthy region beside them keeps being probed every round.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $server = IPC::Run::start(
	[
		'python3', '-c', q{
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Hostile(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        if self.path == '/loop':
            self.send_response(302)
            self.send_header('Location', '/loop')
            self.send_header('Content-Length', '0')
            self.end_headers()
        elif self.path == '/huge':
            self.send_response(200)
            self.send_header('Content-Length', str(1 << 30))
            self.end_headers()
            chunk = b'x' * 65536
            try:
                for _ in range(1 << 14):
                    self.wfile.write(chunk)
            except OSError:
                pass
        elif self.path == '/hang':
            time.sleep(3600)
        elif self.path == '/error':
            self.send_response(500)
            self.send_header('Content-Length', '0')
            self.end_headers()
        else:
            self.send_response(204)
            self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Hostile).serve_forever()
}, $port
	],
	'<', \undef, '>&', \my $server_out);

my $node = PostgreSQL::Test::Cluster->new('faults');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
geoshard.health_panic_threshold = 0
});
$node->start;
my $base = "http://127.0.0.1:$port";
$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION geoshard;
	SELECT geoshard.add_region('ok', 0, 0, endpoint => '$base/');
	SELECT geoshard.add_region('loop', 1, 1, endpoint => '$base/loop');
	SELECT geoshard.add_region('huge', 2, 2, endpoint => '$base/huge');
	SELECT geoshard.add_region('hang', 3, 3, endpoint => '$base/hang');
	SELECT geoshard.add_region('error', 4, 4, endpoint => '$base/error');
	SELECT geoshard.add_region('nxdomain', 5, 5, endpoint => 'http://no-such-host.invalid/');
	SELECT geoshard.add_region('badtcp', 6, 6, endpoint => 'tcp://127.0.0.1');
	SELECT geoshard.add_region('badurl', 7, 7, endpoint => 'http://[::1');
	SELECT geoshard.add_region('badconninfo', 8, 8, endpoint => 'host=127.0.0.1 nosuchoption=1');
});
my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard health'});

ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 8 FROM geoshard.region_health WHERE state = 'open'}),
	'every broken endpoint opens its breaker');
my %errors = (
	loop        => qr/redirect/i,
	huge        => qr/response body larger than 65536 bytes/,
	hang        => qr/timed out/i,
	error       => qr/^HTTP status 500$/,
	nxdomain    => qr/resolve|timed out/i,
	badtcp      => qr/^invalid tcp endpoint: expected tcp:\/\/host:port$/,
	badurl      => qr/URL|malformed/i,
	badconninfo => qr/invalid connection option "nosuchoption"/,);
for my $region (sort keys %errors)
{
	like($node->safe_psql('postgres', qq{SELECT last_error FROM geoshard.region_health WHERE region = '$region'}),
		$errors{$region}, "$region: the error says why");
}
is( $node->safe_psql(
		'postgres', q{SELECT state || ' ' || (now() - last_probe < interval '2s') || ' ' || (consecutive_successes >= 3)
		FROM geoshard.region_health WHERE region = 'ok'}),
	'closed true true', 'the healthy region beside them is probed every round');
is($node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard health'}),
	$pid, 'the worker never restarted');

# settings out of range are refused
my ($ret, $out, $err) = $node->psql('postgres', q{ALTER SYSTEM SET geoshard.health_timeout = '5ms'});
like($err, qr/5 ms is outside the valid range for parameter "geoshard.health_timeout" \(10 \.\. 600000\)/,
	'a timeout below 10 ms is refused');
($ret, $out, $err) = $node->psql('postgres', q{ALTER SYSTEM SET geoshard.health_panic_threshold = 101});
like($err, qr/101 is outside the valid range for parameter "geoshard.health_panic_threshold" \(0 \.\. 100\)/,
	'a panic threshold above 100 is refused');

$server->kill_kill;
$node->stop;
done_testing();
