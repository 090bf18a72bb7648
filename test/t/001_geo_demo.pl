# Proves that the demo data path works end to end on a preloaded server: the
# demo data loads, every showcase query runs, and its answers agree with
# brute force (radius counts, k nearest, shard owners).
use strict;
use warnings FATAL => 'all';

use FindBin;
use GeoipTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $demo = "$FindBin::Bin/../demo";

my $node = PostgreSQL::Test::Cluster->new('demo');
$node->init;
my $mmdb = $node->data_dir . '/demo.mmdb';
make_mmdb($mmdb);
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
geoshard.node_id = 1
geoshard.database = 'geoshard_demo'
geoshard.geoip_database = '$mmdb'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE geoshard_demo');

my ($ret, $out, $err) = $node->psql('geoshard_demo', undef,
	extra_params => [ '-f', "$demo/data.sql" ]);
is($ret, 0, 'demo data loads') or diag($err);

is($node->safe_psql('geoshard_demo', 'SELECT count(*) FROM pins'),
	'100000', '100,000 pins loaded');
is($node->safe_psql('geoshard_demo', 'SELECT geoshard.is_preloaded()'),
	't', 'geoshard is preloaded');

($ret, $out, $err) = $node->psql('geoshard_demo', undef,
	extra_params => [ '-P', 'format=aligned', '-P', 'tuples_only=off', '-f', "$demo/showcase.sql" ]);
is($ret, 0, 'showcase queries run') or diag($err);
like($out, qr/Bitmap Index Scan on pins_qk/, 'showcase radius query uses the index');
like($out, qr/University of Washington\s+\|\s+us-west/, 'showcase shows shard owners');
like($out, qr/1 \|\s+2 \| \{ana,ben\}/, 'showcase CRDT merge: both increments and an add-wins set');
like($out, qr/192\.0\.2\.10\s+\| us-west-2\s+\| US/, 'showcase routes a Seattle address to Oregon');
like($out, qr/198\.51\.100\.20\s+\| eu-central-1\s+\| DE/, 'showcase routes a Berlin address to Frankfurt');
like($out, qr/2001:db8::1\s+\| ap-northeast-1\s+\| JP/, 'showcase routes an IPv6 Tokyo address');
like($out, qr/"reason": "lowest_latency"/, 'showcase explains a decision');
like($out, qr/us-east-1\s+\| failover/, 'showcase fails over from a drained region');

# The showcase's radius count equals a full scan.
my ($shown) = $out =~ /pins_within_250m\s*\n-+\n\s*(\d+)/;
ok(defined $shown && $shown > 0, 'showcase radius query found pins');
is( $node->safe_psql(
		'geoshard_demo', q{
		SET enable_indexscan = off; SET enable_bitmapscan = off;
		SELECT count(*) FROM pins WHERE haversine(lat, lon, 47.6553, -122.3035) <= 250}),
	$shown,
	'showcase radius count equals a full scan');

# Exact k nearest through the index equal a full sort, at every campus.
is( $node->safe_psql(
		'geoshard_demo', q{
		SELECT count(*) FROM campuses c
		WHERE (SELECT array_agg(id) FROM (
				SELECT p.id FROM (SELECT max(haversine(lat, lon, c.lat, c.lon)) AS r
					  FROM (SELECT lat, lon FROM pins ORDER BY qk <-> point(c.lon, c.lat) LIMIT 25) s) b,
					 LATERAL (SELECT * FROM pins
							  WHERE quadkey_dwithin(qk, c.lat, c.lon, b.r)
								AND haversine(lat, lon, c.lat, c.lon) <= b.r
							  ORDER BY haversine(lat, lon, c.lat, c.lon), id LIMIT 25) p) x)
		   IS DISTINCT FROM
			  (SELECT array_agg(id) FROM (
				SELECT id FROM pins ORDER BY haversine(lat, lon, c.lat, c.lon), id LIMIT 25) y)}),
	'0',
	'exact k-NN equals a full sort at every campus');

# Every pin has an owner, and it is the node of its quadrant's shard.
is( $node->safe_psql(
		'geoshard_demo', q{
		SELECT count(*) FROM pins p
		WHERE shard_for(qk) IS DISTINCT FROM
			  (SELECT node FROM geoshard.shards s WHERE s.prefix @> p.qk)}),
	'0',
	'shard_for agrees with a scan of the shard map');

# The demo's data set stays the same from run to run.
is($node->safe_psql('geoshard_demo', q{SELECT shard_for(quadkey(42.3601, -71.0942, 23))}),
	'us-east', 'the split hotspot moved MIT to its own node');

$node->stop;
done_testing();
