-- haversine distance and the distance from a point to a tile
SET extra_float_digits = 0;

-- a sphere of radius 6371008.7714 m (PostGIS's): a quarter meridian, and Berlin-Paris
SELECT round(haversine(0, 0, 90, 0)::numeric, 3) AS quarter_meridian,
	   round((pi() * 6371008.771415059 / 2)::numeric, 3) AS expected;
SELECT round(haversine(52.52, 13.405, 48.8566, 2.3522)::numeric, 3) AS berlin_paris;
SELECT haversine(10, 20, 10, 20) AS same_point,
	   round(haversine(0, 179.9995, 0, -179.9995)::numeric, 3) AS across_antimeridian,
	   round(haversine(0, 0, 0, 180)::numeric, 3) AS antipodes;
-- symmetric, and 1 m apart stays 1 m (no cancellation at small distances)
SELECT haversine(47.1, -122.2, 47.3, -122.1) = haversine(47.3, -122.1, 47.1, -122.2) AS symmetric,
	   round(haversine(0, 0, 1 / (6371008.771415059 * pi() / 180), 0)::numeric, 9) AS one_metre;

-- bad input
SELECT haversine('NaN', 0, 0, 0);
SELECT haversine(0, 0, 0, '-Infinity');
SELECT haversine(-91, 0, 0, 0);
SELECT haversine(0, 0, 0, 181);
-- swapped coordinates, the commonest mistake, get a hint; a latitude that is
-- no longer a valid longitude does not
SELECT haversine(-122.3321, 47.6062, 45.5152, -122.6784);
SELECT haversine(47.6062, -122.3321, 180, 45.5152);
SELECT haversine(47.6062, -122.3321, -180.5, 45.5152);
SELECT haversine(47.6062, -122.3321, 45.5152, -180.5);
SELECT haversine(NULL, 0, 0, 0) IS NULL AS null_in_null_out;

-- <->: metres from point(lon, lat) to the nearest point of a tile, 0 inside
SELECT quadkey(47.6, -122.3, 16) <-> point(-122.3, 47.6) AS inside;
SELECT round((q <-> point(c.lon, c.lat + 1))::numeric, 3) AS north_of_tile,
	   round(haversine(c.lat + 1, c.lon, b.max_lat, c.lon)::numeric, 3) AS straight_south
FROM quadkey(10.5, 20.5, 8) q, quadkey_center(q) c, quadkey_bbox(q) b;
-- beside a tile the nearest point is on its meridian edge, not a corner
SELECT round((q <-> point(b.max_lon + 1, c.lat))::numeric, 3) AS east_of_tile,
	   round(haversine(c.lat, b.max_lon + 1, b.min_lat, b.max_lon)::numeric, 3) AS to_corner
FROM quadkey(60, 20.5, 8) q, quadkey_center(q) c, quadkey_bbox(q) b;
-- across the antimeridian
SELECT round((quadkey(0.5, 179.9, 10) <-> point(-179.9, 0.5))::numeric, 0) AS wraps;
-- polar tiles reach the pole: the Mercator clamp puts polar points in them
SELECT quadkey(89.9, 10, 6) = quadkey(85, 10, 6) AS same_tile,
	   quadkey(89.9, 10, 6) <-> point(10, 89.9) AS distance_to_own_tile;
SELECT quadkey(0, 0, 3) <-> point(0, 91);
-- a point is point(lon, lat): the hint says so
SELECT quadkey(0, 0, 3) <-> point(47.6062, -122.3321);
SELECT quadkey(0, 0, 3) <-> point(0, 'NaN');
