-- test/bench/report.sql: turns the timings that test/bench/run.sh collected
-- (bench.timings, bench.radius_check, bench.knn_check) into Markdown: detail tables, then the
-- summary of measures against the goals in design.md.  Run with psql -At.

\set ON_ERROR_STOP 1

-- A number with about three significant digits.
CREATE FUNCTION pg_temp.fmt(x float8) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
	SELECT CASE
		WHEN x IS NULL THEN 'n/a'
		WHEN abs(x) >= 100 THEN round(x::numeric)::text
		WHEN abs(x) >= 10 THEN round(x::numeric, 1)::text
		WHEN abs(x) >= 1 THEN round(x::numeric, 2)::text
		ELSE round(x::numeric, 3)::text
	END
$$;

-- The ratio a / b, or NULL when b is not positive (noise ate the peer's cost).
CREATE FUNCTION pg_temp.ratio(a float8, b float8) RETURNS float8
LANGUAGE sql IMMUTABLE
AS $$
	SELECT CASE WHEN b > 0 THEN a / b END
$$;

\echo '### Per-row cost over' :rows 'rows (SELECT count(f(...)) FROM world; marginal = query minus its baseline, per round)'
\echo
\echo '| query | median ms | marginal ns/row (median) | min .. max ns/row | rounds | baseline |'
\echo '|---|---|---|---|---|---|'
SELECT format('| `%s`%s | %s | %s | %s .. %s | %s | %s |',
			  name, CASE WHEN diagnostic THEN ' (diagnostic)' ELSE '' END,
			  pg_temp.fmt(median_ms),
			  CASE WHEN baseline IS NULL THEN format('(baseline: %s ns/row in all)', pg_temp.fmt(median_ms * 1e6 / divisor))
				   ELSE pg_temp.fmt(marginal_ms * 1e6 / divisor) END,
			  pg_temp.fmt(min_marginal_ms * 1e6 / divisor), pg_temp.fmt(max_marginal_ms * 1e6 / divisor),
			  rounds, coalesce('`' || baseline || '`', ''))
FROM bench.medians
WHERE suite = 'rows'
ORDER BY ord;

\echo
\echo '### Radius queries, server side (one LATERAL loop over' :centres 'random centres;' :rows 'points in a 1-degree box)'
\echo
\echo '| query | median ms per loop | us per query (median) | min .. max us | rounds |'
\echo '|---|---|---|---|---|'
SELECT format('| %s%s | %s | %s | %s .. %s | %s |',
			  name, CASE WHEN diagnostic THEN ' (diagnostic)' ELSE '' END,
			  pg_temp.fmt(median_ms), pg_temp.fmt(median_ms * 1e3 / divisor),
			  pg_temp.fmt(min_marginal_ms * 1e3 / divisor), pg_temp.fmt(max_marginal_ms * 1e3 / divisor),
			  rounds)
FROM bench.medians
WHERE suite = 'radius'
ORDER BY ord;

\echo
\echo '### Nearest neighbours, k =' :knn_k '(one LATERAL loop over' :centres 'centres)'
\echo
\echo '| query | median ms per loop | us per query (median) | min .. max us | rounds |'
\echo '|---|---|---|---|---|'
SELECT format('| %s%s | %s | %s | %s .. %s | %s |',
			  name, CASE WHEN diagnostic THEN ' (diagnostic)' ELSE '' END,
			  pg_temp.fmt(median_ms), pg_temp.fmt(median_ms * 1e3 / divisor),
			  pg_temp.fmt(min_marginal_ms * 1e3 / divisor), pg_temp.fmt(max_marginal_ms * 1e3 / divisor),
			  rounds)
FROM bench.medians
WHERE suite = 'knn'
ORDER BY ord;

\echo
\echo '### Planning time of one radius query (EXPLAIN ANALYZE, literal centre)'
\echo
\echo '| query | median ms | max ms | samples |'
\echo '|---|---|---|---|'
SELECT format('| %s | %s | %s | %s |', name,
			  pg_temp.fmt(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)), pg_temp.fmt(max(ms)), count(*))
FROM bench.timings
WHERE suite = 'planning'
GROUP BY name
ORDER BY split_part(name, ' ', 1), (SELECT radius FROM bench.radii WHERE name LIKE '% ' || label);

\echo
\echo '### End to end (pgbench -n -M prepared, 1 client,' :pgbench_seconds 's per run, random centres, SELECT id)'
\echo
\echo '| query | median TPS | median latency ms | runs |'
\echo '|---|---|---|---|'
SELECT format('| %s | %s | %s | %s |', name,
			  pg_temp.fmt(percentile_cont(0.5) WITHIN GROUP (ORDER BY tps)),
			  pg_temp.fmt(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)), count(*))
FROM bench.timings
WHERE suite = 'e2e'
GROUP BY name
ORDER BY split_part(name, ' ', 1), (SELECT radius FROM bench.radii WHERE name LIKE '% ' || label);

-- summary -----------------------------------------------------------------------

CREATE TEMP TABLE summary (
	ord int,
	measure text,
	geoshard float8,
	peer float8,
	ratio float8,
	goal text,
	met bool,
	shown_geoshard text,
	shown_peer text
);

-- per-row costs
WITH m AS (SELECT name, marginal_ms * 1e6 / divisor AS ns FROM bench.medians WHERE suite = 'rows'),
	 g AS (SELECT ns FROM m WHERE name = 'quadkey(lat, lon, 23)'),
	 h AS (SELECT ns FROM m WHERE name = 'haversine(lat, lon, 47.5, -122)')
INSERT INTO summary (ord, measure, geoshard, peer, goal, ratio)
SELECT 1, 'encode ns/row: `quadkey(lat, lon, 23)` vs q3c `q3c_ang2ipix(lon, lat)`',
	   (SELECT ns FROM g), (SELECT ns FROM m WHERE name = 'q3c_ang2ipix(lon, lat)'), '<= 0.5', 0.5
UNION ALL
SELECT 2, 'encode ns/row: `quadkey(lat, lon, 23)` vs PostGIS `ST_GeoHash(geom, 9)`',
	   (SELECT ns FROM g), (SELECT ns FROM m WHERE name = 'ST_GeoHash(geom, 9)'), '<= 0.1', 0.1
UNION ALL
SELECT 3, 'distance ns/row: `haversine(lat, lon, ...)` vs earthdistance `p <@> point(...)`',
	   (SELECT ns FROM h), (SELECT ns FROM m WHERE name = 'p <@> point(-122, 47.5)'), '<= 1.0', 1.0;

-- radius queries, server side
INSERT INTO summary (ord, measure, geoshard, peer, goal, ratio)
SELECT 10 + row_number() OVER (ORDER BY r.radius),
	   format('radius %s, server us/query vs PostGIS `ST_DWithin` geography + GiST', r.label),
	   (SELECT median_ms * 1e3 / divisor FROM bench.medians WHERE suite = 'radius' AND name = 'geoshard ' || r.label),
	   (SELECT median_ms * 1e3 / divisor FROM bench.medians WHERE suite = 'radius' AND name = 'postgis ' || r.label),
	   '<= 0.5', 0.5
FROM bench.radii r;

-- the same with the documented covering index (gist (qk) INCLUDE (lat, lon))
INSERT INTO summary (ord, measure, geoshard, peer, goal, ratio)
SELECT 15 + row_number() OVER (ORDER BY r.radius),
	   format('radius %s, server us/query, covering index, vs PostGIS `ST_DWithin` geography + GiST', r.label),
	   (SELECT median_ms * 1e3 / divisor FROM bench.medians WHERE suite = 'radius' AND name = 'geoshard-covering ' || r.label),
	   (SELECT median_ms * 1e3 / divisor FROM bench.medians WHERE suite = 'radius' AND name = 'postgis ' || r.label),
	   '<= 0.5', 0.5
FROM bench.radii r;

-- Planning time over all radii and centres; the goal is absolute (1 ms).
INSERT INTO summary (ord, measure, geoshard, peer, goal, ratio)
SELECT 20, 'planning ms, one radius query (median)',
	   percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE name LIKE 'geoshard %'),
	   percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE name LIKE 'postgis %'),
	   'geoshard <= 1 ms', NULL
FROM bench.timings
WHERE suite = 'planning';

-- Identical rows for every centre and radius.
INSERT INTO summary (ord, measure, goal, shown_geoshard, shown_peer, met)
SELECT 21, 'identical rows (result sets equal, centre x radius)', 'all',
	   count(*) FILTER (WHERE geoshard = postgis) || ' / ' || count(*),
	   sum(cardinality(postgis)) || ' rows',
	   count(*) > 0 AND bool_and(geoshard = postgis)
FROM bench.radius_check;

-- end to end: mean latency, no goal
INSERT INTO summary (ord, measure, geoshard, peer, goal)
SELECT 30 + row_number() OVER (ORDER BY r.radius),
	   format('radius %s, end-to-end ms/query (pgbench -M prepared, mean latency)', r.label),
	   (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM bench.timings
		WHERE suite = 'e2e' AND name = 'geoshard ' || r.label),
	   (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM bench.timings
		WHERE suite = 'e2e' AND name = 'postgis ' || r.label),
	   '(none)'
FROM bench.radii r;

-- k-NN: no goal yet, but the answers must be the same
INSERT INTO summary (ord, measure, geoshard, peer, goal)
SELECT 40, format('k-NN k=%s, server us/query: exact two-phase vs PostGIS `ORDER BY geog <-> g`', :'knn_k'),
	   (SELECT median_ms * 1e3 / divisor FROM bench.medians WHERE suite = 'knn' AND name = 'geoshard, exact two-phase'),
	   (SELECT median_ms * 1e3 / divisor FROM bench.medians WHERE suite = 'knn' AND name = 'postgis'),
	   '(none)';
INSERT INTO summary (ord, measure, goal, shown_geoshard, shown_peer, met)
SELECT 41, 'identical k-NN ids (centres)', 'all',
	   count(*) FILTER (WHERE geoshard = postgis) || ' / ' || count(*),
	   sum(cardinality(postgis)) || ' ids',
	   count(*) > 0 AND bool_and(geoshard = postgis)
FROM bench.knn_check;

-- ratio holds the goal's bound until here
UPDATE summary
SET met = CASE WHEN ratio IS NOT NULL THEN pg_temp.ratio(geoshard, peer) <= ratio
			   WHEN ord = 20 THEN geoshard <= 1.0
			   ELSE met END,
	ratio = pg_temp.ratio(geoshard, peer)
WHERE ord NOT IN (21, 41);

\echo
\echo '### Summary'
\echo
\echo '| measure | geoshard | peer | ratio | goal | met? |'
\echo '|---|---|---|---|---|---|'
SELECT format('| %s | %s | %s | %s | %s | %s |', measure,
			  coalesce(shown_geoshard, pg_temp.fmt(geoshard)),
			  coalesce(shown_peer, pg_temp.fmt(peer)),
			  CASE WHEN ord IN (21, 41) THEN '' ELSE pg_temp.fmt(ratio) || 'x' END,
			  goal,
			  CASE WHEN met IS NULL THEN '-' WHEN met THEN 'yes' ELSE '**no**' END)
FROM summary
ORDER BY ord;

SELECT format('%s of %s goals met (identical answers included); radius result sets %s; k-NN ids %s',
			  count(*) FILTER (WHERE met), count(*) FILTER (WHERE met IS NOT NULL),
			  CASE WHEN (SELECT met FROM summary WHERE ord = 21) THEN 'identical'
				   ELSE 'DIFFER (see the checks)' END,
			  CASE WHEN (SELECT met FROM summary WHERE ord = 41) THEN 'identical'
				   ELSE 'DIFFER (see the checks)' END) AS verdict
FROM summary \gset
\echo
\echo :verdict
