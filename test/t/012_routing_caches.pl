# Proves that the catalogue caches behind shard_for and route_region
#  - work in parallel workers, giving the serial answers (a real Parallel Seq
#    Scan with every row in workers, with the shared routing table current,
#    stale, and changed by the leader's own transaction);
#  - cannot be poisoned through a caller's search_path (a collation "C", a
#    function and an operator shadowing pg_catalog's): the shared routing
#    table stays right for every other session;
#  - follow catalogue writes made with session_replication_role = replica,
#    and writes applied by logical replication.
use strict;
use warnings FATAL => 'all';

use GeoipTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('caches');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
max_worker_processes = 16
max_parallel_workers = 8
});
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION geoshard;
INSERT INTO geoshard.shards VALUES ('0', 'a'), ('1', 'b'), ('2', 'c'), ('3', 'd');
SELECT geoshard.split_shard('0');
UPDATE geoshard.shards SET node = 'e' WHERE prefix = '02';
-- equal costs: an unlocated client goes to the smallest id in byte order, "Zed"
SELECT geoshard.add_region('Zed', 50.11, 8.68);
SELECT geoshard.add_region('alpha', 40.71, -74.0);
SELECT geoshard.add_region('mid', 1.29, 103.85);
SELECT geoshard.add_geo_fence('de', ARRAY['DE'], ARRAY['alpha']);
INSERT INTO geoshard.geoip_networks VALUES
	('10.1.0.0/16', 'DE', 52.52, 13.40, 50),
	('10.2.0.0/16', 'US', 40.71, -74.0, 50),
	('10.3.0.0/16', 'SG', 1.29, 103.85, 50),
	('192.0.2.0/24', 'FR', 48.86, 2.35, 100),
	('192.0.2.0/25', 'US', 40.71, -74.0, 10);
SELECT setseed(0.42);
CREATE TABLE big AS
	SELECT quadkey(random() * 170 - 85, random() * 360 - 180, 12) AS qk,
		   random() * 170 - 85 AS lat, random() * 360 - 180 AS lon,
		   ('10.' || 1 + i % 4 || '.' || i % 250 || '.1')::inet AS ip
	FROM generate_series(1, 20000) i;
ANALYZE big;
});

# --- 1. parallel workers -------------------------------------------------

my $serial = q{SET max_parallel_workers_per_gather = 0;};
my $parallel = q{
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
};
my %queries = (
	'shard_for' => q{SELECT count(*) FROM big WHERE shard_for(qk) = 'a'},
	'shard_for groups' => q{SELECT string_agg(s || ':' || n, ',' ORDER BY s)
		FROM (SELECT coalesce(shard_for(qk), '-') s, count(*) n FROM big GROUP BY 1) g},
	'route_region(ip)' => q{SELECT string_agg(r || ':' || n, ',' ORDER BY r)
		FROM (SELECT coalesce(route_region(ip), '-') r, count(*) n FROM big GROUP BY 1) g},
	'route_region(lat, lon)' => q{SELECT string_agg(r || ':' || n, ',' ORDER BY r)
		FROM (SELECT coalesce(route_region(lat, lon, CASE WHEN lon > 0 THEN 'DE' END), '-') r, count(*) n
			  FROM big GROUP BY 1) g},
	'route_regions' => q{SELECT count(*), sum(rr.rank), count(*) FILTER (WHERE rr.region = 'alpha')
		FROM big, LATERAL route_regions(big.ip, 2) rr WHERE rr.score < 1e6},
	'route_region_explain' => q{SELECT count(*) FROM big
		WHERE route_region_explain(ip)->>'reason' = 'fenced'},);

# Runs every query in parallel workers, then serially, in one session (so
# that the workers are the first to find a stale shared table), and checks
# that the parallel plan used workers and gave the serial answers.
sub check_parallel
{
	my ($when, $prefix) = @_;
	$prefix //= '';
	for my $name (sort keys %queries)
	{
		my $sql = $queries{$name};
		my ($ret, $stdout, $stderr) = $node->psql('postgres',
			"$prefix $parallel $sql; $serial $sql; $parallel EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $sql;");
		is($ret, 0, "$name in parallel workers $when: no error")
		  or diag($stderr);
		my @lines = split /\n/, $stdout;
		is($lines[0], $lines[1], "$name in parallel workers $when: serial answer ($lines[1])");
		like($stdout, qr/Workers Launched: [1-9]/, "$name $when: the plan used workers");
	}
}

check_parallel('with current caches');

# every worker finds the shared table stale and loads it
$node->safe_psql('postgres', q{SELECT geoshard.update_region('mid', cost => 2)});
check_parallel('after a catalogue change');

# the leader's own uncommitted changes, which workers must see too
check_parallel('inside the changing transaction',
	q{BEGIN; UPDATE geoshard.regions SET drained = true WHERE id = 'Zed'; UPDATE geoshard.shards SET node = 'a' WHERE prefix = '1';});
is( $node->safe_psql(
		'postgres', q{SELECT route_region('10.1.0.1'), shard_for('1')}),
	'alpha|b',
	'and none of them survives the rollback');

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SET force_parallel_mode = on; SELECT shard_for('0123'), route_region('198.51.100.1'),
	route_region(52.5, 13.4, 'DE'), route_region_explain('10.3.0.1')->>'region',
	(SELECT string_agg(region, ',' ORDER BY rank) FROM route_regions('10.2.0.1', 3))});
is($ret, 0, 'force_parallel_mode: no error') or diag($stderr);
is($stdout, 'a|Zed|alpha|mid|alpha,Zed,mid', 'force_parallel_mode: right answers');

# --- 2. a hostile search_path ---------------------------------------------

$node->safe_psql(
	'postgres', q{
CREATE ROLE mallory LOGIN;
CREATE SCHEMA evil AUTHORIZATION mallory;
});
$node->safe_psql(
	'postgres', q{
SET ROLE mallory;
-- sorts "alpha" before "Zed", unlike pg_catalog."C"
CREATE COLLATION evil."C" (provider = icu, locale = 'und');
CREATE FUNCTION evil.masklen(cidr) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 0';
CREATE FUNCTION evil.never(cidr, inet) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT false';
CREATE OPERATOR evil.>>= (LEFTARG = cidr, RIGHTARG = inet, FUNCTION = evil.never);
CREATE FUNCTION evil.less(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 > $2';
CREATE OPERATOR evil.< (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.less);
});

my $check_table = q{SELECT (SELECT string_agg(region, ',' ORDER BY n)
		FROM geoshard.routing_regions() WITH ORDINALITY AS r(region, lat, lon, cost, lf, en, dr, br, ok, n)),
	route_region('198.51.100.1'), route_region(52.5, 13.4, 'DE'), shard_for('0213')};
my $good = 'Zed,alpha,mid|Zed|alpha|e';
is($node->safe_psql('postgres', $check_table), $good, 'the routing table before the attack');

# mallory is the first to read the table after a change, with her path
$node->safe_psql('postgres', q{SELECT geoshard.update_region('mid', cost => 1)});
is( $node->safe_psql(
		'postgres', q{SET ROLE mallory; SET search_path = evil, pg_catalog, public;
		SELECT route_region('198.51.100.1'), route_region(52.5, 13.4, 'DE'), shard_for('0213'),
			(geoip_lookup('192.0.2.1')).country, (geoip_lookup('192.0.2.200')).country}),
	'Zed|alpha|e|US|FR',
	'a hostile search_path changes no answer of its own session');
is($node->safe_psql('postgres', $check_table),
	$good, 'and the shared routing table stays right for other sessions');

# the same with a change made by an administrator with a hostile path
$node->safe_psql('postgres',
	q{SET search_path = evil, pg_catalog, public; SELECT geoshard.update_region('mid', cost => 1)});
is( $node->safe_psql(
		'postgres', q{SET search_path = evil, pg_catalog, public; SELECT route_region('198.51.100.1')}),
	'Zed', 'an administrator with a hostile path routes right');
is($node->safe_psql('postgres', $check_table), $good, 'and so does everybody else');

# --- 3. writes with session_replication_role = replica --------------------

my $reader = $node->background_psql('postgres', on_error_stop => 0);
is($reader->query_safe(q{SELECT shard_for('0213') || route_region('198.51.100.1')}),
	'eZed', 'a session with both caches loaded');
$node->safe_psql(
	'postgres', q{SET session_replication_role = replica;
	UPDATE geoshard.shards SET node = 'f' WHERE prefix = '02';
	SELECT geoshard.drain_region('Zed');});
is($reader->query_safe(q{SELECT shard_for('0213') || route_region('198.51.100.1')}),
	'falpha', 'sees shard and region changes written as a replica');
is($node->safe_psql('postgres', q{SELECT route_region('198.51.100.1')}),
	'alpha', 'and so does a new session');
$node->safe_psql(
	'postgres', q{SET session_replication_role = replica;
	SELECT geoshard.undrain_region('Zed');
	DELETE FROM geoshard.geo_fences;});
is($reader->query_safe(q{SELECT route_region('198.51.100.1') || route_region(52.5, 13.4, 'DE')}),
	'ZedZed', 'and a fence deleted as a replica');
$node->safe_psql('postgres', q{SELECT geoshard.add_geo_fence('de', ARRAY['DE'], ARRAY['alpha'])});

# --- 4. logical replication's apply worker ----------------------------------

my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
});
$sub->start;
$sub->safe_psql('postgres', q{CREATE EXTENSION geoshard});
$node->safe_psql('postgres',
	q{CREATE PUBLICATION catalogue FOR TABLE geoshard.shards, geoshard.regions, geoshard.geo_fences});
my $connstr = $node->connstr . ' dbname=postgres';
$sub->safe_psql('postgres',
	qq{CREATE SUBSCRIPTION catalogue CONNECTION '$connstr' PUBLICATION catalogue});
$sub->wait_for_subscription_sync($node, 'catalogue');

my $replica = $sub->background_psql('postgres', on_error_stop => 0);
is($replica->query_safe(q{SELECT shard_for('0213') || route_region('198.51.100.1') || route_region(52.5, 13.4, 'DE')}),
	'fZedalpha', 'the subscriber routes with the copied catalogue');
$node->safe_psql(
	'postgres', q{
UPDATE geoshard.shards SET node = 'g' WHERE prefix = '02';
SELECT geoshard.drain_region('Zed');
SELECT geoshard.remove_geo_fence('de');});
$node->wait_for_catchup('catalogue');
is($replica->query_safe(q{SELECT shard_for('0213') || route_region('198.51.100.1') || route_region(52.5, 13.4, 'DE')}),
	'galphaalpha', 'a subscriber session sees changes applied by logical replication');
$node->safe_psql('postgres', q{TRUNCATE geoshard.shards});
$node->wait_for_catchup('catalogue');
is($replica->query_safe(q{SELECT coalesce(shard_for('0213'), 'none')}),
	'none', 'and a replicated TRUNCATE');

$replica->quit;
$reader->quit;
$sub->stop;
$node->stop;
done_testing();
