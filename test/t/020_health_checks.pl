# Proves that the health worker checks a region's expected HTTP status
# (geoshard.regions.probe_status) and body substring (probe_body) against a
# real HTTP server on loopback: a match is up, a mismatch is a probe failure
# with a clear error that opens the breaker and is recorded in
# geoshard.health_events; a status outside 2xx is up when it is the one
# expected; the body is searched within the 64 kB cap; changes made with
# update_region apply from the next round.  And that a region whose round
# trip grows far above its own baseline is degraded
# (geoshard.health_degraded_factor), with the baseline in region_health.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my ($ret, $out, $err);

# GET /<status>/<body> answers that status with that body;
# GET /pad/<n>/<body> answers 200 with n bytes of "x" and then the body;
# GET /sleep/ answers 200 after as many seconds as the file $delay_file says
my $delay_file = PostgreSQL::Test::Utils::tempdir . '/delay';
PostgreSQL::Test::Utils::append_to_file($delay_file, '0');
my $http_port = PostgreSQL::Test::Cluster::get_free_port();
my $http_script = q{
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        parts = self.path.split('/', 3)
        if parts[1] == 'sleep':
            time.sleep(float(open(sys.argv[2]).read()))
            status, body = 200, b'ok'
        elif parts[1] == 'pad':
            status, body = 200, b'x' * int(parts[2]) + parts[3].encode()
        else:
            status, body = int(parts[1]), '/'.join(parts[2:]).encode()
        self.send_response(status)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
};
my $http_out;
my $http = IPC::Run::start([ 'python3', '-c', $http_script, $http_port, $delay_file ],
	'<', \undef, '>&', \$http_out);
my $base = "http://127.0.0.1:$http_port";

my $node = PostgreSQL::Test::Cluster->new('checks');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
geoshard.health_interval = '200ms'
geoshard.health_timeout = '1s'
geoshard.breaker_failures = 3
geoshard.breaker_cooldown = '1s'
# most regions here fail on purpose: keep the breakers, not panic mode, in view
geoshard.health_panic_threshold = 0
# only the baseline rule of degradation, not the absolute threshold
geoshard.health_degraded_ms = '10s'
geoshard.health_degraded_factor = 4
});
$node->start;
$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION geoshard;
	SELECT geoshard.add_region('match', 10, 10, endpoint => '$base/200/all-ok-here',
							   probe_status => 200, probe_body => 'ok');
	SELECT geoshard.add_region('wrong-status', 11, 11, endpoint => '$base/503/ok',
							   probe_status => 200);
	SELECT geoshard.add_region('wrong-body', 12, 12, endpoint => '$base/200/degraded',
							   probe_body => 'ok');
	SELECT geoshard.add_region('maintenance', 13, 13, endpoint => '$base/503/maintenance',
							   probe_status => 503, probe_body => 'maint');
	SELECT geoshard.add_region('plain', 14, 14, endpoint => '$base/204/');
	SELECT geoshard.add_region('far-body', 15, 15, endpoint => '$base/pad/65000/ok',
							   probe_body => 'ok');
	SELECT geoshard.add_region('too-big', 16, 16, endpoint => '$base/pad/70000/ok',
							   probe_body => 'ok');
	SELECT geoshard.add_region('slow', 17, 17, endpoint => '$base/sleep/');
});

sub probe
{
	my ($region) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT up || '|' || coalesce(error, '') FROM geoshard.probe_now('$region')});
}

sub state_is
{
	my ($region, $state) = @_;
	return $node->poll_query_until('postgres',
		qq{SELECT state = '$state' FROM geoshard.region_health WHERE region = '$region'});
}

# 1. each region's checks, through probe_now
is(probe('match'), 'true|', 'the expected status and a body containing the text: up');
is(probe('wrong-status'), 'false|HTTP status 503, expected 200', 'another status: down, with both');
is(probe('wrong-body'), 'false|response body does not contain "ok"', 'a body without the text: down');
is(probe('maintenance'), 'true|', 'a status outside 2xx is up when it is the one expected');
is(probe('plain'), 'true|', 'no checks: any 2xx is up');
is(probe('far-body'), 'true|', 'the text is found near the end of a 65,002-byte body');
is(probe('too-big'), 'false|response body larger than 65536 bytes', 'a body over the cap is still refused');

# 2. a mismatch is a probe failure like any other: the breaker opens,
#    health_events and region_health say why
ok(state_is('wrong-status', 'open'), 'a wrong status opens the breaker');
ok(state_is('wrong-body', 'open'), 'a missing body text opens the breaker');
ok(state_is('match', 'closed'), 'a matching region stays closed');
is( $node->safe_psql(
		'postgres', q{SELECT string_agg(region || ': ' || error, '; ' ORDER BY region)
		FROM (SELECT DISTINCT ON (region) region, error FROM geoshard.health_events
			  WHERE to_state = 'open' ORDER BY region, id) e}),
	'too-big: response body larger than 65536 bytes; '
	  . 'wrong-body: response body does not contain "ok"; '
	  . 'wrong-status: HTTP status 503, expected 200',
	'health_events records each opening with its error');
is( $node->safe_psql(
		'postgres', q{SELECT last_error FROM geoshard.region_health WHERE region = 'wrong-status'}),
	'HTTP status 503, expected 200', 'region_health shows the last error');

# 3. update_region applies from the next round, both ways
$node->safe_psql('postgres', q{SELECT geoshard.update_region('plain', probe_status => 200)});
is(probe('plain'), 'false|HTTP status 204, expected 200', 'a status now expected: 204 fails');
$node->safe_psql('postgres', q{SELECT geoshard.update_region('plain', probe_status => 0)});
is(probe('plain'), 'true|', 'cleared: any 2xx again');
$node->safe_psql('postgres', q{SELECT geoshard.update_region('wrong-body', probe_body => 'grade')});
is(probe('wrong-body'), 'true|', 'a body text that is there: up');
ok(state_is('wrong-body', 'closed'), 'and the breaker closes again');

# 4. degraded far above its own baseline: 10 probes build the baseline
#    (loopback: well under the 5 ms floor), then 300 ms per answer is over
#    4 x 5 ms once the smoothed round trip catches up
ok( $node->poll_query_until(
		'postgres', q{SELECT consecutive_successes >= 12 AND baseline_rtt_ms < 20 AND NOT degraded
		FROM geoshard.region_health WHERE region = 'slow'}),
	'a fast region builds its baseline and is not degraded');
sub set_delay
{
	my ($seconds) = @_;
	open(my $fh, '>', $delay_file) or die "could not write $delay_file: $!";
	print $fh $seconds;
	close($fh);
}
set_delay('0.3');
ok( $node->poll_query_until(
		'postgres', q{SELECT degraded AND state = 'closed' FROM geoshard.region_health WHERE region = 'slow'}),
	'300 ms answers: degraded, still closed')
  or diag($node->safe_psql('postgres', q{SELECT * FROM geoshard.region_health WHERE region = 'slow'}));
is( $node->safe_psql(
		'postgres', q{SELECT smoothed_rtt_ms > 4 * greatest(baseline_rtt_ms, 5), baseline_rtt_ms < 20
		FROM geoshard.region_health WHERE region = 'slow'}),
	't|t', 'the smoothed round trip is over 4 x the baseline, which the slow answers left alone');
is( $node->safe_psql(
		'postgres', q{SELECT route_region_explain(17, 17)::text LIKE '%"degraded_penalty_ms"%'}),
	't', 'route_region_explain shows the penalty');
set_delay('0');
ok( $node->poll_query_until(
		'postgres', q{SELECT NOT degraded FROM geoshard.region_health WHERE region = 'slow'}),
	'fast again: no longer degraded');
set_delay('0.3');
ok( $node->poll_query_until(
		'postgres', q{SELECT degraded FROM geoshard.region_health WHERE region = 'slow'}),
	'slow again: degraded again');
$node->safe_psql('postgres',
	q{ALTER SYSTEM SET geoshard.health_degraded_factor = 0; SELECT pg_reload_conf()});
ok( $node->poll_query_until(
		'postgres', q{SELECT NOT degraded FROM geoshard.region_health WHERE region = 'slow'}),
	'geoshard.health_degraded_factor = 0 turns the rule off');
($ret, $out, $err) = $node->psql('postgres', q{ALTER SYSTEM SET geoshard.health_degraded_factor = -1});
like($err, qr/-1 is outside the valid range for parameter "geoshard.health_degraded_factor" \(0 \.\. 1000\)/,
	'a negative factor is refused');

# 5. a server that stops answering is still a plain connection failure
$http->kill_kill;
like(probe('match'), qr/^false\|.*(connect|refused)/i, 'no server: the connection error, not a check');

$node->stop;
done_testing();
