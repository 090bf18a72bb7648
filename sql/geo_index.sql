-- radius and nearest-neighbour queries through a GiST index on quadkeys
SET extra_float_digits = 0;

-- pins around two campuses, one of them on the antimeridian
SELECT setseed(0.17);
CREATE TABLE pins (
	id bigserial PRIMARY KEY,
	lat float8 NOT NULL,
	lon float8 NOT NULL,
	qk quadkey GENERATED ALWAYS AS (quadkey(lat, lon, 23)) STORED
);
INSERT INTO pins (lat, lon)
	SELECT 47.65 + (random() - 0.5) * 0.2, -122.30 + (random() - 0.5) * 0.3 FROM generate_series(1, 20000);
INSERT INTO pins (lat, lon)
	SELECT -16.5 + (random() - 0.5) * 0.2, CASE WHEN x > 180 THEN x - 360 ELSE x END
	FROM (SELECT 180 + (random() - 0.5) * 0.3 AS x FROM generate_series(1, 5000)) g;
CREATE INDEX pins_qk ON pins USING gist (qk);
ANALYZE pins;

CREATE TEMP TABLE centres (cid int, lat float8, lon float8);
INSERT INTO centres
	SELECT g, 47.65 + (random() - 0.5) * 0.2, -122.30 + (random() - 0.5) * 0.3 FROM generate_series(1, 20) g;
INSERT INTO centres VALUES (21, -16.5, 180), (22, -16.5, -179.99), (23, 47.65, -122.30);

-- the canonical radius query uses the index through the support function
EXPLAIN (COSTS OFF)
SELECT id FROM pins WHERE quadkey_dwithin(qk, 47.65, -122.3, 500) AND haversine(lat, lon, 47.65, -122.3) <= 500;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF)
SELECT id FROM pins WHERE quadkey_dwithin(qk, 47.65, -122.3, 500) AND haversine(lat, lon, 47.65, -122.3) <= 500;
RESET enable_bitmapscan;
-- the support function also works with parameters and in a lateral join
PREPARE radius(float8, float8, float8) AS
	SELECT count(*) FROM pins WHERE quadkey_dwithin(qk, $1, $2, $3) AND haversine(lat, lon, $1, $2) <= $3;
EXPLAIN (COSTS OFF) EXECUTE radius(47.65, -122.3, 500);
EXPLAIN (COSTS OFF)
SELECT c.cid, n FROM centres c,
	LATERAL (SELECT count(*) n FROM pins WHERE quadkey_dwithin(qk, c.lat, c.lon, 300)) x;
-- no index condition when the centre comes from the same row
EXPLAIN (COSTS OFF) SELECT count(*) FROM pins WHERE quadkey_dwithin(qk, lat, lon, 10);

-- index answers equal a full scan, for 1 m to 20 km, including across the antimeridian
CREATE TEMP TABLE radii (r float8);
INSERT INTO radii VALUES (1), (100), (1000), (5000), (20000);
CREATE TEMP TABLE by_index AS
	SELECT c.cid, r.r, array_agg(p.id ORDER BY p.id) AS ids
	FROM centres c CROSS JOIN radii r
	LEFT JOIN LATERAL (SELECT id FROM pins
					   WHERE quadkey_dwithin(qk, c.lat, c.lon, r.r)
					     AND haversine(lat, lon, c.lat, c.lon) <= r.r) p ON true
	GROUP BY c.cid, r.r;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
CREATE TEMP TABLE by_scan AS
	SELECT c.cid, r.r, array_agg(p.id ORDER BY p.id) AS ids
	FROM centres c CROSS JOIN radii r
	LEFT JOIN LATERAL (SELECT id FROM pins WHERE haversine(lat, lon, c.lat, c.lon) <= r.r) p ON true
	GROUP BY c.cid, r.r;
RESET enable_indexscan;
RESET enable_bitmapscan;
SELECT r, count(*) AS centres, sum(cardinality(array_remove(i.ids, NULL))) AS rows_found,
	   count(*) FILTER (WHERE i.ids IS DISTINCT FROM s.ids) AS mismatches
FROM by_index i JOIN by_scan s USING (cid, r) GROUP BY r ORDER BY r;

-- quadkey_dwithin on its own means "the tile comes within the radius"
SELECT quadkey_dwithin('', 0, 0, 0), quadkey_dwithin(quadkey(10, 10, 10), 10, 10, 0),
	   quadkey_dwithin(quadkey(10, 10, 10), 20, 20, 1000),
	   quadkey_dwithin(quadkey(0, 179.999, 16), 0, -179.999, 300);
SELECT quadkey_dwithin(qk, 0, 0, -5) FROM pins LIMIT 1;
SELECT count(*) FROM pins WHERE quadkey_dwithin(qk, 47.65, -122.3, 'NaN');
SELECT count(*) FROM pins WHERE quadkey_dwithin(qk, 100, -122.3, 10);
-- swapped coordinates get a hint, also when the index evaluates the circle
SELECT count(*) FROM pins WHERE quadkey_dwithin(qk, -122.3, 47.65, 10);
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT count(*) FROM pins WHERE quadkey_dwithin(qk, -122.3, 47.65, 10);
SELECT count(*) FROM pins WHERE qk && circle(point(47.65, -122.3), 10);
RESET enable_indexscan;
RESET enable_bitmapscan;
SELECT id FROM pins ORDER BY qk <-> point(47.65, -122.3) LIMIT 1;
SELECT count(*) FROM pins WHERE qk && circle(point(-122.3, 47.65), -1);

-- nearest neighbours: ORDER BY qk <-> point(lon, lat) is an index scan
EXPLAIN (COSTS OFF) SELECT id FROM pins ORDER BY qk <-> point(-122.3, 47.65) LIMIT 10;
-- the exact k nearest, in two index passes, equal a full sort
PREPARE knn(float8, float8, int) AS
	SELECT p.id, haversine(p.lat, p.lon, $1, $2) AS dist_m
	FROM (SELECT max(haversine(lat, lon, $1, $2)) AS r
		  FROM (SELECT lat, lon FROM pins ORDER BY qk <-> point($2, $1) LIMIT $3) seed) bound,
		 LATERAL (SELECT * FROM pins
				  WHERE quadkey_dwithin(qk, $1, $2, bound.r)
				    AND haversine(lat, lon, $1, $2) <= bound.r
				  ORDER BY haversine(lat, lon, $1, $2), id
				  LIMIT $3) p;
EXPLAIN (COSTS OFF) EXECUTE knn(47.65, -122.3, 10);
CREATE TEMP TABLE knn_index AS
	SELECT c.cid, k, (SELECT array_agg(id) FROM (
		SELECT p.id FROM (SELECT max(haversine(lat, lon, c.lat, c.lon)) AS r
			  FROM (SELECT lat, lon FROM pins ORDER BY qk <-> point(c.lon, c.lat) LIMIT k) seed) bound,
			 LATERAL (SELECT * FROM pins
					  WHERE quadkey_dwithin(qk, c.lat, c.lon, bound.r)
						AND haversine(lat, lon, c.lat, c.lon) <= bound.r
					  ORDER BY haversine(lat, lon, c.lat, c.lon), id LIMIT k) p) x) AS ids
	FROM centres c, (VALUES (1), (10), (100)) kk(k);
SET enable_indexscan = off;
SET enable_bitmapscan = off;
CREATE TEMP TABLE knn_scan AS
	SELECT c.cid, k, (SELECT array_agg(id) FROM (
		SELECT id FROM pins ORDER BY haversine(lat, lon, c.lat, c.lon), id LIMIT k) x) AS ids
	FROM centres c, (VALUES (1), (10), (100)) kk(k);
RESET enable_indexscan;
RESET enable_bitmapscan;
SELECT k, count(*) AS centres, count(*) FILTER (WHERE i.ids IS DISTINCT FROM s.ids) AS mismatches
FROM knn_index i JOIN knn_scan s USING (cid, k) GROUP BY k ORDER BY k;
-- the index order is by distance to the tile, a lower bound of the true distance
SELECT bool_and(d1 <= d2) AS nondecreasing
FROM (SELECT qk <-> point(-122.3, 47.65) AS d1, lead(qk <-> point(-122.3, 47.65)) OVER () AS d2
	  FROM (SELECT qk FROM pins ORDER BY qk <-> point(-122.3, 47.65) LIMIT 500) s) t WHERE d2 IS NOT NULL;
SELECT id FROM pins ORDER BY qk <-> point(200, 47.65) LIMIT 1;

-- estimates follow the data: rows near the campus, none far away, and
-- the radius's share of the data's extent when the centre is unknown
CREATE FUNCTION plan_rows(query text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
	RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END
$$;
SELECT r, actual, plan_rows(format('SELECT 1 FROM pins WHERE quadkey_dwithin(qk, 47.65, -122.3, %s)', r)) / greatest(actual, 1)
			BETWEEN 0.33 AND 3 AS estimate_within_3x
FROM (SELECT r, (SELECT count(*) FROM pins WHERE quadkey_dwithin(qk, 47.65, -122.3, r)) AS actual
	  FROM (VALUES (1000), (3000), (10000)) v(r)) t ORDER BY r;
SELECT plan_rows('SELECT 1 FROM pins WHERE quadkey_dwithin(qk, 10, 10, 1000)') <= 1 AS none_far_away;
-- estimation never raises an error: values the functions refuse get the
-- fixed guess (0.1% of 25000 rows) at plan time, and fail only when evaluated
EXPLAIN (COSTS OFF)
SELECT 1 FROM pins WHERE false OR (random() < 0 AND quadkey_dwithin(qk, 100, 0, 10));
SELECT clause, plan_rows('SELECT 1 FROM pins WHERE ' || clause) AS estimate
FROM (VALUES ('quadkey_dwithin(qk, 100, 0, 10)'), ('quadkey_dwithin(qk, -122.3, 47.65, 10)'),
			 ('quadkey_dwithin(qk, 0, 200, 10)'), ($$quadkey_dwithin(qk, 'NaN', 0, 10)$$),
			 ($$quadkey_dwithin(qk, 0, '-Infinity', 10)$$), ($$quadkey_dwithin(qk, 0, 0, 'NaN')$$),
			 ($$quadkey_dwithin(qk, 0, 0, 'Infinity')$$), ('quadkey_dwithin(qk, 0, 0, -1)'),
			 ('quadkey_dwithin(qk, 0, 0, 1e300)'), ('quadkey_dwithin(qk, 0, 0, 20015114.353)'),
			 ('quadkey_dwithin(qk, (SELECT 47.5), (SELECT -122.0), 1e300)'),
			 ($$quadkey_dwithin(qk, (SELECT 47.5), (SELECT -122.0), 'NaN')$$),
			 ('quadkey_dwithin(qk, (SELECT 47.5), (SELECT -122.0), -5)'),
			 ('qk && circle(point(0, 100), 10)'), ($$qk && circle(point(0, 0), 'NaN')$$),
			 ($$qk && circle(point(0, 0), 'Infinity')$$),
			 ($$qk && circle(point(random(), 0), 'Infinity')$$),
			 ('qk && circle(point(random(), 0), -5)')) v(clause);
-- the largest radius is valid and takes every row
SELECT plan_rows('SELECT 1 FROM pins WHERE quadkey_dwithin(qk, 0, 0, 20015114.352)') AS max_radius_estimate;
-- parameters are estimated from their values in custom plans, NULL included
PREPARE dwithin_lat(float8) AS SELECT 1 FROM pins WHERE quadkey_dwithin(qk, $1, -122.3, 1000);
EXPLAIN (COSTS OFF) EXECUTE dwithin_lat(100);
EXPLAIN (COSTS OFF) EXECUTE dwithin_lat(NULL);
DEALLOCATE dwithin_lat;

-- an index grown by inserts alone stays selective: a point probe reads few pages
CREATE TABLE grown (lat float8, lon float8, qk quadkey);
CREATE INDEX grown_qk ON grown USING gist (qk);
INSERT INTO grown SELECT lat, lon, quadkey(lat, lon, 23)
	FROM (SELECT 47 + random() AS lat, -122.5 + random() AS lon FROM generate_series(1, 30000)) s;
VACUUM ANALYZE grown;
-- with the centre unknown at plan time: the radius's share of the data's extent
SELECT plan_rows('SELECT 1 FROM grown g WHERE quadkey_dwithin(g.qk, (SELECT 47.5), (SELECT -122.0), 2000)') AS estimate,
	   round(30000 * pi() * 2000.0 ^ 2 / (111195.0 * 111195.0 * cos(radians(47.5)))) AS area_share;
DROP FUNCTION plan_rows(text);
CREATE FUNCTION probe_buffers() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
		SELECT count(*) FROM grown WHERE quadkey_dwithin(qk, 47.5, -122, 0) INTO plan;
	RETURN (plan -> 0 -> 'Plan' ->> 'Shared Hit Blocks')::int + (plan -> 0 -> 'Plan' ->> 'Shared Read Blocks')::int;
END
$$;
SELECT probe_buffers() <= 12 AS few_pages;
DROP FUNCTION probe_buffers();
DROP TABLE grown;

-- the index stays right through inserts, deletes and vacuum
DELETE FROM pins WHERE id % 3 = 0;
INSERT INTO pins (lat, lon) SELECT 47.65 + (random() - 0.5) * 0.02, -122.30 + (random() - 0.5) * 0.03 FROM generate_series(1, 3000);
VACUUM pins;
SELECT (SELECT count(*) FROM pins WHERE quadkey_dwithin(qk, 47.65, -122.3, 800) AND haversine(lat, lon, 47.65, -122.3) <= 800) =
	   (SELECT count(*) FROM pins WHERE haversine(lat, lon, 47.65, -122.3) <= 800) AS agrees_after_changes;
DROP TABLE pins;
