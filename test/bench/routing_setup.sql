-- test/bench/routing_setup.sql: data, queries and timing helpers of the
-- routing benchmark, loaded by test/bench/routing.sh into its throwaway
-- cluster, whose geoshard.geoip_database names the generated .mmdb file.
--
-- psql variables (set by routing.sh): tsv (the networks make-bench-mmdb.pl
-- wrote beside the .mmdb, readable by the server), ips (client addresses),
-- peer_ips (how many of them the SQL router runs over), sample (how many
-- the agreement check compares).
--
-- route_region(ip) finds the client in the .mmdb file and scores the
-- regions in shared memory.  The peer is the same router in plain SQL: an
-- ip4r GiST lookup of the client's network in bench_networks (the same
-- networks and locations as the file) and ORDER BY haversine LIMIT 1 over
-- geoshard.regions.  Every region has the default cost, capacity and load
-- and no latency is observed, so both must pick the nearest region, ties
-- going to the lowest id.
--
-- The peer uses ip4r's fixed-size types, ip4r for IPv4 and ip6r for IPv6,
-- each with its own GiST index: a lookup in them costs about half what the
-- same lookup costs in one variable-size iprange index over both families
-- (kept as a diagnostic query, to show the choice).  Bitmap scans are off
-- in this database, see below.
--
-- Every timed query lives in bench.queries, so the round-robin runner, the
-- report and anyone reading the results see the same SQL text.

\set ON_ERROR_STOP 1
-- Only the summary at the end is worth printing.
\o /dev/null

CREATE EXTENSION geoshard;
CREATE EXTENSION ip4r;
CREATE EXTENSION pg_prewarm;

CREATE SCHEMA bench;

-- regions ---------------------------------------------------------------------

-- Twenty cloud regions at their metro areas' coordinates.
SELECT geoshard.add_region(id, lat, lon, name, format('https://%s.example.net', id))
FROM (VALUES
	('af-south-1', 'Cape Town', -33.92, 18.42),
	('ap-east-1', 'Hong Kong', 22.32, 114.17),
	('ap-northeast-1', 'Tokyo', 35.68, 139.69),
	('ap-northeast-2', 'Seoul', 37.57, 126.98),
	('ap-south-1', 'Mumbai', 19.08, 72.88),
	('ap-southeast-1', 'Singapore', 1.35, 103.82),
	('ap-southeast-2', 'Sydney', -33.87, 151.21),
	('ca-central-1', 'Montreal', 45.50, -73.57),
	('eu-central-1', 'Frankfurt', 50.11, 8.68),
	('eu-north-1', 'Stockholm', 59.33, 18.07),
	('eu-south-1', 'Milan', 45.46, 9.19),
	('eu-west-1', 'Dublin', 53.35, -6.26),
	('eu-west-2', 'London', 51.51, -0.13),
	('eu-west-3', 'Paris', 48.86, 2.35),
	('me-south-1', 'Bahrain', 26.07, 50.56),
	('sa-east-1', 'Sao Paulo', -23.55, -46.63),
	('us-east-1', 'Ashburn', 39.04, -77.49),
	('us-east-2', 'Columbus', 39.96, -83.00),
	('us-west-1', 'San Jose', 37.35, -121.96),
	('us-west-2', 'Boardman', 45.84, -119.70)
) v(id, name, lat, lon);

-- networks ----------------------------------------------------------------------

CREATE TABLE bench_networks_load (
	id int GENERATED ALWAYS AS IDENTITY,
	network cidr NOT NULL,
	lat float8 NOT NULL,
	lon float8 NOT NULL,
	country text NOT NULL
);
COPY bench_networks_load (network, lat, lon, country) FROM :'tsv';

CREATE TABLE bench_networks (
	id int PRIMARY KEY,
	network cidr NOT NULL,
	range4 ip4r,				-- IPv4 networks only
	range6 ip6r,				-- IPv6 networks only
	range iprange NOT NULL,		-- both, for the iprange diagnostic
	lat float8 NOT NULL,
	lon float8 NOT NULL,
	country text NOT NULL
);
INSERT INTO bench_networks
SELECT id, network,
	   CASE WHEN family(network) = 4 THEN network::ip4r END,
	   CASE WHEN family(network) = 6 THEN network::ip6r END,
	   network::iprange, lat, lon, country
FROM bench_networks_load;
DROP TABLE bench_networks_load;
CREATE INDEX bench_networks_range4 ON bench_networks USING gist (range4) WHERE range4 IS NOT NULL;
CREATE INDEX bench_networks_range6 ON bench_networks USING gist (range6) WHERE range6 IS NOT NULL;
CREATE INDEX bench_networks_range ON bench_networks USING gist (range);
-- The planner picks a bitmap scan for the SQL router's lookups, but for the
-- one row each finds a plain index scan is a quarter faster; the peer gets
-- its best plan.  route_region and the baselines run no index scans.
-- Applies from the next session on: the checks and the timed rounds.
SELECT format('ALTER DATABASE %I SET enable_bitmapscan = off', current_database()) \gexec

-- clients -------------------------------------------------------------------------

-- :ips addresses, each in a network drawn uniformly (so IPv6 clients are as
-- common as IPv6 networks, about 3%), at a uniform offset inside it; the
-- rows are in random network order, so neither router gets locality.  ip4
-- and ip6 are the peer's copies of ip, NULL for the other family (a GiST
-- scan with a NULL key returns nothing at once); ipa is the iprange
-- diagnostic's.  A fixed seed: every run measures the same addresses.
SELECT setseed(0.5);
CREATE TABLE ips (
	id int PRIMARY KEY,
	ip inet NOT NULL,
	ip4 ip4,
	ip6 ip6,
	ipa ipaddress NOT NULL
);
INSERT INTO ips
SELECT id, a, CASE WHEN family(a) = 4 THEN a::ip4 END, CASE WHEN family(a) = 6 THEN a::ip6 END, a::ipaddress
FROM (SELECT s.g AS id,
			 set_masklen(n.network::inet, CASE family(n.network) WHEN 4 THEN 32 ELSE 128 END) +
			 CASE family(n.network)
				 WHEN 4 THEN floor(s.r * 2 ^ (32 - masklen(n.network)))::int8
				 -- every IPv6 network is /48 or wider: 62 random low bits stay inside
				 ELSE floor(s.r * 2 ^ 62)::int8
			 END AS a
	  FROM (SELECT g, 1 + floor(random() * (SELECT count(*) FROM bench_networks))::int AS nid, random() AS r
			FROM generate_series(1, :ips) g) s
	  JOIN bench_networks n ON n.id = s.nid) x;

-- Misses: :peer_ips public IPv4 addresses that no network holds (drawn
-- uniformly from 1.0.0.0 to 223.255.255.255, outside the reserved ranges,
-- and kept when the peer's index finds no network), as a real file misses
-- addresses it does not know.  Private: :peer_ips addresses in the private
-- and shared ranges (10/8, 172.16/12, 192.168/16, 100.64/10), with one in
-- sixteen an IPv6 unique local address (fd00::/8), which routing must
-- recognise without any lookup.
CREATE TABLE ips_miss (
	id int PRIMARY KEY,
	ip inet NOT NULL
);
INSERT INTO ips_miss
SELECT row_number() OVER (), a
FROM (SELECT '0.0.0.0'::inet + (16777216 + floor(random() * (3758096384 - 16777216)))::int8 AS a
	  FROM generate_series(1, 10 * :peer_ips)) x
WHERE NOT a <<= ANY ('{10.0.0.0/8,100.64.0.0/10,127.0.0.0/8,169.254.0.0/16,172.16.0.0/12,192.0.0.0/24,192.0.2.0/24,192.88.99.0/24,192.168.0.0/16,198.18.0.0/15,198.51.100.0/24,203.0.113.0/24}'::inet[])
  AND NOT EXISTS (SELECT 1 FROM bench_networks WHERE range4 >>= a::ip4)
LIMIT :peer_ips;

CREATE TABLE ips_private (
	id int PRIMARY KEY,
	ip inet NOT NULL
);
INSERT INTO ips_private
SELECT g, CASE g % 16
		   WHEN 0 THEN 'fd00::'::inet + floor(random() * 2 ^ 62)::int8
		   WHEN 1 THEN '100.64.0.0'::inet + floor(random() * 2 ^ 22)::int8
		   WHEN 2 THEN '172.16.0.0'::inet + floor(random() * 2 ^ 20)::int8
		   WHEN 3 THEN '192.168.0.0'::inet + floor(random() * 2 ^ 16)::int8
		   ELSE '10.0.0.0'::inet + floor(random() * 2 ^ 24)::int8
	   END
FROM generate_series(1, :peer_ips) g;

-- The SQL router's share of the clients, and the agreement check's: the
-- first rows, which are as random as the rest.
CREATE TABLE ips_peer AS SELECT * FROM ips WHERE id <= :peer_ips;
ALTER TABLE ips_peer ADD PRIMARY KEY (id);
CREATE TABLE ips_sample AS SELECT * FROM ips WHERE id <= :sample;
ALTER TABLE ips_sample ADD PRIMARY KEY (id);

VACUUM (FREEZE, ANALYZE) geoshard.regions, bench_networks, ips, ips_peer, ips_sample, ips_miss, ips_private;

-- Load tables and indexes into shared_buffers before anything is timed.
\o
SELECT count(*) FILTER (WHERE family(network) = 4) AS nets4, count(*) FILTER (WHERE family(network) = 6) AS nets6
FROM bench_networks \gset
SELECT count(*) FILTER (WHERE family(ip) = 4) AS ips4, count(*) FILTER (WHERE family(ip) = 6) AS ips6
FROM ips \gset
SELECT string_agg(format('%s %s', c, pg_size_pretty(pg_relation_size(c))), ', ') AS sizes,
	   sum(pg_prewarm(c)) AS blocks
FROM unnest(ARRAY['geoshard.regions', 'bench_networks', 'bench_networks_range4', 'bench_networks_range6',
				  'bench_networks_range', 'ips', 'ips_peer', 'ips_sample', 'ips_miss', 'ips_private']::regclass[]) c \gset
SELECT count(*) AS misses FROM ips_miss \gset
\echo 'networks:' :nets4 'IPv4,' :nets6 'IPv6; clients:' :ips4 'IPv4,' :ips6 'IPv6;' :misses 'misses,' :peer_ips 'private'
\echo 'relations:' :sizes
\echo 'prewarmed into shared_buffers:' :blocks 'blocks'
\o /dev/null

-- the routers -------------------------------------------------------------------

-- The SQL router for one client row "i", as the body of a LATERAL subquery
-- with one column, id: the timed queries and the agreement check both use
-- this text.  "iprange" is the same over the single iprange index.
CREATE TABLE bench.routers (
	name text PRIMARY KEY,
	lateral_sql text NOT NULL
);
INSERT INTO bench.routers VALUES
	('ip4r',
	 'SELECT rg.id FROM (SELECT lat, lon FROM bench_networks WHERE range4 >>= i.ip4 '
	 'UNION ALL SELECT lat, lon FROM bench_networks WHERE range6 >>= i.ip6) n '
	 'CROSS JOIN geoshard.regions rg ORDER BY haversine(n.lat, n.lon, rg.lat, rg.lon), rg.id COLLATE "C" LIMIT 1'),
	('iprange',
	 'SELECT rg.id FROM bench_networks n CROSS JOIN geoshard.regions rg WHERE n.range >>= i.ipa '
	 'ORDER BY haversine(n.lat, n.lon, rg.lat, rg.lon), rg.id COLLATE "C" LIMIT 1');

-- timed queries -------------------------------------------------------------------

-- SELECT count(...) over a table of clients; baseline names the query that
-- scans the same rows without the call, subtracted round by round; divisor
-- is the number of rows.  Diagnostic queries explain the time, they carry
-- no goal.
CREATE TABLE bench.queries (
	name text PRIMARY KEY,
	ord int NOT NULL,
	query text NOT NULL,
	baseline text,
	divisor float8 NOT NULL,
	diagnostic bool NOT NULL DEFAULT false
);

INSERT INTO bench.queries (ord, name, query, baseline, divisor, diagnostic)
SELECT ord, name, query, baseline, CASE WHEN peer THEN :peer_ips ELSE :ips END, diagnostic
FROM (VALUES
	(1, 'baseline ips', 'SELECT count(ip) FROM ips', NULL, false, false),
	(2, 'route_region(ip)', 'SELECT count(route_region(ip)) FROM ips', 'baseline ips', false, false),
	(3, 'geoip_lookup(ip)', 'SELECT count(geoip_lookup(ip)) FROM ips', 'baseline ips', false, true),
	(4, 'baseline ips_peer', 'SELECT count(ip) FROM ips_peer', NULL, true, false),
	(5, 'SQL router',
	 (SELECT format('SELECT count(r.id) FROM ips_peer i CROSS JOIN LATERAL (%s) r', lateral_sql)
	  FROM bench.routers WHERE name = 'ip4r'),
	 'baseline ips_peer', true, false),
	(6, 'SQL router, GiST lookup only',
	 'SELECT count(n.lat) FROM ips_peer i CROSS JOIN LATERAL (SELECT lat, lon FROM bench_networks WHERE range4 >>= i.ip4 '
	 'UNION ALL SELECT lat, lon FROM bench_networks WHERE range6 >>= i.ip6) n',
	 'baseline ips_peer', true, true),
	(7, 'SQL router over one iprange index',
	 (SELECT format('SELECT count(r.id) FROM ips_peer i CROSS JOIN LATERAL (%s) r', lateral_sql)
	  FROM bench.routers WHERE name = 'iprange'),
	 'baseline ips_peer', true, true),
	(8, 'geoip_lookup(ip), then ORDER BY haversine LIMIT 1 in SQL',
	 'SELECT count(r.id) FROM ips_peer i CROSS JOIN LATERAL (SELECT rg.id FROM geoip_lookup(i.ip) g '
	 'CROSS JOIN geoshard.regions rg ORDER BY haversine(g.latitude, g.longitude, rg.lat, rg.lon), rg.id COLLATE "C" LIMIT 1) r',
	 'baseline ips_peer', true, true),
	(9, 'baseline ips_miss', 'SELECT count(ip) FROM ips_miss', NULL, true, false),
	(10, 'route_region(ip), misses', 'SELECT count(route_region(ip)) FROM ips_miss', 'baseline ips_miss', true, false),
	(11, 'geoip_lookup(ip), misses', 'SELECT count(geoip_lookup(ip)) FROM ips_miss', 'baseline ips_miss', true, true),
	(12, 'baseline ips_private', 'SELECT count(ip) FROM ips_private', NULL, true, false),
	(13, 'route_region(ip), private addresses', 'SELECT count(route_region(ip)) FROM ips_private',
	 'baseline ips_private', true, false)
) v(ord, name, query, baseline, peer, diagnostic);
-- the draw may find fewer misses than asked for
UPDATE bench.queries SET divisor = (SELECT count(*) FROM ips_miss) WHERE query LIKE '%FROM ips_miss';

-- helpers -----------------------------------------------------------------------------

CREATE TABLE bench.timings (
	name text NOT NULL,
	round int NOT NULL,
	ms float8 NOT NULL
);

-- Wall time of one query in this backend, in milliseconds.
CREATE FUNCTION bench.time_ms(query text)
RETURNS float8
LANGUAGE plpgsql
AS $$
DECLARE
	t0 timestamptz;
BEGIN
	t0 := clock_timestamp();
	EXECUTE query;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000.0;
END
$$;

-- One round: every query once, in an order rotated by the round number, so
-- that the systems alternate and no query always runs first or after the
-- same neighbour.  Round 0 is the warm-up and is not recorded.  Returns a
-- line with this round's marginal cost per call of the measured routers.
CREATE FUNCTION bench.run_round(p_round int)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
	q record;
	n int;
	t0 timestamptz := clock_timestamp();
	ms float8;
	took jsonb := '{}';
	line text;
BEGIN
	SELECT count(*) INTO n FROM bench.queries;
	FOR q IN
		SELECT * FROM (SELECT *, row_number() OVER (ORDER BY ord) AS pos FROM bench.queries) s
		ORDER BY (pos + p_round) % n
	LOOP
		ms := bench.time_ms(q.query);
		took := took || jsonb_build_object(q.name, ms);
		IF p_round > 0 THEN
			INSERT INTO bench.timings (name, round, ms) VALUES (q.name, p_round, ms);
		END IF;
	END LOOP;
	SELECT string_agg(format('%s %s us/call', m.name,
							 round(((took ->> m.name)::float8 - (took ->> m.baseline)::float8)::numeric * 1000 / m.divisor::numeric, 2)),
					  ', ' ORDER BY m.ord)
	INTO line
	FROM bench.queries m
	WHERE NOT m.diagnostic AND m.baseline IS NOT NULL;
	RETURN format('  round %s%s: %s (%s s)', p_round,
				  CASE WHEN p_round = 0 THEN ' (warm-up, not recorded)' ELSE '' END, line,
				  round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1));
END
$$;

-- Medians per query: the marginal is taken per round (query minus its
-- baseline in the same round), then the median of those.
CREATE VIEW bench.medians AS
SELECT q.name, q.ord, q.diagnostic, q.baseline, q.query,
	   count(*) AS rounds,
	   percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms) AS median_ms,
	   percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms - coalesce(b.ms, 0)) AS marginal_ms,
	   min(t.ms - coalesce(b.ms, 0)) AS min_marginal_ms,
	   max(t.ms - coalesce(b.ms, 0)) AS max_marginal_ms,
	   q.divisor
FROM bench.queries q
JOIN bench.timings t ON t.name = q.name
LEFT JOIN bench.timings b ON b.name = q.baseline AND b.round = t.round
GROUP BY q.name, q.ord, q.diagnostic, q.baseline, q.query, q.divisor;
\o
