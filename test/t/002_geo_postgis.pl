# Proves that geoshard's canonical radius and k-nearest queries return
# exactly the rows of PostGIS (geography, sphere distance) on the same data:
# ST_DWithin(geog, point, r, false) and ORDER BY geog <-> point LIMIT k.
# PostGIS is only a test peer here; geoshard itself never needs it.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('postgis');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'geoshard'\njit = off");
$node->start;

$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION postgis;
	CREATE EXTENSION geoshard;
	SELECT setseed(0.5);
	CREATE TABLE pts (id int PRIMARY KEY, lat float8, lon float8,
					  qk quadkey, geog geography(Point, 4326));
	-- a dense city, a sparse country, and a strip across the antimeridian
	INSERT INTO pts (id, lat, lon)
		SELECT g, 47 + random(), -122.5 + random() FROM generate_series(1, 100000) g;
	INSERT INTO pts (id, lat, lon)
		SELECT 100000 + g, 45 + random() * 10, 5 + random() * 10 FROM generate_series(1, 20000) g;
	INSERT INTO pts (id, lat, lon)
		SELECT 200000 + g, -17 + random(), CASE WHEN x > 180 THEN x - 360 ELSE x END
		FROM (SELECT g, 179.5 + random() AS x FROM generate_series(1, 20000) g) s;
	UPDATE pts SET qk = quadkey(lat, lon, 23), geog = ST_MakePoint(lon, lat)::geography;
	CREATE INDEX ON pts USING gist (qk);
	CREATE INDEX ON pts USING gist (geog);
	ANALYZE pts;
	CREATE TABLE centres AS
		SELECT g AS cid,
			   CASE g % 3 WHEN 0 THEN 47 + random() WHEN 1 THEN 45 + random() * 10 ELSE -17 + random() END AS lat,
			   CASE g % 3 WHEN 0 THEN -122.5 + random() WHEN 1 THEN 5 + random() * 10
					ELSE CASE WHEN random() < 0.5 THEN 179.5 + random() * 0.5 ELSE -180 + random() * 0.5 END END AS lon
		FROM generate_series(1, 60) g;
});

foreach my $r (100, 1000, 5000, 50000)
{
	my $result = $node->safe_psql(
		'postgres', qq{
		SELECT count(*) FILTER (WHERE g IS DISTINCT FROM p), coalesce(sum(cardinality(g)), 0)
		FROM centres c,
			 LATERAL (SELECT array_agg(id ORDER BY id) AS g FROM pts
					  WHERE quadkey_dwithin(qk, c.lat, c.lon, $r)
						AND haversine(lat, lon, c.lat, c.lon) <= $r) a,
			 LATERAL (SELECT array_agg(id ORDER BY id) AS p FROM pts
					  WHERE ST_DWithin(geog, ST_MakePoint(c.lon, c.lat)::geography, $r, false)) b});
	my ($mismatches, $rows) = split /\|/, $result;
	is($mismatches, 0, "radius $r m: same rows as PostGIS ST_DWithin at 60 centres");
	cmp_ok($rows, '>', 0, "radius $r m: the comparison saw $rows rows");
}

foreach my $k (1, 10, 100)
{
	is( $node->safe_psql(
			'postgres', qq{
			SELECT count(*) FROM centres c
			WHERE (SELECT array_agg(id) FROM (
					SELECT p.id FROM (SELECT max(haversine(lat, lon, c.lat, c.lon)) AS r
						  FROM (SELECT lat, lon FROM pts ORDER BY qk <-> point(c.lon, c.lat) LIMIT $k) s) b,
						 LATERAL (SELECT * FROM pts
								  WHERE quadkey_dwithin(qk, c.lat, c.lon, b.r)
									AND haversine(lat, lon, c.lat, c.lon) <= b.r
								  ORDER BY haversine(lat, lon, c.lat, c.lon), id LIMIT $k) p) x)
			   IS DISTINCT FROM
				  (SELECT array_agg(id) FROM (
					SELECT id FROM pts ORDER BY geog <-> ST_MakePoint(c.lon, c.lat)::geography LIMIT $k) y)}),
		'0',
		"k = $k: same nearest rows, in the same order, as PostGIS <-> at 60 centres");
}

# haversine agrees with PostGIS's sphere distance to well under a micrometre.
cmp_ok(
	$node->safe_psql(
		'postgres', q{
		SELECT max(abs(haversine(p.lat, p.lon, c.lat, c.lon) -
					   ST_Distance(p.geog, ST_MakePoint(c.lon, c.lat)::geography, false)))
		FROM pts p, centres c WHERE p.id % 100 = 0}),
	'<', 1e-6,
	'haversine matches ST_Distance(use_spheroid => false)');

$node->stop;
done_testing();
