-- test/bench/check.sql: checks that geoshard answers exactly as PostGIS does
-- (radius result sets for every centre and radius, k-NN ids for every
-- centre) and measures planning time; run by test/bench/run.sh after
-- setup.sql.
--
-- psql variables: plan_centres (how many centres to plan queries for), knn_k.
-- Mismatches are listed row by row with both distances, never summarised away.

\set ON_ERROR_STOP 1

CREATE TABLE bench.radius_check AS
SELECT r.radius, r.label, c.id AS centre,
	   ARRAY(SELECT id FROM pts
			 WHERE quadkey_dwithin(qk, c.lat, c.lon, r.radius)
			   AND haversine(lat, lon, c.lat, c.lon) <= r.radius
			 ORDER BY id) AS geoshard,
	   ARRAY(SELECT id FROM pts
			 WHERE ST_DWithin(geog, c.g, r.radius, false)
			 ORDER BY id) AS postgis
FROM bench.radii r CROSS JOIN centres c;

\echo
\echo Rows per radius (geoshard quadkey_dwithin + haversine vs PostGIS ST_DWithin on geography):
SELECT label AS radius,
	   count(*) AS centres,
	   sum(cardinality(geoshard)) AS rows_geoshard,
	   sum(cardinality(postgis)) AS rows_postgis,
	   round(avg(cardinality(geoshard)), 1) AS avg_rows_per_query,
	   count(*) FILTER (WHERE geoshard <> postgis) AS mismatched_centres
FROM bench.radius_check k
GROUP BY k.radius, k.label
ORDER BY k.radius;

\echo Rows in one result but not the other (first 50):
SELECT CASE WHEN count(*) = 0 THEN '(none: every result set is identical)'
			ELSE count(*) || ' rows differ' END AS differing_rows
FROM bench.radius_check k,
	 LATERAL ((SELECT unnest(k.geoshard) EXCEPT SELECT unnest(k.postgis))
			  UNION ALL
			  (SELECT unnest(k.postgis) EXCEPT SELECT unnest(k.geoshard))) d(id);
SELECT k.label AS radius, k.centre, d.id,
	   d.id = ANY (k.geoshard) AS in_geoshard,
	   d.id = ANY (k.postgis) AS in_postgis,
	   haversine(p.lat, p.lon, c.lat, c.lon) AS haversine_m,
	   ST_Distance(p.geog, c.g, false) AS postgis_sphere_m
FROM bench.radius_check k
JOIN centres c ON c.id = k.centre
CROSS JOIN LATERAL ((SELECT unnest(k.geoshard) EXCEPT SELECT unnest(k.postgis))
					UNION ALL
					(SELECT unnest(k.postgis) EXCEPT SELECT unnest(k.geoshard))) d(id)
JOIN pts p ON p.id = d.id
ORDER BY k.radius, k.centre, d.id
LIMIT 50;

-- k-NN: the exact two-phase geoshard query against PostGIS's geography <->,
-- compared as sets of ids (ties in distance may come in either order).
CREATE TABLE bench.knn_check AS
SELECT c.id AS centre,
	   ARRAY(SELECT id FROM pts
			 WHERE quadkey_dwithin(qk, c.lat, c.lon, b.d)
			   AND haversine(lat, lon, c.lat, c.lon) <= b.d
			 ORDER BY haversine(lat, lon, c.lat, c.lon), id
			 LIMIT :knn_k) AS geoshard,
	   ARRAY(SELECT id FROM pts ORDER BY geog <-> c.g LIMIT :knn_k) AS postgis
FROM centres c
CROSS JOIN LATERAL (SELECT max(haversine(lat, lon, c.lat, c.lon)) AS d
					FROM (SELECT lat, lon FROM pts
						  ORDER BY qk <-> point(c.lon, c.lat) LIMIT :knn_k) s) b;
UPDATE bench.knn_check
SET geoshard = ARRAY(SELECT unnest(geoshard) ORDER BY 1),
	postgis = ARRAY(SELECT unnest(postgis) ORDER BY 1);

\echo k-NN ids (geoshard two-phase vs PostGIS geography <->), k = :knn_k:
SELECT count(*) AS centres,
	   sum(cardinality(geoshard)) AS ids_geoshard,
	   sum(cardinality(postgis)) AS ids_postgis,
	   count(*) FILTER (WHERE geoshard <> postgis) AS mismatched_centres
FROM bench.knn_check;
SELECT k.centre, d.id,
	   d.id = ANY (k.geoshard) AS in_geoshard,
	   d.id = ANY (k.postgis) AS in_postgis,
	   haversine(p.lat, p.lon, c.lat, c.lon) AS haversine_m,
	   ST_Distance(p.geog, c.g, false) AS postgis_sphere_m
FROM bench.knn_check k
JOIN centres c ON c.id = k.centre
CROSS JOIN LATERAL ((SELECT unnest(k.geoshard) EXCEPT SELECT unnest(k.postgis))
					UNION ALL
					(SELECT unnest(k.postgis) EXCEPT SELECT unnest(k.geoshard))) d(id)
JOIN pts p ON p.id = d.id
ORDER BY k.centre, d.id
LIMIT 50;

-- Planning time of a single radius query with literal constants, geoshard
-- and PostGIS interleaved, several centres per radius.  (psql does not
-- substitute variables inside the DO body, hence the setting.)
SET bench.plan_centres = :plan_centres;
DO $$
DECLARE
	c record;
	r record;
BEGIN
	FOR c IN SELECT * FROM centres ORDER BY id
			 LIMIT current_setting('bench.plan_centres')::int LOOP
		FOR r IN SELECT * FROM bench.radii ORDER BY radius LOOP
			INSERT INTO bench.timings (suite, name, round, ms)
			VALUES ('planning', 'geoshard ' || r.label, c.id, bench.planning_ms(format(
						'SELECT id FROM pts WHERE quadkey_dwithin(qk, %1$s, %2$s, %3$s) '
						'AND haversine(lat, lon, %1$s, %2$s) <= %3$s', c.lat, c.lon, r.radius)));
			INSERT INTO bench.timings (suite, name, round, ms)
			VALUES ('planning', 'postgis ' || r.label, c.id, bench.planning_ms(format(
						'SELECT id FROM pts WHERE ST_DWithin(geog, '
						'ST_SetSRID(ST_MakePoint(%2$s, %1$s), 4326)::geography, %3$s, false)',
						c.lat, c.lon, r.radius)));
		END LOOP;
	END LOOP;
END
$$;

\echo
\echo Plans of the timed server-side loops (radius 1 km, then k-NN):
SELECT query AS geoshard_query FROM bench.queries WHERE suite = 'radius' AND name = 'geoshard 1 km' \gset
SELECT query AS postgis_query FROM bench.queries WHERE suite = 'radius' AND name = 'postgis 1 km' \gset
EXPLAIN (COSTS OFF) :geoshard_query;
EXPLAIN (COSTS OFF) :postgis_query;
SELECT query AS knn_query FROM bench.queries WHERE suite = 'knn' AND name = 'geoshard, exact two-phase' \gset
EXPLAIN (COSTS OFF) :knn_query;
