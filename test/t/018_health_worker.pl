# Proves the health worker's life cycle: it waits quietly (one log line)
# until the extension is created, then starts probing; it shows in
# pg_stat_activity; endpoints are shown without passwords; a slow region is
# degraded and routing adds the penalty; geoshard.health_enabled = off
# closes every measured breaker and on resumes; after a postmaster restart
# and after SIGKILL of the worker it comes back and rebuilds the breakers
# from geoshard.health_events (a forced state stays forced, an open region
# stays open without three new failures), with no error loop in the log.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# a TCP listener that accepts and closes every connection
my $tcp_port = PostgreSQL::Test::Cluster::get_free_port();
my $tcp = IPC::Run::start(
	[
		'python3', '-c', q{
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()
}, $tcp_port
	],
	'<', \undef, '>&', \my $tcp_out);

# an HTTP server that answers after 100 ms
my $slow_port = PostgreSQL::Test::Cluster::get_free_port();
my $slow = IPC::Run::start(
	[
		'python3', '-c', q{
import sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
class Slow(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.1)
        self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')
    def log_message(self, *args):
        pass
HTTPServer(('127.0.0.1', int(sys.argv[1])), Slow).serve_forever()
}, $slow_port
	],
	'<', \undef, '>&', \my $slow_out);

# nothing listens here
my $dead_port = PostgreSQL::Test::Cluster::get_free_port();

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
geoshard.breaker_cooldown = '1s'
geoshard.health_timeout = '400ms'
geoshard.health_degraded_ms = '50ms'
geoshard.health_panic_threshold = 0
# the SIGKILL test needs the postmaster to restart after a crash
restart_after_crash = on
});
$node->start;

# 1. no extension yet: one log line, no errors
$node->wait_for_log(qr/geoshard health is waiting for CREATE EXTENSION geoshard in database "postgres"/);
is( $node->safe_psql(
		'postgres', q{SELECT backend_type || '|' || application_name FROM pg_stat_activity
		WHERE backend_type = 'geoshard health'}),
	'geoshard health|geoshard health',
	'the worker shows in pg_stat_activity');

$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION geoshard;
	SELECT geoshard.add_region('up', 10, 10, endpoint => 'tcp://127.0.0.1:$tcp_port');
	SELECT geoshard.add_region('slow', 10.5, 10.5, endpoint => 'http://127.0.0.1:$slow_port/');
	SELECT geoshard.add_region('down', 40, 40,
		endpoint => 'postgres://probe:hunter2\@127.0.0.1:$dead_port/db?password=hunter3&sslmode=disable');
	SELECT geoshard.add_region('bad', 50, 50, endpoint => 'gopher://127.0.0.1/');
	SELECT geoshard.add_region('none', 60, 60);
});
$node->wait_for_log(qr/geoshard health found extension geoshard in database "postgres"/);
ok( $node->poll_query_until(
		'postgres', q{SELECT string_agg(region || ':' || state, ',' ORDER BY region)
		FROM geoshard.region_health WHERE last_probe IS NOT NULL},
		'bad:open,down:open,slow:closed,up:closed'),
	'once created, the worker probes: failing regions open');
is( $node->safe_psql(
		'postgres', q{SELECT string_agg(region || '|' || coalesce(endpoint, 'null') || '|' || probed, E'\n' ORDER BY region)
		FROM geoshard.region_health WHERE region IN ('down', 'none')}),
	"down|postgres://probe:***\@127.0.0.1:$dead_port/db?password=***&sslmode=disable|true\nnone|null|false",
	'passwords are masked; a region without endpoint is not probed');
like($node->safe_psql('postgres', q{SELECT last_error FROM geoshard.region_health WHERE region = 'bad'}),
	qr/^unrecognized endpoint: use http/, 'an unknown scheme is a failure with a clear error');
like($node->safe_psql('postgres', q{SELECT last_error FROM geoshard.region_health WHERE region = 'down'}),
	qr/Connection refused/, 'libpq errors are kept on one line');

# 2. degraded: up, but slower than health_degraded_ms
ok($node->poll_query_until('postgres', q{SELECT degraded FROM geoshard.region_health WHERE region = 'slow'}),
	'a slow region is degraded');
is( $node->safe_psql(
		'postgres', q{SELECT e ->> 'region', a ->> 'region', a ->> 'degraded_penalty_ms'
		FROM route_region_explain(10.5, 10.5) e, jsonb_array_elements(e -> 'alternatives') a
		WHERE a ->> 'region' = 'slow'}),
	'up|slow|100', 'routing adds the degraded penalty and says so');

# 3. health checks off and on again
$node->append_conf('postgresql.conf', 'geoshard.health_enabled = off');
$node->reload;
ok( $node->poll_query_until(
		'postgres', q{SELECT bool_and(state = 'closed') AND NOT bool_or(degraded) FROM geoshard.region_health}),
	'health_enabled = off closes the measured breakers');
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT geoshard.probe_now('up')});
like($err, qr/health checks are disabled/, 'probe_now refuses while off');
$node->append_conf('postgresql.conf', 'geoshard.health_enabled = on');
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT state = 'open' FROM geoshard.region_health WHERE region = 'down'}),
	'on again: the failing region opens again');

# 4. postmaster restart: state rebuilt from health_events
$node->safe_psql('postgres', q{SELECT geoshard.set_region_breaker('up', 'open')});
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) > 0 FROM geoshard.health_events WHERE region = 'up' AND reason = 'forced'}),
	'the forced state is recorded');
$node->restart;
my $restarted = $node->safe_psql('postgres', 'SELECT now()');
ok( $node->poll_query_until(
		'postgres', q{SELECT string_agg(region || ':' || state || ':' || forced, ',' ORDER BY region)
		FROM geoshard.region_health WHERE region IN ('up', 'down')},
		'down:open:false,up:open:true'),
	'after a restart the forced region is still forced and the failing one open');
ok($node->log_contains('geoshard health rebuilt the circuit breakers of'), 'the rebuild is logged');
is( $node->safe_psql(
		'postgres', qq{SELECT count(*) FROM geoshard.health_events
		WHERE region = 'down' AND reason = 'probe_failures' AND at > '$restarted'}),
	'0', 'the failing region did not start closed');

# 5. SIGKILL of the worker: the postmaster restarts it, no error loop
my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard health'});
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
ok( $node->poll_query_until(
		'postgres', qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'geoshard health' AND pid <> $pid}),
	'the worker is back after SIGKILL');
ok( $node->poll_query_until(
		'postgres', q{SELECT state || ':' || forced FROM geoshard.region_health WHERE region = 'up'}, 'open:true'),
	'and rebuilt the breakers');
$node->safe_psql('postgres', q{SELECT geoshard.set_region_breaker('up', 'auto')});
is($node->safe_psql('postgres', q{SELECT (geoshard.probe_now('up')).up}), 't', 'and probes');
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/"geoshard health".*exited with exit code 1|ERROR/, 'no error in the log since');
my @waits = (slurp_file($node->logfile) =~ /geoshard health is waiting for CREATE EXTENSION/g);
is(scalar @waits, 1, 'waiting for the extension was logged once');

$tcp->kill_kill;
$slow->kill_kill;
$node->stop;
done_testing();
