/* geoshard_postgis install script: quadkeys from PostGIS geometries and geographies, tiles as polygons */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION geoshard_postgis" to load this file. \quit

-- Every SQL function body is SQL-standard (BEGIN ATOMIC): it is parsed here,
-- while CREATE EXTENSION's search_path holds this extension's schema and those
-- of geoshard and postgis, and it refers to every function, type and cast by
-- OID from then on.  So the functions work in any schema layout, whatever the
-- caller's search_path, and survive ALTER EXTENSION geoshard_postgis SET
-- SCHEMA.  (PostgreSQL 15 has no @extschema:geoshard@; this needs none.)
--
-- Speed.  quadkey(geometry, int), quadkey(geography, int) and quadkey_geom
-- are single expressions, neither STRICT (where that would need a CASE) nor
-- calling anything mutable, so the planner inlines them into the calling
-- query: a point in SRID 4326 costs a few PostGIS accessors plus geoshard's C
-- quadkey(lat, lon, level).  Other geometries go through
-- geoshard_postgis_geometry, an ordinary SQL function call.  When an argument
-- is itself expensive (say quadkey(ST_Centroid(geom), 20)) the planner calls
-- quadkey(geometry, int) instead of inlining it; that works, only slower.

-- Errors.  SQL functions cannot raise, so this one small PL/pgSQL function
-- does; it looks up no names, so no search_path can change it.  It is
-- IMMUTABLE so that the functions calling it stay inlinable; every call passes
-- a message built from the input, so the planner never folds a call of a
-- branch that is not taken.  COST 1: it never returns, so it should not make
-- the planner think the functions that may call it are expensive.
CREATE FUNCTION geoshard_postgis_error(sqlstate text, message text, detail text, hint text)
	RETURNS quadkey
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 1
AS $$
BEGIN
	IF hint IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message, DETAIL = detail;
	END IF;
	RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message, DETAIL = detail, HINT = hint;
END
$$;
COMMENT ON FUNCTION geoshard_postgis_error(text, text, text, text) IS
	'raises the errors of quadkey(geometry, int) and quadkey(geography, int); internal';

-- The error for a box with coordinates that are not finite or out of range.
-- Building the messages here keeps the SQL expressions below small (PostgreSQL
-- 15 sets a SQL function's expression up again on every call).  It names only
-- pg_catalog functions, schema-qualified.
CREATE FUNCTION geoshard_postgis_box_error(kind text, xmin float8, ymin float8, xmax float8, ymax float8)
	RETURNS quadkey
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 1
AS $$
DECLARE
	coords text;
BEGIN
	IF kind = 'Point' THEN
		coords := pg_catalog.format('The point has x (longitude) %s and y (latitude) %s', xmin, ymin);
	ELSE
		coords := pg_catalog.format('The %s has x (longitude) from %s to %s and y (latitude) from %s to %s',
									kind, xmin, xmax, ymin, ymax);
	END IF;
	IF 'NaN' IN (xmin, xmax, ymin, ymax) OR 'Infinity' IN (xmin, xmax, ymin, ymax)
	   OR '-Infinity' IN (xmin, xmax, ymin, ymax) THEN
		RAISE EXCEPTION USING ERRCODE = '22000', MESSAGE = 'coordinates must be finite numbers',
			DETAIL = coords || '.';
	END IF;
	coords := coords || '; longitude must be between -180 and 180 degrees, latitude between -90 and 90.';
	IF xmin >= -90 AND xmax <= 90 AND ymin >= -180 AND ymax <= 180 THEN
		RAISE EXCEPTION USING ERRCODE = '22003',
			MESSAGE = pg_catalog.format('latitude %s is out of range', CASE WHEN ymin < -90 THEN ymin ELSE ymax END),
			DETAIL = coords,
			HINT = 'The coordinates may be swapped: x holds the longitude and y the latitude, as in ST_MakePoint(lon, lat).';
	END IF;
	RAISE EXCEPTION USING ERRCODE = '22003',
		MESSAGE = CASE
			WHEN xmin < -180 THEN pg_catalog.format('longitude %s is out of range', xmin)
			WHEN xmax > 180 THEN pg_catalog.format('longitude %s is out of range', xmax)
			WHEN ymin < -90 THEN pg_catalog.format('latitude %s is out of range', ymin)
			ELSE pg_catalog.format('latitude %s is out of range', ymax)
		END,
		DETAIL = coords;
END
$$;
COMMENT ON FUNCTION geoshard_postgis_box_error(text, float8, float8, float8, float8) IS
	'raises the error for a geometry whose coordinates are not finite or out of range; internal';

-- The smallest tile at or above a level that contains a geometry in SRID
-- 4326: the deepest common ancestor of the level-`level` tiles of its box's
-- north-west and south-east corners.  The corner tiles' x and y first differ
-- in the highest bit of (x1 xor x2) | (y1 xor y2); that many levels up they
-- meet.  STRICT with a CASE, so never inlined: its PostGIS calls are
-- estimated at 50 each, and inlining them into quadkey(geometry, int) would
-- make every query over points look expensive enough to be JIT-compiled.
CREATE FUNCTION geoshard_postgis_geometry(geom geometry, level int4) RETURNS quadkey
	LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
	SELECT CASE
		WHEN ST_IsEmpty(geom) THEN
			geoshard_postgis_error('22023',
				'cannot compute the quadkey of an empty geometry',
				'An empty ' || substr(ST_GeometryType(geom), 4) || ' has no location.',
				'Leave empty geometries out, e.g. with WHERE NOT ST_IsEmpty(geom).')
		WHEN NOT (ST_XMin(geom) BETWEEN -180 AND 180 AND ST_XMax(geom) BETWEEN -180 AND 180
				  AND ST_YMin(geom) BETWEEN -90 AND 90 AND ST_YMax(geom) BETWEEN -90 AND 90) THEN
			geoshard_postgis_box_error(substr(ST_GeometryType(geom), 4),
				ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom))
		ELSE
			quadkey_parent(quadkey(ST_YMax(geom), ST_XMin(geom), level), level - length(ltrim(
				(((quadkey_tile(quadkey(ST_YMax(geom), ST_XMin(geom), level))).x
				  # (quadkey_tile(quadkey(ST_YMin(geom), ST_XMax(geom), level))).x)
				 | ((quadkey_tile(quadkey(ST_YMax(geom), ST_XMin(geom), level))).y
				  # (quadkey_tile(quadkey(ST_YMin(geom), ST_XMax(geom), level))).y))::bit(32)::text, '0')))
	END;
END;
COMMENT ON FUNCTION geoshard_postgis_geometry(geometry, int4) IS
	'the smallest tile at or above a level containing a geometry in SRID 4326, after checking it; internal';

-- quadkey(geometry, level)
--
-- A point gets the tile that contains it at the level, exactly as
-- quadkey(lat, lon, level) does.  Any other geometry gets the smallest tile at
-- or above the level that contains its whole bounding box: the deepest common
-- ancestor of the level-`level` tiles of the box's north-west and south-east
-- corners.  Tile edges are lines of constant longitude and latitude, so in
-- SRID 4326 a tile that contains the box contains the geometry.  Latitudes
-- beyond the Mercator limit (+-85.05112878) fall in the polar row of tiles, as
-- quadkey(lat, lon, level) clamps them.
--
-- Only SRID 4326 is accepted.  Other SRIDs are refused with a hint to call
-- ST_Transform(geom, 4326) first: inside this function the transformation
-- would either be planned as a 10000-cost call for every row (PostGIS's
-- estimate, enough to switch JIT on for any sizeable query, even when every
-- row is in 4326) or, in a helper, lose PostGIS's per-query PROJ cache and
-- cost some 0.4 ms a row.  Empty geometries are refused, and so are
-- coordinates outside longitude [-180, 180] and latitude [-90, 90].
-- NULL in, NULL out (the function is not declared STRICT only because that
-- would stop the planner from inlining it: a CASE is not strict).
CREATE FUNCTION quadkey(geom geometry, level int4) RETURNS quadkey
	LANGUAGE SQL IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT CASE
		WHEN ST_SRID(geom) = 4326 AND GeometryType(geom) = 'POINT'
			 AND ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90 THEN
			quadkey(ST_Y(geom), ST_X(geom), level)
		WHEN ST_SRID(geom) <> 4326 THEN
			geoshard_postgis_error('22023',
				CASE
					WHEN ST_SRID(geom) = 0 THEN 'cannot compute the quadkey of a geometry without an SRID'
					ELSE 'cannot compute the quadkey of a geometry in SRID ' || ST_SRID(geom)::text
				END,
				'Quadkeys are computed from longitude and latitude in degrees, SRID 4326.',
				CASE
					WHEN ST_SRID(geom) = 0 THEN
						'If the coordinates are longitude and latitude, set the SRID: ST_SetSRID(geom, 4326).'
					ELSE 'Transform the geometry first: quadkey(ST_Transform(geom, 4326), level).'
				END)
		ELSE geoshard_postgis_geometry(geom, level)
	END;
END;
COMMENT ON FUNCTION quadkey(geometry, int4) IS
	'the tile containing a point (SRID 4326) at a level, or the smallest tile at or above the level containing a geometry''s box';

-- quadkey(geography, level): points only.  The edges of a geography line or
-- polygon are great-circle arcs, which can bulge beyond the box of their
-- vertices (towards a pole), so no tile computed from that box is sure to
-- contain them.  A geography point takes the geometry path above (so other
-- SRIDs than 4326 are refused the same way).
CREATE FUNCTION quadkey(geog geography, level int4) RETURNS quadkey
	LANGUAGE SQL IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT CASE
		WHEN GeometryType(geog) <> 'POINT' THEN
			geoshard_postgis_error('22023',
				'cannot compute the quadkey of a geography ' || substr(ST_GeometryType(geog::geometry), 4),
				'Only a geography point has a quadkey: the edges of other geographies are great-circle arcs, which can leave the box of their vertices.',
				'Cast it to geometry to get the smallest tile that contains the box of its vertices.')
		WHEN ST_IsEmpty(geog::geometry) THEN
			geoshard_postgis_error('22023',
				'cannot compute the quadkey of an empty geography',
				'An empty ' || substr(ST_GeometryType(geog::geometry), 4) || ' has no location.',
				'Leave empty geographies out, e.g. with WHERE NOT ST_IsEmpty(geog::geometry).')
		ELSE quadkey(geog::geometry, level)
	END;
END;
COMMENT ON FUNCTION quadkey(geography, int4) IS
	'the tile containing a geography point (SRID 4326) at a level';

-- quadkey_geom(quadkey): the tile as a polygon whose bounds are exactly
-- quadkey_bbox's (west, south, east, north), in SRID 4326
CREATE FUNCTION quadkey_geom(qk quadkey) RETURNS geometry
	LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
	SELECT ST_MakeEnvelope((quadkey_bbox(qk)).min_lon, (quadkey_bbox(qk)).min_lat,
						   (quadkey_bbox(qk)).max_lon, (quadkey_bbox(qk)).max_lat, 4326);
END;
COMMENT ON FUNCTION quadkey_geom(quadkey) IS
	'the tile as a polygon in SRID 4326, with exactly the bounds quadkey_bbox gives';

-- Casts.  quadkey -> geometry is the tile; it is explicit, like PostGIS's own
-- casts that change what a value is.  There is no geometry -> quadkey or
-- geography -> quadkey cast, because a quadkey needs a level that a cast cannot
-- take, and no quadkey -> geography cast, because a geography polygon's edges
-- are great-circle arcs, not the tile's parallels of latitude.
CREATE CAST (quadkey AS geometry) WITH FUNCTION quadkey_geom(quadkey);
COMMENT ON CAST (quadkey AS geometry) IS 'the tile as a polygon in SRID 4326 (quadkey_geom)';
