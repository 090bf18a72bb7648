# Proves that the health worker probes an HTTP server, a TCP listener and a
# second PostgreSQL, all real processes on loopback; that a stopped endpoint
# opens its breaker within interval x failures + timeout (plus a generous
# margin) and route_region moves its clients to the next region; that a
# frozen endpoint (SIGSTOP: connections accepted, never answered) opens the
# same way while the other regions keep being probed on time; that an
# endpoint coming back goes half_open, then closed, and gets its clients
# back; that a second opening soon after doubles the cooldown (flap damping);
# forced states and 'auto'; probe_now; panic mode; and that all of it
# is recorded in geoshard.health_events.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $interval_ms = 500;
my $timeout_ms = 250;
my $failures = 3;
# detection bound of docs/health.md; the margin covers a loaded test machine
my $bound_s = ($interval_ms * $failures + $timeout_ms) / 1000.0;
my $margin_s = 5;

# an HTTP server (python3 -m http.server) serving an empty directory
my $www = PostgreSQL::Test::Utils::tempdir;
my $http_port = PostgreSQL::Test::Cluster::get_free_port();
my ($http, $http_out);
sub start_http
{
	$http = IPC::Run::start(
		[ 'python3', '-m', 'http.server', $http_port, '--bind', '127.0.0.1', '--directory', $www ],
		'<', \undef, '>&', \$http_out);
}
start_http();

# a TCP listener that accepts and closes every connection
my $tcp_port = PostgreSQL::Test::Cluster::get_free_port();
my $tcp_script = q{
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()
};
my ($tcp, $tcp_out);
sub start_tcp
{
	$tcp = IPC::Run::start([ 'python3', '-c', $tcp_script, $tcp_port ],
		'<', \undef, '>&', \$tcp_out);
}
start_tcp();

# a second PostgreSQL, probed through a postgres:// URI on its socket
my $peer = PostgreSQL::Test::Cluster->new('peer');
$peer->init;
$peer->start;
(my $peer_host = $peer->host) =~ s{/}{%2F}g;
my $peer_uri = sprintf('postgresql://%s:%d/postgres', $peer_host, $peer->port);

my $node = PostgreSQL::Test::Cluster->new('health');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
geoshard.health_interval = '${interval_ms}ms'
geoshard.health_timeout = '${timeout_ms}ms'
geoshard.breaker_failures = $failures
geoshard.breaker_successes = 2
geoshard.breaker_cooldown = '1s'
});
$node->start;
$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION geoshard;
	SELECT geoshard.add_region('web', 10, 10, endpoint => 'http://127.0.0.1:$http_port/');
	SELECT geoshard.add_region('tcp', 12, 12, endpoint => 'tcp://127.0.0.1:$tcp_port');
	SELECT geoshard.add_region('pg', 50, 50, endpoint => '$peer_uri');
});

sub state_is
{
	my ($region, $state) = @_;
	return $node->poll_query_until('postgres',
		qq{SELECT state = '$state' AND last_probe IS NOT NULL FROM geoshard.region_health WHERE region = '$region'});
}

sub route
{
	return $node->safe_psql('postgres', 'SELECT route_region(10, 10)');
}

ok(state_is($_, 'closed'), "$_ is probed and closed") for qw(web tcp pg);
is( $node->safe_psql(
		'postgres', q{SELECT string_agg(region || ':' || probed || ':' || (consecutive_successes > 0), ',' ORDER BY region)
		FROM geoshard.region_health}),
	'pg:true:true,tcp:true:true,web:true:true',
	'all three kinds of probe succeed');
is(route(), 'web', 'the nearest region serves the client');

# 1. a stopped endpoint
my $t0 = time;
$http->kill_kill;
ok(state_is('web', 'open'), 'a stopped HTTP server opens its breaker');
my $elapsed = time - $t0;
cmp_ok($elapsed, '<', $bound_s + $margin_s,
	sprintf('detected in %.2f s (bound %.2f s + %d s margin)', $elapsed, $bound_s, $margin_s));
is(route(), 'tcp', 'route_region moves its clients to the next region');
is($node->safe_psql('postgres', q{SELECT route_region_explain(10, 10) ->> 'reason'}),
	'failover', 'the explanation says failover');
like(
	$node->safe_psql(
		'postgres', q{SELECT from_state || '>' || to_state || ' ' || reason || ' ' || error
		FROM geoshard.health_events WHERE region = 'web' ORDER BY id DESC LIMIT 1}),
	qr/^closed>open probe_failures .*(connect|refused)/i,
	'the transition is recorded with the error');

# 2. it comes back: half_open after the cooldown, then closed
start_http();
ok(state_is('web', 'closed'), 'the HTTP server back: the breaker closes again');
is( $node->safe_psql(
		'postgres', q{SELECT string_agg(from_state || '>' || to_state || ':' || reason, ' ' ORDER BY id)
		FROM geoshard.health_events WHERE region = 'web'}),
	'closed>open:probe_failures open>half_open:cooldown half_open>closed:probe_successes',
	'through half_open, as recorded');
is(route(), 'web', 'traffic returns');

# 3. a frozen endpoint: the timeout opens it, the others keep their rhythm
my $tcp_before = $node->safe_psql('postgres',
	q{SELECT consecutive_successes FROM geoshard.region_health WHERE region = 'tcp'});
$http->signal('STOP');
$t0 = time;
ok(state_is('web', 'open'), 'a frozen HTTP server opens its breaker');
$elapsed = time - $t0;
cmp_ok($elapsed, '<', $bound_s + $margin_s,
	sprintf('detected in %.2f s (bound %.2f s + %d s margin)', $elapsed, $bound_s, $margin_s));
like($node->safe_psql('postgres', q{SELECT last_error FROM geoshard.region_health WHERE region = 'web'}),
	qr/timed out/, 'the error says it timed out');
is( $node->safe_psql(
		'postgres', qq{SELECT consecutive_successes >= $tcp_before + $failures
		AND now() - last_probe < interval '${interval_ms}ms' + interval '${timeout_ms}ms' + interval '${margin_s}s'
		FROM geoshard.region_health WHERE region = 'tcp'}),
	't', 'the TCP region was probed every round meanwhile');
is($node->safe_psql('postgres', q{SELECT cooldown_ms FROM geoshard.region_health WHERE region = 'web'}),
	'2000', 'flap damping: opening again soon after the last time doubles the cooldown');
$http->signal('CONT');
ok(state_is('web', 'closed'), 'the thawed HTTP server closes again');
is( $node->safe_psql(
		'postgres', q{SELECT bool_and(h.at - o.at >= interval '2s')
		FROM geoshard.health_events o
		JOIN LATERAL (SELECT at FROM geoshard.health_events h
					  WHERE h.region = o.region AND h.id > o.id AND h.reason = 'cooldown'
					  ORDER BY h.id LIMIT 1) h ON true
		WHERE o.region = 'web' AND o.to_state = 'open'
		  AND o.id = (SELECT max(id) FROM geoshard.health_events WHERE region = 'web' AND to_state = 'open')}),
	't', 'health_events shows the longer cooldown');

# 4. forced states and auto (the worker records a forced change at its next
# round: wait for each before the next change)
sub forced_events
{
	my $expected = shift;
	return $node->poll_query_until(
		'postgres', q{SELECT string_agg(region || ':' || to_state || ':' || reason, ' ' ORDER BY at, id)
		FROM geoshard.health_events WHERE reason IN ('forced', 'auto')}, $expected);
}
$node->safe_psql('postgres', q{SELECT geoshard.set_region_breaker('web', 'open')});
is( $node->safe_psql(
		'postgres', q{SELECT state || ' ' || forced FROM geoshard.region_health WHERE region = 'web'}),
	'open true', 'forced open although healthy');
is(route(), 'tcp', 'routing obeys the forced state at once');
ok(forced_events('web:open:forced'), 'forcing is recorded in health_events');
$node->safe_psql('postgres', q{SELECT geoshard.set_region_breaker('pg', 'closed')});
$node->safe_psql('postgres', q{SELECT geoshard.set_region_breaker('web', 'auto')});
is( $node->safe_psql(
		'postgres', q{SELECT state || ' ' || forced FROM geoshard.region_health WHERE region = 'web'}),
	'closed false', 'auto hands it back to the probes');
is(route(), 'web', 'and routing follows');
ok(forced_events('web:open:forced pg:closed:forced web:closed:auto'), 'and auto too');
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT geoshard.set_region_breaker('web', 'ajar')});
like($err, qr/unrecognized circuit breaker state: "ajar"/, 'an unknown state is refused');

# 5. probe_now
is( $node->safe_psql('postgres', q{SELECT up, rtt_ms > 0, error IS NULL, state FROM geoshard.probe_now('web')}),
	't|t|t|closed', 'probe_now returns the result of a fresh round');
($ret, $out, $err) = $node->psql('postgres', q{SELECT geoshard.probe_now('nowhere')});
like($err, qr/region "nowhere" does not exist/, 'probe_now of an unknown region fails');
$node->safe_psql('postgres', q{CREATE ROLE app LOGIN});
($ret, $out, $err) = $node->psql('postgres', q{SELECT geoshard.probe_now('web')},
	extra_params => [ '-U', 'app' ]);
like($err, qr/permission denied for function probe_now/, 'probe_now is not for PUBLIC');
is( $node->safe_psql(
		'postgres', q{SET ROLE app; SELECT count(*) FROM geoshard.region_health WHERE state = 'closed'}),
	'3', 'region_health is readable by PUBLIC');

# 6. panic mode: two of three regions down
$node->safe_psql('postgres', q{SELECT geoshard.set_region_breaker('pg', 'auto')});
$http->kill_kill;
$tcp->kill_kill;
ok( $node->poll_query_until(
		'postgres', q{SELECT bool_and(panic) FROM geoshard.region_health}),
	'fewer than half of the regions healthy: panic mode');
is( $node->safe_psql(
		'postgres', q{SELECT e ->> 'region', e ->> 'reason' FROM route_region_explain(10, 10) e}),
	'web|panic', 'routing ignores the breakers and says panic');
ok($node->log_contains('WARNING:  geoshard health entered panic mode: 1 of 3 probed regions are healthy'),
	'entering panic mode is a WARNING');
start_http();
start_tcp();
ok( $node->poll_query_until(
		'postgres', q{SELECT NOT bool_or(panic) AND bool_and(state = 'closed') FROM geoshard.region_health}),
	'endpoints back: panic mode ends, breakers close');
ok($node->log_contains('WARNING:  geoshard health left panic mode'), 'leaving panic mode is a WARNING');
is(route(), 'web', 'normal routing again');

$http->kill_kill;
$tcp->kill_kill;
$node->stop;
$peer->stop;
done_testing();
