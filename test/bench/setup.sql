-- test/bench/setup.sql: data, indexes, queries and timing helpers of the geo
-- benchmark, loaded by test/bench/run.sh into its throwaway cluster.
--
-- psql variables (set by run.sh): rows, centres, lat0, lon0, box (degrees),
-- knn_k.
--
-- Two tables of :rows points.  "world" is spread over the whole Mercator
-- range and serves the per-row function costs (encoders, distances); "pts"
-- fills a box of :box degrees from (lat0, lon0), so that radii of 100 m,
-- 1 km and 5 km return small, medium and large result sets, and carries both
-- a quadkey GiST index and a PostGIS geography GiST index.  Every timed
-- query lives in bench.queries, so the round-robin runner, the report and
-- anyone reading the results see the same SQL text.

\set ON_ERROR_STOP 1
-- Only the summary at the end is worth printing.
\o /dev/null

CREATE EXTENSION geoshard;
CREATE EXTENSION postgis;
CREATE EXTENSION q3c;
CREATE EXTENSION cube;
CREATE EXTENSION earthdistance;
CREATE EXTENSION pg_prewarm;

CREATE SCHEMA bench;

-- data ----------------------------------------------------------------------

-- Fixed seeds: every run measures the same points and centres.
SELECT setseed(0.1);
CREATE TABLE world (
	id int,
	lat float8,
	lon float8,
	p point,
	geom geometry(Point, 4326)
);
INSERT INTO world
SELECT id, lat, lon, point(lon, lat), ST_SetSRID(ST_MakePoint(lon, lat), 4326)
FROM (SELECT g AS id, -85 + 170 * random() AS lat, -180 + 360 * random() AS lon
	  FROM generate_series(1, :rows) g) s;

SELECT setseed(0.2);
CREATE TABLE pts (
	id int PRIMARY KEY,
	lat float8,
	lon float8,
	p point,
	qk quadkey,
	geog geography(Point, 4326)
);
INSERT INTO pts
SELECT id, lat, lon, point(lon, lat), quadkey(lat, lon, 23),
	   ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography
FROM (SELECT g AS id, :lat0 + :box * random() AS lat, :lon0 + :box * random() AS lon
	  FROM generate_series(1, :rows) g) s;
CREATE INDEX pts_qk ON pts USING gist (qk);
CREATE INDEX pts_geog ON pts USING gist (geog);

-- The same points in the documented covering setup: the exact haversine
-- test reads lat and lon from the index, so radius queries never visit
-- the heap (index-only scans).
CREATE TABLE pts_cov AS SELECT id, lat, lon, qk FROM pts;
ALTER TABLE pts_cov ADD PRIMARY KEY (id);
CREATE INDEX pts_cov_qk ON pts_cov USING gist (qk) INCLUDE (lat, lon);

-- Query centres, with the geography PostGIS compares against precomputed so
-- that neither side pays for building its query point per row.
SELECT setseed(0.3);
CREATE TABLE centres (
	id int PRIMARY KEY,
	lat float8,
	lon float8,
	g geography(Point, 4326)
);
INSERT INTO centres
SELECT id, lat, lon, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography
FROM (SELECT g AS id, :lat0 + :box * random() AS lat, :lon0 + :box * random() AS lon
	  FROM generate_series(1, :centres) g) s;

CREATE TABLE bench.radii (
	radius float8 PRIMARY KEY,
	label text NOT NULL
);
INSERT INTO bench.radii VALUES (100, '100 m'), (1000, '1 km'), (5000, '5 km');

VACUUM (FREEZE, ANALYZE) world, pts, pts_cov, centres;

-- Load tables and indexes into shared_buffers before anything is timed.
\o
SELECT string_agg(format('%s %s', c, pg_size_pretty(pg_relation_size(c))), ', ') AS sizes,
	   sum(pg_prewarm(c)) AS blocks
FROM unnest(ARRAY['world', 'pts', 'pts_pkey', 'pts_qk', 'pts_geog', 'pts_cov', 'pts_cov_qk', 'centres']::regclass[]) c \gset
\echo 'relations:' :sizes
\echo 'prewarmed into shared_buffers:' :blocks 'blocks'
\o /dev/null

-- timed queries -----------------------------------------------------------------

-- suite "rows": SELECT count(f(...)) over world; baseline names the query
-- that reads the same columns without the call, subtracted round by round.
-- suites "radius" and "knn": one LATERAL loop over all centres; divisor =
-- centres.
CREATE TABLE bench.queries (
	suite text NOT NULL,
	name text NOT NULL,
	ord int NOT NULL,
	query text NOT NULL,
	baseline text,
	settings text[] NOT NULL DEFAULT '{}',
	divisor float8 NOT NULL,
	diagnostic bool NOT NULL DEFAULT false,
	PRIMARY KEY (suite, name)
);

INSERT INTO bench.queries (suite, name, ord, query, baseline, divisor, diagnostic)
SELECT 'rows', name, ord, query, baseline, :rows, diagnostic
FROM (VALUES
	(1, 'baseline count(lon)', 'SELECT count(lon) FROM world', NULL, false),
	(2, 'quadkey(lat, lon, 23)', 'SELECT count(quadkey(lat, lon, 23)) FROM world',
	 'baseline count(lon)', false),
	(3, 'q3c_ang2ipix(lon, lat)', 'SELECT count(q3c_ang2ipix(lon, lat)) FROM world',
	 'baseline count(lon)', false),
	(4, 'baseline count(geom)', 'SELECT count(geom) FROM world', NULL, false),
	(5, 'ST_GeoHash(geom, 9)', 'SELECT count(ST_GeoHash(geom, 9)) FROM world',
	 'baseline count(geom)', false),
	(6, 'ST_GeoHash(ST_MakePoint(lon, lat), 9)',
	 'SELECT count(ST_GeoHash(ST_MakePoint(lon, lat), 9)) FROM world',
	 'baseline count(lon)', true),
	(7, 'haversine(lat, lon, 47.5, -122)',
	 'SELECT count(haversine(lat, lon, 47.5, -122.0)) FROM world',
	 'baseline count(lon)', false),
	(8, 'baseline count(p)', 'SELECT count(p) FROM world', NULL, false),
	(9, 'p <@> point(-122, 47.5)', 'SELECT count(p <@> point(-122.0, 47.5)) FROM world',
	 'baseline count(p)', false),
	(10, 'point(lon, lat) <@> point(-122, 47.5)',
	 'SELECT count(point(lon, lat) <@> point(-122.0, 47.5)) FROM world',
	 'baseline count(lon)', true)
) v(ord, name, query, baseline, diagnostic);

-- The canonical exact radius query against PostGIS geography + GiST on the
-- sphere (use_spheroid => false, the sphere haversine uses).
INSERT INTO bench.queries (suite, name, ord, query, settings, divisor, diagnostic)
SELECT 'radius', format('%s %s', s.system, r.label), s.ord * 10 + r.ord,
	   format(s.template, r.radius), s.settings, :centres, s.diagnostic
FROM (SELECT radius, label, row_number() OVER (ORDER BY radius) AS ord FROM bench.radii) r
CROSS JOIN (VALUES
	(1, 'geoshard',
	 'SELECT sum(n) FROM centres c CROSS JOIN LATERAL (SELECT count(*) AS n FROM pts '
	 'WHERE quadkey_dwithin(qk, c.lat, c.lon, %1$s) AND haversine(lat, lon, c.lat, c.lon) <= %1$s) x',
	 '{}'::text[], false),
	(2, 'postgis',
	 'SELECT sum(n) FROM centres c CROSS JOIN LATERAL (SELECT count(*) AS n FROM pts '
	 'WHERE ST_DWithin(geog, c.g, %1$s, false)) x',
	 '{}'::text[], false),
	-- the same geoshard query held to a plain index scan, to show what the
	-- planner's choice of scan costs
	(3, 'geoshard, enable_bitmapscan=off',
	 'SELECT sum(n) FROM centres c CROSS JOIN LATERAL (SELECT count(*) AS n FROM pts '
	 'WHERE quadkey_dwithin(qk, c.lat, c.lon, %1$s) AND haversine(lat, lon, c.lat, c.lon) <= %1$s) x',
	 '{enable_bitmapscan,off}'::text[], true),
	-- the documented covering index: gist (qk) INCLUDE (lat, lon)
	(4, 'geoshard-covering',
	 'SELECT sum(n) FROM centres c CROSS JOIN LATERAL (SELECT count(*) AS n FROM pts_cov '
	 'WHERE quadkey_dwithin(qk, c.lat, c.lon, %1$s) AND haversine(lat, lon, c.lat, c.lon) <= %1$s) x',
	 '{}'::text[], false)
) s(ord, system, template, settings, diagnostic);

-- Nearest neighbours, k = :knn_k.  geoshard's <-> orders by the distance to
-- the tile, a lower bound, so the exact k-NN is two-phase: the first k rows
-- in tile order bound the k-th distance (there are k points within their
-- largest exact distance), and a radius query of that size, ordered by
-- haversine, gives the exact answer.  PostGIS's geography <-> is exact on
-- the sphere.
INSERT INTO bench.queries (suite, name, ord, query, divisor, diagnostic)
SELECT 'knn', name, ord, replace(query, ':k', :'knn_k'), :centres, diagnostic
FROM (VALUES
	(1, 'geoshard, exact two-phase',
	 'SELECT sum(n) FROM centres c '
	 'CROSS JOIN LATERAL (SELECT max(haversine(lat, lon, c.lat, c.lon)) AS d FROM '
	 '(SELECT lat, lon FROM pts ORDER BY qk <-> point(c.lon, c.lat) LIMIT :k) s) b '
	 'CROSS JOIN LATERAL (SELECT count(*) AS n FROM (SELECT id FROM pts '
	 'WHERE quadkey_dwithin(qk, c.lat, c.lon, b.d) AND haversine(lat, lon, c.lat, c.lon) <= b.d '
	 'ORDER BY haversine(lat, lon, c.lat, c.lon) LIMIT :k) k) x',
	 false),
	(2, 'postgis',
	 'SELECT sum(n) FROM centres c '
	 'CROSS JOIN LATERAL (SELECT count(*) AS n FROM '
	 '(SELECT id FROM pts ORDER BY geog <-> c.g LIMIT :k) k) x',
	 false),
	(3, 'geoshard, first phase only (tile order)',
	 'SELECT sum(n) FROM centres c '
	 'CROSS JOIN LATERAL (SELECT count(*) AS n FROM '
	 '(SELECT id FROM pts ORDER BY qk <-> point(c.lon, c.lat) LIMIT :k) k) x',
	 true)
) v(ord, name, query, diagnostic);

-- helpers ---------------------------------------------------------------------

CREATE TABLE bench.timings (
	suite text NOT NULL,
	name text NOT NULL,
	round int NOT NULL,
	ms float8 NOT NULL,
	tps float8
);

-- Wall time of one query in this backend, in milliseconds.  settings holds
-- name/value pairs applied for this query only (and restored afterwards,
-- since a whole round runs in one transaction).
CREATE FUNCTION bench.time_ms(query text, settings text[] DEFAULT '{}')
RETURNS float8
LANGUAGE plpgsql
AS $$
DECLARE
	old text[] := '{}';
	t0 timestamptz;
	elapsed float8;
BEGIN
	FOR i IN 1 .. coalesce(array_length(settings, 1), 0) BY 2 LOOP
		old := old || ARRAY[settings[i], current_setting(settings[i])];
		PERFORM set_config(settings[i], settings[i + 1], true);
	END LOOP;
	t0 := clock_timestamp();
	EXECUTE query;
	elapsed := extract(epoch FROM clock_timestamp() - t0) * 1000.0;
	FOR i IN 1 .. coalesce(array_length(old, 1), 0) BY 2 LOOP
		PERFORM set_config(old[i], old[i + 1], true);
	END LOOP;
	RETURN elapsed;
END
$$;

-- One round of a suite: every query once, in an order rotated by the round
-- number so that no query always runs first or after the same neighbour.
-- Round 0 is the warm-up and is not recorded.
CREATE FUNCTION bench.run_round(p_suite text, p_round int)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
	q record;
	n int;
	t0 timestamptz := clock_timestamp();
	ms float8;
BEGIN
	SELECT count(*) INTO n FROM bench.queries WHERE suite = p_suite;
	IF n = 0 THEN
		RAISE EXCEPTION 'no benchmark queries in suite "%"', p_suite;
	END IF;
	FOR q IN
		SELECT * FROM (SELECT *, row_number() OVER (ORDER BY ord) AS pos
					   FROM bench.queries WHERE suite = p_suite) s
		ORDER BY (pos + p_round) % n
	LOOP
		ms := bench.time_ms(q.query, q.settings);
		IF p_round > 0 THEN
			INSERT INTO bench.timings (suite, name, round, ms) VALUES (p_suite, q.name, p_round, ms);
		END IF;
	END LOOP;
	RETURN format('  %s round %s%s: %s s', p_suite, p_round,
				  CASE WHEN p_round = 0 THEN ' (warm-up, not recorded)' ELSE '' END,
				  round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1));
END
$$;

-- Planning time of one query, from EXPLAIN (ANALYZE).
CREATE FUNCTION bench.planning_ms(query text)
RETURNS float8
LANGUAGE plpgsql
AS $$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
	RETURN (plan -> 0 ->> 'Planning Time')::float8;
END
$$;

-- Medians per query.  For suite "rows" the marginal is taken per round
-- (query minus its baseline in the same round), then the median of those.
CREATE VIEW bench.medians AS
SELECT q.suite, q.name, q.ord, q.diagnostic, q.baseline,
	   count(*) AS rounds,
	   percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms) AS median_ms,
	   percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms - coalesce(b.ms, 0)) AS marginal_ms,
	   min(t.ms - coalesce(b.ms, 0)) AS min_marginal_ms,
	   max(t.ms - coalesce(b.ms, 0)) AS max_marginal_ms,
	   q.divisor
FROM bench.queries q
JOIN bench.timings t ON t.suite = q.suite AND t.name = q.name
LEFT JOIN bench.timings b ON b.suite = q.suite AND b.name = q.baseline AND b.round = t.round
GROUP BY q.suite, q.name, q.ord, q.diagnostic, q.baseline, q.divisor;
