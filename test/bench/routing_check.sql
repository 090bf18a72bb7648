-- test/bench/routing_check.sql: before anything is timed, routing.sh runs
-- this to check that the routers agree and that the SQL router's plan is
-- the intended one.  Prints plain text (it goes into the report as is) and
-- leaves the per-client results in bench.route_check for the report.
--
--   - route_region(ip) against the SQL router, over the ips_sample clients;
--   - the mmdb hit rate (geoip_lookup's source) and whether the file's
--     locations equal the peer table's, which both routers rely on;
--   - the SQL router's plan: an error unless it probes the ip4r and ip6r
--     GiST indexes for every client.
\set ON_ERROR_STOP 1
\pset footer off

-- An error unless the plan of query scans every index named in indexes.
CREATE FUNCTION bench.require_indexes(label text, query text, indexes text[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
	plan text := '';
	line text;
	missing text[];
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		plan := plan || line || E'\n';
	END LOOP;
	SELECT array_agg(ix) INTO missing FROM unnest(indexes) ix WHERE position(ix IN plan) = 0;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION 'the plan of "%" does not use the index %', label, array_to_string(missing, ', ')
			USING DETAIL = plan;
	END IF;
END
$$;

\o /dev/null
SELECT bench.require_indexes(name, query, ARRAY['bench_networks_range4', 'bench_networks_range6'])
FROM bench.queries WHERE name IN ('SQL router', 'SQL router, GiST lookup only');
SELECT bench.require_indexes(name, query, ARRAY['bench_networks_range'])
FROM bench.queries WHERE name = 'SQL router over one iprange index';

-- One row per sampled client: where the file and the peer table put it, and
-- what each router answers.
SELECT format($q$
CREATE TABLE bench.route_check AS
SELECT i.id, i.ip, g.source, g.latitude AS mmdb_lat, g.longitude AS mmdb_lon,
	   n.lat AS net_lat, n.lon AS net_lon, n.network,
	   route_region(i.ip) AS geoshard, p.id AS peer, pr.id AS peer_iprange
FROM ips_sample i
LEFT JOIN LATERAL geoip_lookup(i.ip) g ON true
LEFT JOIN LATERAL (SELECT lat, lon, network FROM bench_networks WHERE range4 >>= i.ip4
				   UNION ALL SELECT lat, lon, network FROM bench_networks WHERE range6 >>= i.ip6) n ON true
LEFT JOIN LATERAL (%s) p ON true
LEFT JOIN LATERAL (%s) pr ON true
$q$, (SELECT lateral_sql FROM bench.routers WHERE name = 'ip4r'),
	 (SELECT lateral_sql FROM bench.routers WHERE name = 'iprange')) \gexec
\o

SELECT count(*) AS n,
	   count(*) FILTER (WHERE geoshard IS NOT DISTINCT FROM peer) AS same
FROM bench.route_check \gset
\pset format unaligned
\pset tuples_only on
SELECT unnest(ARRAY[format('agreement over %s sampled clients:', count(*)),
	   format('  route_region(ip) = SQL router: %s of %s (route_region NULL for %s)',
			  count(*) FILTER (WHERE geoshard IS NOT DISTINCT FROM peer), count(*),
			  count(*) FILTER (WHERE geoshard IS NULL)),
	   format('  mmdb hits (geoip_lookup source mmdb): %s of %s', count(*) FILTER (WHERE source = 'mmdb'), count(*)),
	   format('  mmdb location = peer table location: %s of %s (client found in the peer table: %s)',
			  count(*) FILTER (WHERE mmdb_lat = net_lat AND mmdb_lon = net_lon), count(*),
			  count(*) FILTER (WHERE network IS NOT NULL)),
	   format('  SQL router over iprange = over ip4r/ip6r: %s of %s',
			  count(*) FILTER (WHERE peer_iprange IS NOT DISTINCT FROM peer), count(*)),
	   format('  regions the SQL router chose: %s of %s', count(DISTINCT peer),
			  (SELECT count(*) FROM geoshard.regions))])
FROM bench.route_check;

-- The first mismatches, with the distance from the client's location (the
-- peer table's) to each router's choice.
SELECT :n <> :same AS has_mismatches \gset
\if :has_mismatches
\echo
\echo 'first mismatches:'
\pset format aligned
\pset tuples_only off
SELECT c.ip, c.source, c.mmdb_lat, c.mmdb_lon, c.net_lat, c.net_lon, c.geoshard,
	   round(haversine(c.net_lat, c.net_lon, g.lat, g.lon)::numeric, 3) AS geoshard_m,
	   c.peer, round(haversine(c.net_lat, c.net_lon, p.lat, p.lon)::numeric, 3) AS peer_m
FROM bench.route_check c
LEFT JOIN geoshard.regions g ON g.id = c.geoshard
LEFT JOIN geoshard.regions p ON p.id = c.peer
WHERE c.geoshard IS DISTINCT FROM c.peer
ORDER BY c.id
LIMIT 10;
\pset format unaligned
\pset tuples_only on
\endif

-- The SQL router's plan as timed, then run over the sample (buffers per
-- client show the depth of the GiST descent).
\echo
\echo 'plan of the SQL router:'
SELECT 'EXPLAIN (COSTS OFF) ' || query FROM bench.queries WHERE name = 'SQL router' \gexec
\echo
\echo 'the same over the sampled clients:'
SELECT 'EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || replace(query, 'ips_peer', 'ips_sample')
FROM bench.queries WHERE name = 'SQL router' \gexec
