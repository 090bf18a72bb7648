/* geoshard upgrade script: 0.1 to 0.2 (ALTER EXTENSION geoshard UPDATE TO '0.2') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION geoshard UPDATE TO '0.2'" to load this file. \quit

-- Every change to the objects since 0.1, area by area, in the order of the
-- install script.  A fresh 0.2 install and an upgraded 0.1 install must end up
-- with the same objects: test/t/008_release_upgrade.pl compares them.

-- ===== common =====

COMMENT ON EXTENSION geoshard IS
	'geo-distributed backend for location-based apps: quadkey tiles, radius and nearest-neighbour search, shard map, CRDTs with hybrid logical clocks, GeoIP region routing';

-- ===== geo =====

-- casts to and from the packed 64-bit value (path in bits 63..6, level in bits 5..0)
CREATE FUNCTION quadkey_to_bigint(quadkey) RETURNS int8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION quadkey_from_bigint(int8) RETURNS quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (quadkey AS int8) WITH FUNCTION quadkey_to_bigint(quadkey);
CREATE CAST (int8 AS quadkey) WITH FUNCTION quadkey_from_bigint(int8);

-- min and max, in the order of <; the btree index answers them (SORTOP)
CREATE FUNCTION quadkey_smaller(quadkey, quadkey) RETURNS quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_larger(quadkey, quadkey) RETURNS quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE AGGREGATE min(quadkey) (
	SFUNC = quadkey_smaller, STYPE = quadkey, COMBINEFUNC = quadkey_smaller,
	SORTOP = <, PARALLEL = SAFE
);
CREATE AGGREGATE max(quadkey) (
	SFUNC = quadkey_larger, STYPE = quadkey, COMBINEFUNC = quadkey_larger,
	SORTOP = >, PARALLEL = SAFE
);

-- a COMMENT on every function, type, operator and aggregate
COMMENT ON FUNCTION quadkey_in(cstring) IS
	'quadkey input: the digits 0 to 3, coarsest first ('''' is the level-0 world tile)';
COMMENT ON FUNCTION quadkey_out(quadkey) IS
	'quadkey output: the digits 0 to 3, coarsest first';
COMMENT ON FUNCTION quadkey_recv(internal) IS
	'quadkey binary input: the packed 64-bit value, big-endian, checked for level and stray bits';
COMMENT ON FUNCTION quadkey_send(quadkey) IS
	'quadkey binary output: the packed 64-bit value, big-endian';
COMMENT ON FUNCTION quadkey_to_bigint(quadkey) IS
	'the packed 64-bit value as a signed bigint (negative when the first digit is 2 or 3)';
COMMENT ON FUNCTION quadkey_from_bigint(int8) IS
	'the quadkey packed in a bigint; refuses a level above 29 and bits set beyond the level';
COMMENT ON CAST (quadkey AS int8) IS 'the packed 64-bit value (explicit)';
COMMENT ON CAST (int8 AS quadkey) IS 'unpack a 64-bit value, checked like binary input (explicit)';
COMMENT ON FUNCTION quadkey_level(quadkey) IS 'the level of a quadkey, 0 to 29';
COMMENT ON FUNCTION quadkey_parent(quadkey) IS
	'the tile one level up; NULL for the level-0 world tile';
COMMENT ON FUNCTION quadkey_parent(quadkey, int4) IS
	'the ancestor at a level (the key itself at its own level)';
COMMENT ON FUNCTION quadkey_children(quadkey) IS 'the four tiles one level down, in order';
COMMENT ON FUNCTION quadkey_neighbors(quadkey) IS
	'the up to 8 tiles around a key at its level, wrapping east-west, sorted';
COMMENT ON FUNCTION quadkey_tile(quadkey) IS 'slippy-map tile coordinates: column x, row y (from the north), level z';
COMMENT ON FUNCTION quadkey_from_tile(int4, int4, int4) IS 'the quadkey of slippy-map tile x, y at level z';
COMMENT ON FUNCTION quadkey_bbox(quadkey) IS 'the tile''s edges in degrees, as drawn on the Mercator map';
COMMENT ON FUNCTION quadkey_center(quadkey) IS 'the tile''s centre in Web Mercator, in degrees';
COMMENT ON FUNCTION quadkey_eq(quadkey, quadkey) IS 'implementation of = (quadkey, quadkey)';
COMMENT ON FUNCTION quadkey_ne(quadkey, quadkey) IS 'implementation of <> (quadkey, quadkey)';
COMMENT ON FUNCTION quadkey_lt(quadkey, quadkey) IS 'implementation of < (quadkey, quadkey)';
COMMENT ON FUNCTION quadkey_le(quadkey, quadkey) IS 'implementation of <= (quadkey, quadkey)';
COMMENT ON FUNCTION quadkey_gt(quadkey, quadkey) IS 'implementation of > (quadkey, quadkey)';
COMMENT ON FUNCTION quadkey_ge(quadkey, quadkey) IS 'implementation of >= (quadkey, quadkey)';
COMMENT ON FUNCTION quadkey_cmp(quadkey, quadkey) IS 'btree comparison: -1, 0 or 1 in pre-order';
COMMENT ON FUNCTION quadkey_sortsupport(internal) IS 'btree sort support (unsigned comparison)';
COMMENT ON FUNCTION quadkey_hash(quadkey) IS 'hash support: 32-bit hash of a quadkey';
COMMENT ON FUNCTION quadkey_hash_extended(quadkey, int8) IS 'hash support: seeded 64-bit hash of a quadkey';
COMMENT ON OPERATOR = (quadkey, quadkey) IS 'equal';
COMMENT ON OPERATOR <> (quadkey, quadkey) IS 'not equal';
COMMENT ON OPERATOR < (quadkey, quadkey) IS 'less than, in pre-order (a tile sorts before its descendants)';
COMMENT ON OPERATOR <= (quadkey, quadkey) IS 'less than or equal, in pre-order';
COMMENT ON OPERATOR > (quadkey, quadkey) IS 'greater than, in pre-order';
COMMENT ON OPERATOR >= (quadkey, quadkey) IS 'greater than or equal, in pre-order';
COMMENT ON FUNCTION quadkey_smaller(quadkey, quadkey) IS 'the lesser of two quadkeys';
COMMENT ON FUNCTION quadkey_larger(quadkey, quadkey) IS 'the greater of two quadkeys';
COMMENT ON AGGREGATE min(quadkey) IS 'the least quadkey, in pre-order';
COMMENT ON AGGREGATE max(quadkey) IS 'the greatest quadkey, in pre-order';
COMMENT ON FUNCTION quadkey_contains_support(internal) IS
	'planner support for @>: a btree range for a constant prefix';
COMMENT ON FUNCTION quadkey_contained_support(internal) IS
	'planner support for <@: a btree range for a constant prefix';
COMMENT ON FUNCTION quadkey_contains(quadkey, quadkey) IS 'implementation of @> (quadkey, quadkey)';
COMMENT ON FUNCTION quadkey_contained(quadkey, quadkey) IS 'implementation of <@ (quadkey, quadkey)';
COMMENT ON FUNCTION quadkey_overlaps(quadkey, quadkey) IS 'implementation of && (quadkey, quadkey)';
COMMENT ON OPERATOR @> (quadkey, quadkey) IS 'contains: the right tile is the left one or lies inside it';
COMMENT ON OPERATOR <@ (quadkey, quadkey) IS 'is contained by: the left tile is the right one or lies inside it';
COMMENT ON OPERATOR && (quadkey, quadkey) IS 'overlaps: one tile contains the other';
COMMENT ON FUNCTION quadkey_dwithin_circle(quadkey, circle) IS 'implementation of && (quadkey, circle)';
COMMENT ON FUNCTION quadkey_dwithin_sel(internal, oid, internal, int4) IS
	'restriction selectivity of && (quadkey, circle), from the column''s histogram';
COMMENT ON FUNCTION quadkey_dwithin_support(internal) IS
	'planner support for quadkey_dwithin: a GiST index condition and a selectivity estimate';
COMMENT ON FUNCTION quadkey_distance(quadkey, point) IS 'implementation of <-> (quadkey, point)';
COMMENT ON FUNCTION quadkey_gistkey_in(cstring) IS 'quadkey_gistkey input: always refused (index storage only)';
COMMENT ON FUNCTION quadkey_gistkey_out(quadkey_gistkey) IS 'quadkey_gistkey output: (xmin,ymin),(xmax,ymax) in level-29 tiles';
COMMENT ON FUNCTION quadkey_gist_consistent(internal, quadkey, int2, oid, internal) IS 'GiST support: consistent';
COMMENT ON FUNCTION quadkey_gist_distance(internal, point, int2, oid, internal) IS 'GiST support: distance to point(lon, lat), metres';
COMMENT ON FUNCTION quadkey_gist_union(internal, internal) IS 'GiST support: union';
COMMENT ON FUNCTION quadkey_gist_compress(internal) IS 'GiST support: compress a quadkey to its box of tiles';
COMMENT ON FUNCTION quadkey_gist_fetch(internal) IS 'GiST support: fetch the quadkey back (index-only scans)';
COMMENT ON FUNCTION quadkey_gist_penalty(internal, internal, internal) IS 'GiST support: penalty';
COMMENT ON FUNCTION quadkey_gist_picksplit(internal, internal) IS 'GiST support: picksplit';
COMMENT ON FUNCTION quadkey_gist_same(quadkey_gistkey, quadkey_gistkey, internal) IS 'GiST support: same';
COMMENT ON FUNCTION quadkey_gist_sortsupport(internal) IS 'GiST support: sorted build along the Hilbert curve';
-- shard map caches
-- The cache trigger fires in every session_replication_role, with a
-- row-level twin for logical replication's apply worker.
ALTER TABLE geoshard.shards ENABLE ALWAYS TRIGGER shards_changed;
CREATE TRIGGER shards_changed_row
	AFTER INSERT OR UPDATE OR DELETE ON geoshard.shards
	FOR EACH ROW EXECUTE FUNCTION geoshard.shards_changed();
ALTER TABLE geoshard.shards ENABLE REPLICA TRIGGER shards_changed_row;
COMMENT ON FUNCTION geoshard.shards_changed() IS
	'trigger on geoshard.shards: makes every backend reload its shard map';

-- ===== crdt =====

-- ===== routing =====

-- Cache triggers fire in every session_replication_role, with row-level
-- twins for logical replication's apply worker.
ALTER TABLE geoshard.regions ENABLE ALWAYS TRIGGER regions_changed;
ALTER TABLE geoshard.geo_fences ENABLE ALWAYS TRIGGER geo_fences_changed;
CREATE TRIGGER regions_changed_row
	AFTER INSERT OR UPDATE OR DELETE ON geoshard.regions
	FOR EACH ROW EXECUTE FUNCTION geoshard.routing_changed();
CREATE TRIGGER geo_fences_changed_row
	AFTER INSERT OR UPDATE OR DELETE ON geoshard.geo_fences
	FOR EACH ROW EXECUTE FUNCTION geoshard.routing_changed();
ALTER TABLE geoshard.regions ENABLE REPLICA TRIGGER regions_changed_row;
ALTER TABLE geoshard.geo_fences ENABLE REPLICA TRIGGER geo_fences_changed_row;
COMMENT ON FUNCTION geoshard.routing_changed() IS
	'trigger on geoshard.regions and geo_fences: validates a change and makes every backend reload the routing table';

-- A latitude that would be a valid longitude gets a hint on argument order.
CREATE OR REPLACE FUNCTION geoshard.check_region_location(lat float8, lon float8) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF lat IS NOT NULL AND lat BETWEEN -180 AND 180 AND NOT (lat BETWEEN -90 AND 90) THEN
		RAISE EXCEPTION 'latitude % is out of range', lat
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = 'Latitude must be between -90 and 90 degrees.',
				  HINT = format('Arguments are (lat, lon), latitude first; %s looks like a longitude.', lat);
	END IF;
	IF lat IS NOT NULL AND NOT (lat BETWEEN -90 AND 90) THEN
		RAISE EXCEPTION 'latitude % is out of range', lat
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = 'Latitude must be between -90 and 90 degrees.';
	END IF;
	IF lon IS NOT NULL AND NOT (lon BETWEEN -180 AND 180) THEN
		RAISE EXCEPTION 'longitude % is out of range', lon
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = 'Longitude must be between -180 and 180 degrees.';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.check_region_location(float8, float8) IS
	'raise an error naming a latitude or longitude out of range (used by add_region and update_region)';
COMMENT ON FUNCTION geoshard.raise_unknown_region(text) IS
	'raise the error for a region id that is not in geoshard.regions';
