-- quadkey_cover: the tiles of one level covering a circle
SET extra_float_digits = 0;

SELECT array_agg(q) FROM quadkey_cover(47.6, -122.3, 1000, 14) q;
SELECT count(*) FROM quadkey_cover(47.6, -122.3, 1000, 16);
SELECT quadkey_cover(0, 0, 1, 0);
SELECT array_agg(q) FROM quadkey_cover(0, 0, 1, 1) q;
SELECT count(*) FROM quadkey_cover(0, 0, 0, 23);
-- output is sorted and distinct
SELECT bool_and(a < b) AS sorted
FROM (SELECT q AS a, lead(q) OVER (ORDER BY ordinality) AS b
	  FROM quadkey_cover(-33.9, 151.2, 50000, 12) WITH ORDINALITY q) s WHERE b IS NOT NULL;

-- correct superset: every sampled point within the radius falls in a cover tile,
-- for caps at the poles, across the antimeridian and from 1 m to 2000 km
CREATE TEMP TABLE caps (lat float8, lon float8, r float8, lvl int);
INSERT INTO caps VALUES
	(47.6, -122.3, 1, 23), (47.6, -122.3, 100, 18), (47.6, -122.3, 5000, 14),
	(0, 179.99, 20000, 12), (0, -179.99, 20000, 12), (-16.5, 180, 300000, 7),
	(89.5, 0, 200000, 7), (-89.9, 45, 100000, 8), (84, 120, 1000000, 6),
	(10, 10, 2000000, 5), (-60, -70, 2000000, 5);
SELECT setseed(0.42);
CREATE TEMP TABLE samples AS
	SELECT c.lat AS clat, c.lon AS clon, c.r, c.lvl, s.lat, s.lon
	FROM caps c,
		 LATERAL (SELECT degrees(asin(sin(radians(c.lat)) * cos(d / 6371008.771415059) +
									 cos(radians(c.lat)) * sin(d / 6371008.771415059) * cos(radians(b)))) AS lat,
						 c.lon + degrees(atan2(sin(radians(b)) * sin(d / 6371008.771415059) * cos(radians(c.lat)),
											   cos(d / 6371008.771415059) - sin(radians(c.lat)) * sin(radians(c.lat)))) AS lon0
				  FROM (SELECT random() * 360 AS b, sqrt(random()) * c.r AS d
						FROM generate_series(1, 2000)) g) p,
		 LATERAL (SELECT p.lat, CASE WHEN p.lon0 > 180 THEN p.lon0 - 360
									 WHEN p.lon0 < -180 THEN p.lon0 + 360 ELSE p.lon0 END AS lon) s;
SELECT clat, clon, r, lvl,
	   count(*) FILTER (WHERE haversine(lat, lon, clat, clon) <= r) AS within,
	   count(*) FILTER (WHERE haversine(lat, lon, clat, clon) <= r
						AND quadkey(lat, lon, lvl) NOT IN (SELECT quadkey_cover(clat, clon, r, lvl))) AS missed
FROM samples GROUP BY clat, clon, r, lvl ORDER BY r, clat;
-- tight: no cover tile lies entirely out of reach (min distance > r)
SELECT c.lat, c.lon, c.r, count(*) AS cells,
	   count(*) FILTER (WHERE q <-> point(c.lon, c.lat) > c.r + 0.001) AS out_of_reach
FROM caps c, LATERAL quadkey_cover(c.lat, c.lon, c.r, c.lvl) q
GROUP BY c.lat, c.lon, c.r ORDER BY c.r, c.lat;
-- a cap around a pole covers every longitude of the polar rows
SELECT count(*) FROM quadkey_cover(89.9, 0, 50000, 3);

-- limits and bad input
SELECT count(*) FROM quadkey_cover(0, 0, 2000000, 16);
SET geoshard.cover_max_cells = 10;
SELECT count(*) FROM quadkey_cover(47.6, -122.3, 1000, 16);
RESET geoshard.cover_max_cells;
SET geoshard.cover_max_cells = 0;
SET geoshard.cover_max_cells = 10000001;
-- the limit bounds one call's time and memory, so only a superuser sets it,
-- or a role it is granted to
CREATE ROLE regress_geo_app;
SET ROLE regress_geo_app;
SHOW geoshard.cover_max_cells;
SET geoshard.cover_max_cells = 10000000;
SET geoshard.cover_max_cells = 10;
SELECT set_config('geoshard.cover_max_cells', '10000000', false);
SELECT count(*) FROM quadkey_cover(0, 0, 2000000, 16);
RESET ROLE;
ALTER ROLE regress_geo_app SET geoshard.cover_max_cells = 10;
SELECT setconfig FROM pg_db_role_setting WHERE setrole = 'regress_geo_app'::regrole;
ALTER ROLE regress_geo_app RESET ALL;
GRANT SET ON PARAMETER geoshard.cover_max_cells TO regress_geo_app;
SET ROLE regress_geo_app;
SET geoshard.cover_max_cells = 10;
SELECT count(*) FROM quadkey_cover(47.6, -122.3, 1000, 16);
RESET geoshard.cover_max_cells;
RESET ROLE;
REVOKE SET ON PARAMETER geoshard.cover_max_cells FROM regress_geo_app;
DROP ROLE regress_geo_app;
SELECT quadkey_cover(0, 0, -1, 10);
SELECT quadkey_cover(0, 0, 'NaN', 10);
SELECT quadkey_cover(0, 0, 'Infinity', 10);
SELECT quadkey_cover(0, 0, 20015115, 10);
-- the limit quoted in the message is itself accepted
SELECT quadkey_cover(0, 0, 20015114.353, 10);
SELECT count(*) FROM quadkey_cover(0, 0, 20015114.352, 2);
SELECT quadkey_cover(-122.3, 47.6, 1000, 10);
SELECT quadkey_cover(0, 0, 1000, 30);
SELECT quadkey_cover(95, 0, 1000, 10);
SELECT quadkey_cover(NULL, 0, 1000, 10);
