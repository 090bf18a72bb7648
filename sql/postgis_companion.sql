-- geoshard_postgis: quadkeys from PostGIS geometries and geographies, tiles
-- as polygons, cross-checked against PostGIS itself.
\set SHOW_CONTEXT never
SET extra_float_digits = 0;

-- a statement's SQLSTATE, or 'ok'
CREATE FUNCTION pg_temp.sqlstate_of(query text) RETURNS text
	LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE query;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;

-- geoshard is loaded; the companion needs postgis too
CREATE EXTENSION geoshard_postgis;
CREATE EXTENSION postgis;
CREATE EXTENSION geoshard_postgis;
SELECT e.extversion, e.extrelocatable, n.nspname,
	   (SELECT array_agg(r.extname ORDER BY r.extname) FROM pg_depend d
		JOIN pg_extension r ON r.oid = d.refobjid
		WHERE d.classid = 'pg_extension'::regclass AND d.objid = e.oid
		  AND d.refclassid = 'pg_extension'::regclass) AS requires
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'geoshard_postgis';

-- every object: SQL-standard body (bound at creation), volatility, comment
SELECT p.oid::regprocedure AS function,
	   l.lanname, p.prosqlbody IS NOT NULL AS sql_body, p.provolatile, p.proparallel,
	   p.proisstrict, obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid JOIN pg_language l ON l.oid = p.prolang
WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'geoshard_postgis')
ORDER BY 1::text;
SELECT c.castsource::regtype, c.casttarget::regtype, c.castcontext, c.castfunc::regprocedure,
	   obj_description(c.oid, 'pg_cast') IS NOT NULL AS commented
FROM pg_depend d JOIN pg_cast c ON c.oid = d.objid
WHERE d.classid = 'pg_cast'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'geoshard_postgis');

-- points: the same tile as quadkey(lat, lon, level)
SELECT quadkey(ST_SetSRID(ST_MakePoint(-122.3321, 47.6062), 4326), 12) AS geometry,
	   quadkey(ST_SetSRID(ST_MakePoint(-122.3321, 47.6062), 4326)::geography, 12) AS geography,
	   quadkey(47.6062, -122.3321, 12) AS latlon;

-- seeded random points within the Mercator limits, every level: the tile
-- polygon contains the point (PostGIS ST_Contains), and the quadkey equals
-- quadkey(lat, lon, level) for geometry and geography alike
SELECT setseed(0.42);
CREATE TABLE pts AS
	SELECT g AS id, -85.05112878 + random() * 2 * 85.05112878 AS lat,
		   -180 + random() * 360 AS lon, floor(random() * 30)::int AS z
	FROM generate_series(1, 20000) g;
-- and a strip on both sides of the antimeridian
INSERT INTO pts
	SELECT 20000 + g, -17 + random(), CASE WHEN x > 180 THEN x - 360 ELSE x END, 10 + floor(random() * 20)::int
	FROM (SELECT g, 179.5 + random() AS x FROM generate_series(1, 2000) g) s;
ALTER TABLE pts ADD COLUMN geom geometry(Point, 4326), ADD COLUMN qk quadkey;
UPDATE pts SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326);
UPDATE pts SET qk = quadkey(geom, z);
SELECT count(*) AS points,
	   count(*) FILTER (WHERE quadkey_level(qk) <> z) AS wrong_level,
	   count(*) FILTER (WHERE qk <> quadkey(lat, lon, z)) AS not_latlon,
	   count(*) FILTER (WHERE qk <> quadkey(geom::geography, z)) AS not_geography,
	   count(*) FILTER (WHERE NOT ST_Contains(quadkey_geom(qk), geom)) AS not_contained,
	   count(*) FILTER (WHERE NOT ST_Covers(qk::geometry, geom::geography::geometry)) AS not_covered,
	   count(*) FILTER (WHERE lon > 179.5 OR lon < -179.5) AS near_antimeridian
FROM pts;

-- edges: tiles are closed on the west and north, open on the east and south,
-- so points on an edge are on the tile polygon's boundary (ST_Covers, not
-- ST_Contains); longitude 180 belongs to the easternmost column
CREATE TABLE edges (lat float8, lon float8);
INSERT INTO edges VALUES
	(0, 180), (0, -180), (0, 0), (0, 179.99999999999997), (-16.5, -179.99999999999997),
	(85.05112877980659, 0), (-85.05112877980659, 0), (85.05112877980659, 180),
	(-85.05112877980659, -180), (-85.0511287798066, -90),
	(47.6062, -122.3321);
-- and the corners of the random points' tiles
INSERT INTO edges SELECT b.max_lat, b.min_lon FROM pts, quadkey_bbox(qk) b WHERE id % 100 = 0;
SELECT count(*) AS points,
	   count(*) FILTER (WHERE q.qk <> quadkey(e.lat, e.lon, z.z)) AS not_latlon,
	   count(*) FILTER (WHERE NOT ST_Covers(quadkey_geom(q.qk), q.p)) AS not_covered
FROM edges e, (VALUES (0), (1), (7), (18), (29)) z(z),
	 LATERAL (SELECT ST_SetSRID(ST_MakePoint(e.lon, e.lat), 4326) AS p) g,
	 LATERAL (SELECT quadkey(g.p, z.z) AS qk, g.p) q;
SELECT lon, quadkey(ST_SetSRID(ST_MakePoint(lon, 0), 4326), 3) AS qk,
	   (quadkey_tile(quadkey(ST_SetSRID(ST_MakePoint(lon, 0), 4326), 3))).x
FROM (VALUES (-180), (-179.99999), (179.99999), (180)) v(lon);

-- beyond the Mercator limit, latitudes fall in the polar row of tiles, as
-- quadkey(lat, lon, level) clamps them; the tile polygon stops at the limit
SELECT lat, quadkey(ST_SetSRID(ST_MakePoint(10, lat), 4326), 5) AS qk,
	   quadkey(lat, 10, 5) AS latlon,
	   (quadkey_tile(quadkey(ST_SetSRID(ST_MakePoint(10, lat), 4326), 5))).y,
	   ST_YMax(quadkey_geom(quadkey(ST_SetSRID(ST_MakePoint(10, lat), 4326), 5))) AS tile_north
FROM (VALUES (90), (86), (85.06), (-85.06), (-90)) v(lat);

-- quadkey_geom: exactly quadkey_bbox's bounds, SRID 4326, a valid rectangle
SELECT count(*) AS tiles,
	   count(*) FILTER (WHERE ST_XMin(t) <> b.min_lon OR ST_XMax(t) <> b.max_lon
						 OR ST_YMin(t) <> b.min_lat OR ST_YMax(t) <> b.max_lat) AS bounds_differ,
	   count(*) FILTER (WHERE ST_SRID(t) <> 4326 OR ST_GeometryType(t) <> 'ST_Polygon'
						 OR ST_NPoints(t) <> 5 OR NOT ST_IsValid(t)
						 OR NOT ST_Equals(t, ST_Envelope(t))) AS not_a_rectangle,
	   count(*) FILTER (WHERE NOT ST_Equals(t, qk::geometry)) AS cast_differs
FROM pts, quadkey_bbox(qk) b, LATERAL quadkey_geom(qk) t;
SELECT ST_AsText(quadkey_geom('')) AS world;
SELECT ST_AsEWKT(quadkey_geom('0')) AS nw_quarter;
SELECT ST_AsEWKT('3'::quadkey::geometry) AS cast_se_quarter;
-- the four children tile their parent
SELECT ST_Equals(quadkey_geom('0212'), ST_Union(quadkey_geom(c))) AS children_tile_parent,
	   abs(ST_Area(quadkey_geom('0212')) - sum(ST_Area(quadkey_geom(c)))) < 1e-9 AS areas_add_up
FROM quadkey_children('0212') c;

-- other geometries: the smallest tile at or above the level that contains
-- the geometry's box; checked against PostGIS: the tile covers the geometry
-- and, above the level, none of its children does
CREATE TABLE shapes AS
	SELECT g AS id, z, CASE g % 4
		WHEN 0 THEN ST_MakeEnvelope(lon, lat, lon + w, lat + h, 4326)
		WHEN 1 THEN ST_SetSRID(ST_MakeLine(ST_MakePoint(lon, lat), ST_MakePoint(lon + w, lat + h)), 4326)
		WHEN 2 THEN ST_SetSRID(ST_Collect(ST_MakePoint(lon + w, lat), ST_MakePoint(lon, lat + h)), 4326)
		ELSE ST_Buffer(ST_SetSRID(ST_MakePoint(lon + w / 2, lat + h / 2), 4326), least(w, h) / 2)
		END AS geom
	FROM (SELECT g, -80 + random() * 150 AS lat, -179 + random() * 350 AS lon,
				 power(10, -4 + random() * 4) AS w, power(10, -4 + random() * 4) AS h,
				 floor(random() * 30)::int AS z
		  FROM generate_series(1, 4000) g) s;
SELECT count(*) AS shapes,
	   count(*) FILTER (WHERE quadkey_level(q) > z) AS too_deep,
	   count(*) FILTER (WHERE quadkey_level(q) < z) AS above_level,
	   count(*) FILTER (WHERE NOT ST_Covers(quadkey_geom(q), geom)) AS not_covered,
	   count(*) FILTER (WHERE quadkey_level(q) < z AND EXISTS (
			SELECT FROM quadkey_children(q) c WHERE ST_Covers(quadkey_geom(c), geom))) AS not_smallest
FROM (SELECT *, quadkey(geom, z) AS q FROM shapes) s;
SELECT name, quadkey(ST_SetSRID(g, 4326), 20) AS qk FROM (VALUES
	('antimeridian line', 'LINESTRING(179 10, -179 10)'::geometry),
	('seattle box', ST_MakeEnvelope(-122.36, 47.59, -122.30, 47.63)),
	('polygon', 'POLYGON((-122.36 47.59, -122.30 47.59, -122.33 47.63, -122.36 47.59))'),
	('multipoint', 'MULTIPOINT(-122.35 47.60, -122.31 47.62)'),
	('collection', 'GEOMETRYCOLLECTION(POINT(-122.35 47.60), LINESTRING(-122.34 47.61, -122.31 47.62))'),
	('point with z and m', 'POINT ZM(-122.3321 47.6062 10 20)'),
	('the world', ST_MakeEnvelope(-180, -90, 180, 90)),
	('north-west quarter', ST_MakeEnvelope(-179, 0.0001, -1, 90)),
	('beyond the limit', 'LINESTRING(10 86, 11 89)')) v(name, g);

-- other SRIDs are refused, with a hint to transform first (which agrees)
SELECT quadkey(ST_Transform('SRID=3857;POINT(-13617000 6040000)'::geometry, 4326), 16) AS from_web_mercator,
	   quadkey(ST_Transform(ST_SetSRID(ST_MakePoint(-122.3321, 47.6062), 4269), 4326), 16) AS from_nad83,
	   quadkey(47.6062, -122.3321, 16) AS latlon;
SELECT count(*) FILTER (WHERE quadkey(ST_Transform(ST_Transform(geom, 3857), 4326), 18) <> quadkey(lat, lon, 18))
	   AS web_mercator_round_trip_differs
FROM pts WHERE abs(lat) < 85;

-- NULLs in, NULL out
SELECT quadkey(NULL::geometry, 5) IS NULL AS a, quadkey('SRID=4326;POINT(1 2)'::geometry, NULL) IS NULL AS b,
	   quadkey(NULL::geography, 5) IS NULL AS c, quadkey_geom(NULL) IS NULL AS d,
	   NULL::quadkey::geometry IS NULL AS e;

-- bad input
SELECT quadkey('POINT(-122.3321 47.6062)'::geometry, 12);
SELECT quadkey('SRID=4326;POINT EMPTY'::geometry, 12);
SELECT quadkey('SRID=4326;GEOMETRYCOLLECTION EMPTY'::geometry, 12);
SELECT quadkey('SRID=4326;POINT(47.6062 -122.3321)'::geometry, 12);
SELECT quadkey('SRID=4326;POINT(200 10)'::geometry, 12);
SELECT quadkey('SRID=4326;LINESTRING(-122 47, -122 95)'::geometry, 12);
SELECT quadkey(ST_SetSRID(ST_MakePoint('NaN', 10), 4326), 12);
SELECT quadkey('SRID=4326;POINT(1 2)'::geometry, 30);
SELECT quadkey('SRID=4326;LINESTRING(1 2, 3 4)'::geometry, -1);
SELECT quadkey('SRID=3857;POINT(-13617000 6040000)'::geometry, 12);
SELECT quadkey('SRID=4269;POINT(-122.3321 47.6062)'::geography, 12);
SELECT quadkey('LINESTRING(1 2, 3 4)'::geography, 12);
SELECT quadkey('POINT EMPTY'::geography, 12);
SELECT quadkey('SRID=4326;POINT(1 2)'::geography, 30);
SELECT 'SRID=4326;POINT(1 2)'::geometry::quadkey;
SELECT '0123'::quadkey::geography;
SELECT q, pg_temp.sqlstate_of(q) FROM (VALUES
	($$SELECT quadkey('POINT(1 2)'::geometry, 12)$$),
	($$SELECT quadkey('SRID=4326;POINT EMPTY'::geometry, 12)$$),
	($$SELECT quadkey('SRID=3857;POINT(1 2)'::geometry, 12)$$),
	($$SELECT quadkey('SRID=4326;POINT(47 -122)'::geometry, 12)$$),
	($$SELECT quadkey(ST_SetSRID(ST_MakePoint('Infinity', 10), 4326), 12)$$),
	($$SELECT quadkey('SRID=4326;POINT(1 2)'::geometry, 30)$$),
	($$SELECT quadkey('LINESTRING(1 2, 3 4)'::geography, 12)$$),
	($$SELECT quadkey('POINT EMPTY'::geography, 12)$$)) v(q);

-- points in SRID 4326 take an inlined fast path: no SQL function call per
-- row; other geometries call the helper once per row (one transaction: the
-- backend's pending counts are flushed, and so emptied, only between them)
BEGIN;
SET LOCAL track_functions = 'all';
SELECT count(quadkey(geom, 12)) FROM pts;
SELECT count(quadkey(geom, 12)) FROM shapes;
SELECT f.f AS function, coalesce(s.calls, 0) AS calls
FROM (VALUES ('quadkey(geometry,int4)'::regprocedure),
			 ('geoshard_postgis_geometry(geometry,int4)'::regprocedure)) f(f)
LEFT JOIN pg_stat_xact_user_functions s ON s.funcid = f.f
ORDER BY 1::text;
COMMIT;

-- immutable, so it can be indexed; the index answers tile queries
CREATE INDEX pts_tile ON pts (quadkey(geom, 29));
SET enable_seqscan = off;
CREATE FUNCTION pg_temp.plan_uses(query text, index text) RETURNS bool
	LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		IF line LIKE '%Index Scan on ' || index || '%' THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END
$$;
SELECT pg_temp.plan_uses($$SELECT id FROM pts WHERE quadkey(geom, 29) <@ '0212'$$, 'pts_tile');
SELECT count(*) = (SELECT count(*) FROM pts WHERE quadkey(lat, lon, 29) <@ '0212') AS same_rows
FROM pts WHERE quadkey(geom, 29) <@ '0212';
RESET enable_seqscan;

-- bodies were bound at creation: a hostile search_path changes nothing
CREATE SCHEMA evil;
CREATE FUNCTION evil.quadkey(float8, float8, int4) RETURNS quadkey
	LANGUAGE SQL AS $$SELECT ''::quadkey$$;
CREATE FUNCTION evil.st_xmin(geometry) RETURNS float8
	LANGUAGE SQL AS $$SELECT 0::float8$$;
CREATE FUNCTION evil.quadkey_bbox(quadkey, OUT min_lat float8, OUT min_lon float8,
								  OUT max_lat float8, OUT max_lon float8)
	LANGUAGE SQL AS $$SELECT 0::float8, 0::float8, 1::float8, 1::float8$$;
SET search_path = evil, public;
SELECT quadkey(ST_SetSRID(ST_MakePoint(-122.3321, 47.6062), 4326), 12) AS qk,
	   quadkey('SRID=4326;LINESTRING(-122.36 47.59, -122.30 47.63)'::geometry, 20) AS line,
	   ST_AsText(quadkey_geom('3')) AS tile;
SET search_path = pg_catalog;
SELECT public.quadkey(public.st_setsrid(public.st_makepoint(-122.3321, 47.6062), 4326), 12) AS qk,
	   public.st_astext(public.quadkey_geom('3')) AS tile;
RESET search_path;
DROP SCHEMA evil CASCADE;

-- geoshard, postgis and the companion each in a schema of their own
CREATE DATABASE regress_postgis_schemas;
\c regress_postgis_schemas
SET extra_float_digits = 0;
\set SHOW_CONTEXT never
CREATE SCHEMA gis;
CREATE SCHEMA gs;
CREATE SCHEMA gp;
CREATE EXTENSION postgis SCHEMA gis;
CREATE EXTENSION geoshard SCHEMA gs;
CREATE EXTENSION geoshard_postgis SCHEMA gp;
SET search_path = pg_catalog;
SELECT gp.quadkey(gis.st_setsrid(gis.st_makepoint(-122.3321, 47.6062), 4326), 12)::text AS geometry,
	   gp.quadkey(gis.st_setsrid(gis.st_makepoint(-122.3321, 47.6062), 4326)::gis.geography, 12)::text AS geography,
	   gis.st_astext(gp.quadkey_geom('3')) AS tile,
	   gis.st_astext('3'::gs.quadkey::gis.geometry) AS cast;
SELECT gp.quadkey('LINESTRING(1 2, 3 4)'::gis.geography, 12);
-- the companion moves with its functions intact
ALTER EXTENSION geoshard_postgis SET SCHEMA public;
SELECT public.quadkey(gis.st_setsrid(gis.st_makepoint(-122.3321, 47.6062), 4326), 12)::text AS geometry,
	   gis.st_astext(public.quadkey_geom('3')) AS tile;
SELECT public.quadkey('SRID=4326;POINT EMPTY'::gis.geometry, 12);
-- dropping geoshard or postgis takes the companion with it
DROP EXTENSION geoshard;
DROP EXTENSION geoshard CASCADE;
SELECT count(*) FROM pg_extension WHERE extname = 'geoshard_postgis';
\c contrib_regression
DROP DATABASE regress_postgis_schemas;

DROP TABLE pts, edges, shapes;
DROP EXTENSION geoshard_postgis;
DROP EXTENSION postgis;
