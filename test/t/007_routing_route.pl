# Proves that route_region routes IPv4 and IPv6 clients located by a MaxMind
# DB file; that catalogue changes, breaker states and a replaced file reach
# running sessions without reconnecting; that routing stays correct while the
# catalogue changes under concurrent load; that databases other than
# geoshard.database and servers without shared_preload_libraries route from
# a per-backend table; and that a corrupt file errors cleanly.
use strict;
use warnings FATAL => 'all';

use GeoipTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $regions = q{
	SELECT geoshard.add_region('us-west-2', 45.52, -122.68);
	SELECT geoshard.add_region('us-east-1', 38.9, -77.0);
	SELECT geoshard.add_region('ca-central-1', 45.5, -73.57);
	SELECT geoshard.add_region('eu-central-1', 50.11, 8.68);
	SELECT geoshard.add_region('eu-west-3', 48.86, 2.35);
	SELECT geoshard.add_region('ap-southeast-1', 1.29, 103.85);
	SELECT geoshard.add_region('ap-southeast-2', -33.87, 151.21);
	SELECT geoshard.add_region('ap-northeast-1', 35.68, 139.69);
	SELECT geoshard.add_region('ap-northeast-2', 37.57, 126.98);
};

my $node = PostgreSQL::Test::Cluster->new('route');
$node->init;
my $dir = $node->data_dir;
make_mmdb("$dir/geo.mmdb", 'first');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
geoshard.geoip_database = '$dir/geo.mmdb'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION geoshard');
$node->safe_psql('postgres', $regions);

# the test file places 192.0.2/24 in Seattle, 198.51.100/24 in Berlin,
# 203.0.113/24 in Singapore and 2001:db8::/32 in Tokyo
my $route = q{SELECT route_region('%s')};
my %first = (
	'192.0.2.10'        => 'us-west-2',
	'198.51.100.20'     => 'eu-central-1',
	'203.0.113.30'      => 'ap-southeast-1',
	'2001:db8::1'       => 'ap-northeast-1',
	'::ffff:192.0.2.10' => 'us-west-2',
);
for my $ip (sort keys %first)
{
	is($node->safe_psql('postgres', sprintf($route, $ip)),
		$first{$ip}, "$ip routes to $first{$ip}");
}
is( $node->safe_psql(
		'postgres', q{SELECT e->'client'->>'source', e->'client'->>'country', e->>'reason'
		FROM route_region_explain('2001:db8::1') e}),
	'mmdb|JP|lowest_latency',
	'the explanation names the file as the source');
is($node->safe_psql('postgres', q{SELECT string_agg(region, ',' ORDER BY rank)
		FROM route_regions('198.51.100.20', 3)}),
	'eu-central-1,eu-west-3,ca-central-1', 'failover order by distance');

# A running session sees committed changes from other sessions at once.
my $session = $node->background_psql('postgres', on_error_stop => 0);
is($session->query_safe(sprintf($route, '192.0.2.10')), 'us-west-2', 'session routes');
$node->safe_psql('postgres', q{SELECT geoshard.drain_region('us-west-2')});
is($session->query_safe(sprintf($route, '192.0.2.10')),
	'ca-central-1', 'a drain committed elsewhere is seen at once');
$node->safe_psql('postgres',
	q{BEGIN; SELECT geoshard.undrain_region('us-west-2'); ROLLBACK;});
is($session->query_safe(sprintf($route, '192.0.2.10')),
	'ca-central-1', 'a rolled back undrain is not');
$node->safe_psql('postgres', q{SELECT geoshard.undrain_region('us-west-2')});
$node->safe_psql('postgres', q{SELECT geoshard.set_region_breaker('us-west-2', 'open')});
is($session->query_safe(sprintf($route, '192.0.2.10')),
	'ca-central-1', 'an open breaker set elsewhere is seen at once');
$node->safe_psql('postgres', q{SELECT geoshard.set_region_breaker('us-west-2', 'closed')});
is($session->query_safe(sprintf($route, '192.0.2.10')), 'us-west-2', 'and its closing');

# Measurements recorded in one session steer routing in every session.
$node->safe_psql('postgres',
	q{SELECT geoshard.observe_latency('192.0.2.99', 'us-east-1', 2)});
is($session->query_safe(sprintf($route, '192.0.2.10')),
	'us-east-1', 'a measured latency from another session wins');

# A file replaced under the running session changes where clients are.
make_mmdb("$dir/geo.mmdb", 'second');
ok(poll_session($session, sprintf($route, '203.0.113.30'), 'ap-southeast-2'),
	'a replaced file moves 203.0.113.0/24 to Sydney');
is($session->query_safe(sprintf($route, '2001:db8::1')),
	'ap-northeast-2', 'and 2001:db8::/32 to Seoul');

# A corrupt file is an error naming it, and the session survives.
my $corrupt = "$dir/corrupt.mmdb";
open(my $fh, '>:raw', $corrupt) or die "could not write $corrupt: $!";
print $fh pack('C*', map { ($_ * 37 + 11) % 256 } 1 .. 4096);
close($fh);
# (SET itself warns that the file cannot be opened)
$session->query(qq{SET geoshard.geoip_database = '$corrupt'});
$session->{stderr} = '';
$session->query(sprintf($route, '192.0.2.10'));
like($session->{stderr},
	qr/ERROR:  could not open GeoIP database "\Q$corrupt\E"/,
	'route_region errors naming a corrupt file');
$session->{stderr} = '';
$session->query_safe('RESET geoshard.geoip_database');
is($session->query_safe(sprintf($route, '198.51.100.20')),
	'eu-west-3', 'the session routes again from the good file');
$session->quit;

# Concurrent routing while the catalogue changes: every answer is a region
# that was routable, never an error.
$node->safe_psql('postgres', q{SELECT geoshard.add_region('flapper', 47.6, -122.3)});
$node->pgbench(
	'--no-vacuum --client=4 --transactions=400',
	0,
	[ qr{processed: 1600/1600}, qr{number of failed transactions: 0} ],
	[qr{^$}],
	'route_region under concurrent catalogue changes',
	{
		'007_route' => q{
			\set m random(0, 999)
			SELECT CASE WHEN r IN ('flapper', 'us-west-2') THEN 1 ELSE 1 / (coalesce(length(r), 0) * 0) END
			FROM (SELECT route_region(47.6 + :m / 10000.0, -122.3) AS r) s;
		},
		'007_change' => q{
			SELECT CASE WHEN random() < 0.5 THEN geoshard.drain_region('flapper')
				ELSE geoshard.undrain_region('flapper') END;
		}
	});
is($node->safe_psql('postgres', q{SELECT route_region(47.6, -122.3)}),
	$node->safe_psql('postgres',
		q{SELECT CASE WHEN drained THEN 'us-west-2' ELSE 'flapper' END FROM geoshard.regions WHERE id = 'flapper'}),
	'after the storm the shared table matches the catalogue');

# Another database routes from a per-backend table, without breakers.
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION geoshard');
$node->safe_psql('other', $regions);
$node->safe_psql('other', q{SELECT geoshard.drain_region('ap-southeast-1')});
is($node->safe_psql('other', sprintf($route, '198.51.100.20')),
	'eu-west-3', 'another database routes from its own catalogue');
is($node->safe_psql('other', q{SELECT route_region(1.3, 103.8)}),
	'ap-northeast-2', 'and honours its own drains');
is($node->safe_psql('postgres', q{SELECT route_region(1.3, 103.8)}),
	'ap-southeast-1', 'which do not leak into geoshard.database');
my ($ret, $stdout, $stderr) = $node->psql('other',
	q{SELECT geoshard.set_region_breaker('eu-central-1', 'open')});
like($stderr,
	qr/circuit breakers are kept only for the database named by geoshard.database/,
	'breakers need geoshard.database');
$node->stop;

# Without shared_preload_libraries: per-backend tables, reloaded on change.
my $plain = PostgreSQL::Test::Cluster->new('route_plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION geoshard');
$plain->safe_psql('postgres', $regions);
my $plain_session = $plain->background_psql('postgres', on_error_stop => 0);
is($plain_session->query_safe(q{SELECT route_region(47.6, -122.3)}),
	'us-west-2', 'routing works without preload');
$plain->safe_psql('postgres', q{SELECT geoshard.update_region('us-west-2', enabled => false)});
is($plain_session->query_safe(q{SELECT route_region(47.6, -122.3)}),
	'ca-central-1', 'and follows changes made in other sessions');
$plain_session->query(q{SELECT geoshard.observe_latency('192.0.2.1', 'us-east-1', 1)});
like($plain_session->{stderr},
	qr/observed latencies are not available.*\n.*HINT:  Add geoshard to shared_preload_libraries/,
	'measurements need preload, and the error says so');
$plain_session->quit;
$plain->stop;

done_testing();
