/* geoshard install script, assembled by the Makefile from src/<area>/<area>.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION geoshard" to load this file. \quit

-- Catalogue tables and administrative functions live in schema geoshard, which
-- the extension creates and owns; types and query functions live in the
-- extension's own schema (default public).  Refuse clearly what cannot work,
-- before anything is created.
DO $$
BEGIN
	IF '@extschema@' = 'geoshard' THEN
		RAISE EXCEPTION 'geoshard cannot be installed into schema "geoshard"'
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Schema "geoshard" holds the extension''s catalogue and administrative functions.',
				  HINT = 'Install the types and query functions into another schema, for example CREATE EXTENSION geoshard SCHEMA geo.';
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'geoshard') THEN
		RAISE EXCEPTION 'schema "geoshard" already exists'
			USING ERRCODE = 'duplicate_schema',
				  DETAIL = 'CREATE EXTENSION geoshard creates schema "geoshard" for its catalogue and must own it.',
				  HINT = 'Rename or drop the existing schema "geoshard" first.';
	END IF;
END
$$;

CREATE SCHEMA geoshard;

CREATE FUNCTION geoshard.is_preloaded() RETURNS boolean
	AS 'MODULE_PATHNAME', 'geoshard_is_preloaded'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION geoshard.is_preloaded() IS
	'true when geoshard was loaded through shared_preload_libraries (shared memory and workers available)';
-- ---------------------------------------------------------------------------
-- geo: the quadkey type, distance and radius queries, the shard map
-- ---------------------------------------------------------------------------

CREATE TYPE quadkey;

CREATE FUNCTION quadkey_in(cstring) RETURNS quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_out(quadkey) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_recv(internal) RETURNS quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_send(quadkey) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE quadkey (
	INPUT = quadkey_in,
	OUTPUT = quadkey_out,
	RECEIVE = quadkey_recv,
	SEND = quadkey_send,
	INTERNALLENGTH = 8,
	PASSEDBYVALUE,
	ALIGNMENT = double,
	STORAGE = plain
);
COMMENT ON TYPE quadkey IS 'Bing tile-system quadkey (levels 0 to 29) packed in 64 bits';
COMMENT ON FUNCTION quadkey_in(cstring) IS
	'quadkey input: the digits 0 to 3, coarsest first ('''' is the level-0 world tile)';
COMMENT ON FUNCTION quadkey_out(quadkey) IS
	'quadkey output: the digits 0 to 3, coarsest first';
COMMENT ON FUNCTION quadkey_recv(internal) IS
	'quadkey binary input: the packed 64-bit value, big-endian, checked for level and stray bits';
COMMENT ON FUNCTION quadkey_send(quadkey) IS
	'quadkey binary output: the packed 64-bit value, big-endian';

-- casts to and from the packed 64-bit value (path in bits 63..6, level in bits 5..0)

CREATE FUNCTION quadkey_to_bigint(quadkey) RETURNS int8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION quadkey_to_bigint(quadkey) IS
	'the packed 64-bit value as a signed bigint (negative when the first digit is 2 or 3)';
CREATE FUNCTION quadkey_from_bigint(int8) RETURNS quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_from_bigint(int8) IS
	'the quadkey packed in a bigint; refuses a level above 29 and bits set beyond the level';
CREATE CAST (quadkey AS int8) WITH FUNCTION quadkey_to_bigint(quadkey);
COMMENT ON CAST (quadkey AS int8) IS 'the packed 64-bit value (explicit)';
CREATE CAST (int8 AS quadkey) WITH FUNCTION quadkey_from_bigint(int8);
COMMENT ON CAST (int8 AS quadkey) IS 'unpack a 64-bit value, checked like binary input (explicit)';

-- construction and navigation

CREATE FUNCTION quadkey(lat float8, lon float8, level int4) RETURNS quadkey
	AS 'MODULE_PATHNAME', 'quadkey_from_latlon' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey(float8, float8, int4) IS 'the tile containing a point at a level';

CREATE FUNCTION quadkey_level(quadkey) RETURNS int4
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_level(quadkey) IS 'the level of a quadkey, 0 to 29';

CREATE FUNCTION quadkey_parent(quadkey) RETURNS quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_parent(quadkey) IS
	'the tile one level up; NULL for the level-0 world tile';
CREATE FUNCTION quadkey_parent(quadkey, level int4) RETURNS quadkey
	AS 'MODULE_PATHNAME', 'quadkey_parent_at' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_parent(quadkey, int4) IS
	'the ancestor at a level (the key itself at its own level)';

CREATE FUNCTION quadkey_children(quadkey) RETURNS SETOF quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION quadkey_children(quadkey) IS 'the four tiles one level down, in order';
CREATE FUNCTION quadkey_neighbors(quadkey) RETURNS SETOF quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 8;
COMMENT ON FUNCTION quadkey_neighbors(quadkey) IS
	'the up to 8 tiles around a key at its level, wrapping east-west, sorted';

CREATE FUNCTION quadkey_tile(quadkey, OUT x int4, OUT y int4, OUT z int4)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_tile(quadkey) IS 'slippy-map tile coordinates: column x, row y (from the north), level z';
CREATE FUNCTION quadkey_from_tile(x int4, y int4, z int4) RETURNS quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_from_tile(int4, int4, int4) IS 'the quadkey of slippy-map tile x, y at level z';
CREATE FUNCTION quadkey_bbox(quadkey, OUT min_lat float8, OUT min_lon float8,
							 OUT max_lat float8, OUT max_lon float8)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_bbox(quadkey) IS 'the tile''s edges in degrees, as drawn on the Mercator map';
CREATE FUNCTION quadkey_center(quadkey, OUT lat float8, OUT lon float8)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_center(quadkey) IS 'the tile''s centre in Web Mercator, in degrees';

-- comparison: raw 64-bit order, which puts a tile's descendants right after it

CREATE FUNCTION quadkey_eq(quadkey, quadkey) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION quadkey_ne(quadkey, quadkey) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION quadkey_lt(quadkey, quadkey) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION quadkey_le(quadkey, quadkey) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION quadkey_gt(quadkey, quadkey) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION quadkey_ge(quadkey, quadkey) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION quadkey_cmp(quadkey, quadkey) RETURNS int4
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION quadkey_sortsupport(internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_hash(quadkey) RETURNS int4
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION quadkey_hash_extended(quadkey, int8) RETURNS int8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
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

CREATE OPERATOR = (
	LEFTARG = quadkey, RIGHTARG = quadkey, PROCEDURE = quadkey_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel,
	HASHES, MERGES
);
CREATE OPERATOR <> (
	LEFTARG = quadkey, RIGHTARG = quadkey, PROCEDURE = quadkey_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR < (
	LEFTARG = quadkey, RIGHTARG = quadkey, PROCEDURE = quadkey_lt,
	COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = quadkey, RIGHTARG = quadkey, PROCEDURE = quadkey_le,
	COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR > (
	LEFTARG = quadkey, RIGHTARG = quadkey, PROCEDURE = quadkey_gt,
	COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = quadkey, RIGHTARG = quadkey, PROCEDURE = quadkey_ge,
	COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR = (quadkey, quadkey) IS 'equal';
COMMENT ON OPERATOR <> (quadkey, quadkey) IS 'not equal';
COMMENT ON OPERATOR < (quadkey, quadkey) IS 'less than, in pre-order (a tile sorts before its descendants)';
COMMENT ON OPERATOR <= (quadkey, quadkey) IS 'less than or equal, in pre-order';
COMMENT ON OPERATOR > (quadkey, quadkey) IS 'greater than, in pre-order';
COMMENT ON OPERATOR >= (quadkey, quadkey) IS 'greater than or equal, in pre-order';

-- min and max, in the order of <; the btree index answers them (SORTOP)

CREATE FUNCTION quadkey_smaller(quadkey, quadkey) RETURNS quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_smaller(quadkey, quadkey) IS 'the lesser of two quadkeys';
CREATE FUNCTION quadkey_larger(quadkey, quadkey) RETURNS quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_larger(quadkey, quadkey) IS 'the greater of two quadkeys';
CREATE AGGREGATE min(quadkey) (
	SFUNC = quadkey_smaller, STYPE = quadkey, COMBINEFUNC = quadkey_smaller,
	SORTOP = <, PARALLEL = SAFE
);
COMMENT ON AGGREGATE min(quadkey) IS 'the least quadkey, in pre-order';
CREATE AGGREGATE max(quadkey) (
	SFUNC = quadkey_larger, STYPE = quadkey, COMBINEFUNC = quadkey_larger,
	SORTOP = >, PARALLEL = SAFE
);
COMMENT ON AGGREGATE max(quadkey) IS 'the greatest quadkey, in pre-order';

CREATE OPERATOR CLASS quadkey_ops
	DEFAULT FOR TYPE quadkey USING btree AS
		OPERATOR 1 <,
		OPERATOR 2 <=,
		OPERATOR 3 =,
		OPERATOR 4 >=,
		OPERATOR 5 >,
		FUNCTION 1 quadkey_cmp(quadkey, quadkey),
		FUNCTION 2 quadkey_sortsupport(internal);

CREATE OPERATOR CLASS quadkey_hash_ops
	DEFAULT FOR TYPE quadkey USING hash AS
		OPERATOR 1 =,
		FUNCTION 1 quadkey_hash(quadkey),
		FUNCTION 2 quadkey_hash_extended(quadkey, int8);

-- containment: a tile contains itself and its descendants

CREATE FUNCTION quadkey_contains_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_contained_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_contains(quadkey, quadkey) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF
	SUPPORT quadkey_contains_support;
CREATE FUNCTION quadkey_contained(quadkey, quadkey) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF
	SUPPORT quadkey_contained_support;
CREATE FUNCTION quadkey_overlaps(quadkey, quadkey) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR @> (
	LEFTARG = quadkey, RIGHTARG = quadkey, PROCEDURE = quadkey_contains,
	COMMUTATOR = <@, RESTRICT = contsel, JOIN = contjoinsel
);
CREATE OPERATOR <@ (
	LEFTARG = quadkey, RIGHTARG = quadkey, PROCEDURE = quadkey_contained,
	COMMUTATOR = @>, RESTRICT = contsel, JOIN = contjoinsel
);
CREATE OPERATOR && (
	LEFTARG = quadkey, RIGHTARG = quadkey, PROCEDURE = quadkey_overlaps,
	COMMUTATOR = &&, RESTRICT = areasel, JOIN = areajoinsel
);
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

-- distance and radius

CREATE FUNCTION haversine(lat1 float8, lon1 float8, lat2 float8, lon2 float8) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION haversine(float8, float8, float8, float8) IS
	'great-circle distance in metres on the mean-radius sphere PostGIS uses (6371008.7714 m)';

CREATE FUNCTION quadkey_cover(lat float8, lon float8, radius_m float8, level int4) RETURNS SETOF quadkey
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_cover(float8, float8, float8, int4) IS
	'the tiles at a level that together cover a circle (radius in metres)';

CREATE FUNCTION quadkey_dwithin_circle(quadkey, circle) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_dwithin_sel(internal, oid, internal, int4) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_dwithin_circle(quadkey, circle) IS 'implementation of && (quadkey, circle)';
COMMENT ON FUNCTION quadkey_dwithin_sel(internal, oid, internal, int4) IS
	'restriction selectivity of && (quadkey, circle), from the column''s histogram';
CREATE OPERATOR && (
	LEFTARG = quadkey, RIGHTARG = circle, PROCEDURE = quadkey_dwithin_circle,
	RESTRICT = quadkey_dwithin_sel, JOIN = contjoinsel
);
COMMENT ON OPERATOR && (quadkey, circle) IS
	'does the tile come within the circle''s radius (metres) of its centre point(lon, lat)?';

CREATE FUNCTION quadkey_dwithin_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_dwithin_support(internal) IS
	'planner support for quadkey_dwithin: a GiST index condition and a selectivity estimate';
CREATE FUNCTION quadkey_dwithin(qk quadkey, lat float8, lon float8, radius_m float8) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	SUPPORT quadkey_dwithin_support;
COMMENT ON FUNCTION quadkey_dwithin(quadkey, float8, float8, float8) IS
	'does the tile come within radius_m metres of (lat, lon)? Uses a GiST index on the quadkey';

CREATE FUNCTION quadkey_distance(quadkey, point) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_distance(quadkey, point) IS 'implementation of <-> (quadkey, point)';
CREATE OPERATOR <-> (
	LEFTARG = quadkey, RIGHTARG = point, PROCEDURE = quadkey_distance
);
COMMENT ON OPERATOR <-> (quadkey, point) IS
	'metres from point(lon, lat) to the nearest point of the tile';

-- GiST: an R-tree of tiles, for containment, radius and nearest-neighbour search

CREATE TYPE quadkey_gistkey;
CREATE FUNCTION quadkey_gistkey_in(cstring) RETURNS quadkey_gistkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_gistkey_out(quadkey_gistkey) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE quadkey_gistkey (
	INPUT = quadkey_gistkey_in,
	OUTPUT = quadkey_gistkey_out,
	INTERNALLENGTH = 16,
	ALIGNMENT = int4,
	STORAGE = plain
);
COMMENT ON TYPE quadkey_gistkey IS 'key stored in quadkey GiST indexes (a box of tiles)';
COMMENT ON FUNCTION quadkey_gistkey_in(cstring) IS 'quadkey_gistkey input: always refused (index storage only)';
COMMENT ON FUNCTION quadkey_gistkey_out(quadkey_gistkey) IS 'quadkey_gistkey output: (xmin,ymin),(xmax,ymax) in level-29 tiles';

CREATE FUNCTION quadkey_gist_consistent(internal, quadkey, int2, oid, internal) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_gist_distance(internal, point, int2, oid, internal) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_gist_union(internal, internal) RETURNS quadkey_gistkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_gist_compress(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_gist_fetch(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_gist_penalty(internal, internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_gist_picksplit(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_gist_same(quadkey_gistkey, quadkey_gistkey, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION quadkey_gist_sortsupport(internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quadkey_gist_consistent(internal, quadkey, int2, oid, internal) IS 'GiST support: consistent';
COMMENT ON FUNCTION quadkey_gist_distance(internal, point, int2, oid, internal) IS 'GiST support: distance to point(lon, lat), metres';
COMMENT ON FUNCTION quadkey_gist_union(internal, internal) IS 'GiST support: union';
COMMENT ON FUNCTION quadkey_gist_compress(internal) IS 'GiST support: compress a quadkey to its box of tiles';
COMMENT ON FUNCTION quadkey_gist_fetch(internal) IS 'GiST support: fetch the quadkey back (index-only scans)';
COMMENT ON FUNCTION quadkey_gist_penalty(internal, internal, internal) IS 'GiST support: penalty';
COMMENT ON FUNCTION quadkey_gist_picksplit(internal, internal) IS 'GiST support: picksplit';
COMMENT ON FUNCTION quadkey_gist_same(quadkey_gistkey, quadkey_gistkey, internal) IS 'GiST support: same';
COMMENT ON FUNCTION quadkey_gist_sortsupport(internal) IS 'GiST support: sorted build along the Hilbert curve';

-- strategy numbers: see quadkey_gist.c and dwithin.h
CREATE OPERATOR CLASS quadkey_gist_ops
	DEFAULT FOR TYPE quadkey USING gist AS
		OPERATOR 3 && (quadkey, quadkey),
		OPERATOR 7 @> (quadkey, quadkey),
		OPERATOR 8 <@ (quadkey, quadkey),
		OPERATOR 18 = (quadkey, quadkey),
		OPERATOR 20 && (quadkey, circle),
		OPERATOR 15 <-> (quadkey, point) FOR ORDER BY pg_catalog.float_ops,
		FUNCTION 1 quadkey_gist_consistent(internal, quadkey, int2, oid, internal),
		FUNCTION 2 quadkey_gist_union(internal, internal),
		FUNCTION 3 quadkey_gist_compress(internal),
		FUNCTION 5 quadkey_gist_penalty(internal, internal, internal),
		FUNCTION 6 quadkey_gist_picksplit(internal, internal),
		FUNCTION 7 quadkey_gist_same(quadkey_gistkey, quadkey_gistkey, internal),
		FUNCTION 8 quadkey_gist_distance(internal, point, int2, oid, internal),
		FUNCTION 9 quadkey_gist_fetch(internal),
		FUNCTION 11 quadkey_gist_sortsupport(internal),
		STORAGE quadkey_gistkey;

-- the shard map: quadkey prefix -> owning node

CREATE TABLE geoshard.shards (
	prefix quadkey PRIMARY KEY,
	node text NOT NULL CHECK (node <> ''),
	CONSTRAINT shards_no_overlap EXCLUDE USING gist (prefix WITH &&)
);
COMMENT ON TABLE geoshard.shards IS 'quadkey prefix -> owning node; prefixes never overlap';
SELECT pg_catalog.pg_extension_config_dump('geoshard.shards', '');

GRANT USAGE ON SCHEMA geoshard TO PUBLIC;
GRANT SELECT ON geoshard.shards TO PUBLIC;

CREATE FUNCTION geoshard.shards_changed() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE TRIGGER shards_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.shards
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.shards_changed();
-- Caches must follow every write, including those made with
-- session_replication_role = replica; logical replication's apply worker
-- fires no statement triggers but TRUNCATE's, hence the row-level twin.
ALTER TABLE geoshard.shards ENABLE ALWAYS TRIGGER shards_changed;
CREATE TRIGGER shards_changed_row
	AFTER INSERT OR UPDATE OR DELETE ON geoshard.shards
	FOR EACH ROW EXECUTE FUNCTION geoshard.shards_changed();
ALTER TABLE geoshard.shards ENABLE REPLICA TRIGGER shards_changed_row;
COMMENT ON FUNCTION geoshard.shards_changed() IS
	'trigger on geoshard.shards: makes every backend reload its shard map';

CREATE FUNCTION shard_for(quadkey) RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION shard_for(quadkey) IS 'the node owning a quadkey in geoshard.shards, or NULL';

-- Replace a prefix by its four children on the same node (a hotspot split).
-- SECURITY DEFINER so that EXECUTE alone lets a role split and merge
-- (the map is written as the extension owner; search_path is pinned).  On a
-- node in a raft group, these functions and add_shard / remove_shard propose
-- their call through the log (the IF on the BEGIN line, kept there so that
-- error line numbers stay as they were) and return once this node applied
-- it: the raft worker runs the same function, which then writes
-- (docs/raft.md).
CREATE FUNCTION geoshard.split_shard(prefix quadkey) RETURNS SETOF quadkey
	LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	owner text;
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('split_shard', ARRAY[$1::text]); RETURN QUERY SELECT @extschema@.quadkey_children($1); RETURN; END IF;
	LOCK TABLE geoshard.shards IN SHARE ROW EXCLUSIVE MODE;
	DELETE FROM geoshard.shards s WHERE s.prefix OPERATOR(@extschema@.=) split_shard.prefix
		RETURNING s.node INTO owner;
	IF owner IS NULL THEN
		RAISE EXCEPTION 'shard "%" does not exist', split_shard.prefix
			USING ERRCODE = 'undefined_object',
				  HINT = 'List shards with: SELECT * FROM geoshard.shards.';
	END IF;
	IF @extschema@.quadkey_level(split_shard.prefix) >= 29 THEN
		RAISE EXCEPTION 'cannot split shard "%" at the maximum level 29', split_shard.prefix
			USING ERRCODE = 'program_limit_exceeded';
	END IF;
	RETURN QUERY
		INSERT INTO geoshard.shards (prefix, node)
		SELECT c, owner FROM @extschema@.quadkey_children(split_shard.prefix) AS c
		RETURNING shards.prefix;
END
$$;
COMMENT ON FUNCTION geoshard.split_shard(quadkey) IS
	'replace a shard by its four children on the same node; returns the children';

-- Undo a split: the four children, all on one node, become their parent again.
CREATE FUNCTION geoshard.merge_shard(prefix quadkey) RETURNS quadkey
	LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	children int;
	owners text[];
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('merge_shard', ARRAY[$1::text]); RETURN $1; END IF;
	LOCK TABLE geoshard.shards IN SHARE ROW EXCLUSIVE MODE;
	IF @extschema@.quadkey_level(merge_shard.prefix) >= 29 THEN
		RAISE EXCEPTION 'shard "%" at the maximum level 29 has no children to merge', merge_shard.prefix
			USING ERRCODE = 'program_limit_exceeded';
	END IF;
	SELECT count(*), array_agg(DISTINCT s.node ORDER BY s.node) INTO children, owners
	FROM geoshard.shards s
	WHERE s.prefix OPERATOR(@extschema@.=) ANY (ARRAY(SELECT @extschema@.quadkey_children(merge_shard.prefix)));
	IF children <> 4 THEN
		RAISE EXCEPTION 'cannot merge shard "%"', merge_shard.prefix
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('Only %s of its 4 children are shards.', children),
				  HINT = 'Merge or create the children first.';
	END IF;
	IF cardinality(owners) <> 1 THEN
		RAISE EXCEPTION 'cannot merge shard "%"', merge_shard.prefix
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('Its children live on different nodes: %s.', array_to_string(owners, ', ')),
				  HINT = 'Move the children to one node first.';
	END IF;
	DELETE FROM geoshard.shards s
	WHERE s.prefix OPERATOR(@extschema@.<@) merge_shard.prefix;
	INSERT INTO geoshard.shards (prefix, node) VALUES (merge_shard.prefix, owners[1]);
	RETURN merge_shard.prefix;
END
$$;
COMMENT ON FUNCTION geoshard.merge_shard(quadkey) IS
	'replace four sibling shards on one node by their parent';

-- One shard more: a prefix that overlaps no other shard, on a node.
CREATE FUNCTION geoshard.add_shard(prefix quadkey, node text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	other @extschema@.quadkey;
BEGIN
	IF add_shard.prefix IS NULL OR add_shard.node IS NULL THEN
		RAISE EXCEPTION 'shard prefix and node must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF add_shard.node = '' THEN
		RAISE EXCEPTION 'shard "%" needs a node name', add_shard.prefix
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF geoshard.raft_proposing() THEN
		PERFORM geoshard.raft_propose_call('add_shard', ARRAY[add_shard.prefix::text, add_shard.node]);
		RETURN;
	END IF;
	LOCK TABLE geoshard.shards IN SHARE ROW EXCLUSIVE MODE;
	SELECT s.prefix INTO other FROM geoshard.shards s
	WHERE s.prefix OPERATOR(@extschema@.&&) add_shard.prefix
	ORDER BY s.prefix LIMIT 1;
	IF other OPERATOR(@extschema@.=) add_shard.prefix THEN
		RAISE EXCEPTION 'shard "%" already exists', add_shard.prefix
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Remove it first with geoshard.remove_shard().';
	END IF;
	IF other IS NOT NULL THEN
		RAISE EXCEPTION 'shard "%" overlaps shard "%"', add_shard.prefix, other
			USING ERRCODE = 'exclusion_violation',
				  DETAIL = 'Shard prefixes never overlap.',
				  HINT = 'Split, merge or remove the other shard first.';
	END IF;
	INSERT INTO geoshard.shards (prefix, node) VALUES (add_shard.prefix, add_shard.node);
END
$$;
COMMENT ON FUNCTION geoshard.add_shard(quadkey, text) IS
	'add a shard: a quadkey prefix overlapping no other, owned by node';

CREATE FUNCTION geoshard.remove_shard(prefix quadkey) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF remove_shard.prefix IS NULL THEN
		RAISE EXCEPTION 'shard prefix must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF geoshard.raft_proposing() THEN
		PERFORM geoshard.raft_propose_call('remove_shard', ARRAY[remove_shard.prefix::text]);
		RETURN;
	END IF;
	DELETE FROM geoshard.shards s WHERE s.prefix OPERATOR(@extschema@.=) remove_shard.prefix;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'shard "%" does not exist', remove_shard.prefix
			USING ERRCODE = 'undefined_object',
				  HINT = 'List shards with: SELECT * FROM geoshard.shards.';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.remove_shard(quadkey) IS
	'remove a shard from the shard map';

REVOKE ALL ON FUNCTION geoshard.split_shard(quadkey) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.add_shard(quadkey, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.remove_shard(quadkey) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.merge_shard(quadkey) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.shards_changed() FROM PUBLIC;
-- ---------------------------------------------------------------------------
-- crdt: hybrid logical clock, and CRDT types that merge inside SQL
-- ---------------------------------------------------------------------------

CREATE TYPE hlc;
CREATE FUNCTION hlc_in(cstring) RETURNS hlc
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hlc_out(hlc) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hlc_recv(internal) RETURNS hlc
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hlc_send(hlc) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE hlc (
	INPUT = hlc_in,
	OUTPUT = hlc_out,
	RECEIVE = hlc_recv,
	SEND = hlc_send,
	INTERNALLENGTH = 16,
	ALIGNMENT = double,
	STORAGE = plain
);
COMMENT ON TYPE hlc IS 'hybrid logical clock timestamp: wall-clock millisecond, logical counter, node id';

CREATE FUNCTION hlc_eq(hlc, hlc) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION hlc_ne(hlc, hlc) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION hlc_lt(hlc, hlc) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION hlc_le(hlc, hlc) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION hlc_gt(hlc, hlc) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION hlc_ge(hlc, hlc) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION hlc_cmp(hlc, hlc) RETURNS int4
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION hlc_hash(hlc) RETURNS int4
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION hlc_hash_extended(hlc, int8) RETURNS int8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR = (LEFTARG = hlc, RIGHTARG = hlc, PROCEDURE = hlc_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR <> (LEFTARG = hlc, RIGHTARG = hlc, PROCEDURE = hlc_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR < (LEFTARG = hlc, RIGHTARG = hlc, PROCEDURE = hlc_lt,
	COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR <= (LEFTARG = hlc, RIGHTARG = hlc, PROCEDURE = hlc_le,
	COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR > (LEFTARG = hlc, RIGHTARG = hlc, PROCEDURE = hlc_gt,
	COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR >= (LEFTARG = hlc, RIGHTARG = hlc, PROCEDURE = hlc_ge,
	COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE OPERATOR CLASS hlc_ops
	DEFAULT FOR TYPE hlc USING btree AS
		OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
		FUNCTION 1 hlc_cmp(hlc, hlc);
CREATE OPERATOR CLASS hlc_hash_ops
	DEFAULT FOR TYPE hlc USING hash AS
		OPERATOR 1 =,
		FUNCTION 1 hlc_hash(hlc),
		FUNCTION 2 hlc_hash_extended(hlc, int8);

CREATE FUNCTION hlc_now() RETURNS hlc
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION hlc_now() IS 'advance this node''s hybrid logical clock and return the new time';
CREATE FUNCTION hlc_update(remote hlc) RETURNS hlc
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION hlc_update(hlc) IS 'merge a received timestamp into this node''s clock; returns the new local time';
CREATE FUNCTION hlc(physical timestamptz, logical int4, node int4) RETURNS hlc
	AS 'MODULE_PATHNAME', 'hlc_make' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hlc_physical(hlc) RETURNS timestamptz
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hlc_logical(hlc) RETURNS int4
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hlc_node(hlc) RETURNS int4
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- g_counter and pn_counter

CREATE TYPE g_counter;
CREATE FUNCTION g_counter_in(cstring) RETURNS g_counter
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION g_counter_out(g_counter) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION g_counter_recv(internal) RETURNS g_counter
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION g_counter_send(g_counter) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE g_counter (
	INPUT = g_counter_in, OUTPUT = g_counter_out,
	RECEIVE = g_counter_recv, SEND = g_counter_send,
	INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE g_counter IS 'grow-only counter CRDT: one count per node';

CREATE TYPE pn_counter;
CREATE FUNCTION pn_counter_in(cstring) RETURNS pn_counter
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pn_counter_out(pn_counter) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pn_counter_recv(internal) RETURNS pn_counter
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pn_counter_send(pn_counter) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE pn_counter (
	INPUT = pn_counter_in, OUTPUT = pn_counter_out,
	RECEIVE = pn_counter_recv, SEND = pn_counter_send,
	INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE pn_counter IS 'counter CRDT with increments and decrements: two counts per node';

CREATE FUNCTION crdt_merge(g_counter, g_counter) RETURNS g_counter
	AS 'MODULE_PATHNAME', 'g_counter_merge' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge(pn_counter, pn_counter) RETURNS pn_counter
	AS 'MODULE_PATHNAME', 'pn_counter_merge' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_value(g_counter) RETURNS int8
	AS 'MODULE_PATHNAME', 'g_counter_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crdt_value(pn_counter) RETURNS int8
	AS 'MODULE_PATHNAME', 'pn_counter_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION g_counter_inc(c g_counter, n int8 DEFAULT 1) RETURNS g_counter
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION g_counter_inc(g_counter, int8) IS 'add n >= 0 to this node''s count (geoshard.node_id)';
CREATE FUNCTION pn_counter_add(c pn_counter, n int8) RETURNS pn_counter
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pn_counter_add(pn_counter, int8) IS 'add n (negative to subtract) to this node''s counts (geoshard.node_id)';

-- lww_register

CREATE TYPE lww_register;
CREATE FUNCTION lww_register_in(cstring) RETURNS lww_register
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lww_register_out(lww_register) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lww_register_recv(internal) RETURNS lww_register
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lww_register_send(lww_register) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE lww_register (
	INPUT = lww_register_in, OUTPUT = lww_register_out,
	RECEIVE = lww_register_recv, SEND = lww_register_send,
	INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE lww_register IS 'last-writer-wins register: a jsonb value stamped with an hlc';

CREATE FUNCTION crdt_merge(lww_register, lww_register) RETURNS lww_register
	AS 'MODULE_PATHNAME', 'lww_register_merge' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_value(lww_register) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'lww_register_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lww_register(value jsonb) RETURNS lww_register
	AS 'MODULE_PATHNAME', 'lww_register_make' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION lww_register(value jsonb, ts hlc) RETURNS lww_register
	AS 'MODULE_PATHNAME', 'lww_register_make' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lww_register_ts(lww_register) RETURNS hlc
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- or_set and lww_set

CREATE TYPE or_set;
CREATE FUNCTION or_set_in(cstring) RETURNS or_set
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION or_set_out(or_set) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION or_set_recv(internal) RETURNS or_set
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION or_set_send(or_set) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE or_set (
	INPUT = or_set_in, OUTPUT = or_set_out,
	RECEIVE = or_set_recv, SEND = or_set_send,
	INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE or_set IS 'add-wins observed-remove set of text (dots and a version vector, no tombstones)';

CREATE TYPE lww_set;
CREATE FUNCTION lww_set_in(cstring) RETURNS lww_set
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lww_set_out(lww_set) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lww_set_recv(internal) RETURNS lww_set
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lww_set_send(lww_set) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE lww_set (
	INPUT = lww_set_in, OUTPUT = lww_set_out,
	RECEIVE = lww_set_recv, SEND = lww_set_send,
	INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE lww_set IS 'last-writer-wins element set of text, add wins ties';

CREATE FUNCTION crdt_merge(or_set, or_set) RETURNS or_set
	AS 'MODULE_PATHNAME', 'or_set_merge' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge(lww_set, lww_set) RETURNS lww_set
	AS 'MODULE_PATHNAME', 'lww_set_merge' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_value(or_set) RETURNS text[]
	AS 'MODULE_PATHNAME', 'or_set_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crdt_value(lww_set) RETURNS text[]
	AS 'MODULE_PATHNAME', 'lww_set_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION or_set_add(s or_set, elem text) RETURNS or_set
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION or_set_remove(s or_set, elem text) RETURNS or_set
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lww_set_add(s lww_set, elem text) RETURNS lww_set
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION lww_set_add(s lww_set, elem text, ts hlc) RETURNS lww_set
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lww_set_remove(s lww_set, elem text) RETURNS lww_set
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION lww_set_remove(s lww_set, elem text, ts hlc) RETURNS lww_set
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- merge operators and aggregates, one per type

CREATE OPERATOR || (LEFTARG = g_counter, RIGHTARG = g_counter, PROCEDURE = crdt_merge, COMMUTATOR = ||);
CREATE OPERATOR || (LEFTARG = pn_counter, RIGHTARG = pn_counter, PROCEDURE = crdt_merge, COMMUTATOR = ||);
CREATE OPERATOR || (LEFTARG = lww_register, RIGHTARG = lww_register, PROCEDURE = crdt_merge, COMMUTATOR = ||);
CREATE OPERATOR || (LEFTARG = or_set, RIGHTARG = or_set, PROCEDURE = crdt_merge, COMMUTATOR = ||);
CREATE OPERATOR || (LEFTARG = lww_set, RIGHTARG = lww_set, PROCEDURE = crdt_merge, COMMUTATOR = ||);

-- crdt_merge_agg: crdt_merge is both functions; called by the executor it
-- accumulates states and merges them as a balanced tree, so a column of n
-- states costs about n log n (src/crdt/merge_agg.c)
CREATE AGGREGATE crdt_merge_agg(g_counter) (
	SFUNC = crdt_merge, STYPE = g_counter, COMBINEFUNC = crdt_merge, PARALLEL = SAFE);
CREATE AGGREGATE crdt_merge_agg(pn_counter) (
	SFUNC = crdt_merge, STYPE = pn_counter, COMBINEFUNC = crdt_merge, PARALLEL = SAFE);
CREATE AGGREGATE crdt_merge_agg(lww_register) (
	SFUNC = crdt_merge, STYPE = lww_register, COMBINEFUNC = crdt_merge, PARALLEL = SAFE);
CREATE AGGREGATE crdt_merge_agg(or_set) (
	SFUNC = crdt_merge, STYPE = or_set, COMBINEFUNC = crdt_merge, PARALLEL = SAFE);
CREATE AGGREGATE crdt_merge_agg(lww_set) (
	SFUNC = crdt_merge, STYPE = lww_set, COMBINEFUNC = crdt_merge, PARALLEL = SAFE);

-- equality and hashing of states: equal means the same state, byte for byte
-- (src/crdt/crdt_ops.c)

CREATE FUNCTION g_counter_eq(g_counter, g_counter) RETURNS bool
	AS 'MODULE_PATHNAME', 'crdt_state_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION g_counter_ne(g_counter, g_counter) RETURNS bool
	AS 'MODULE_PATHNAME', 'crdt_state_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION g_counter_hash(g_counter) RETURNS int4
	AS 'MODULE_PATHNAME', 'crdt_state_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION g_counter_hash_extended(g_counter, int8) RETURNS int8
	AS 'MODULE_PATHNAME', 'crdt_state_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OPERATOR = (LEFTARG = g_counter, RIGHTARG = g_counter, PROCEDURE = g_counter_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR <> (LEFTARG = g_counter, RIGHTARG = g_counter, PROCEDURE = g_counter_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR CLASS g_counter_hash_ops
	DEFAULT FOR TYPE g_counter USING hash AS
		OPERATOR 1 =,
		FUNCTION 1 g_counter_hash(g_counter),
		FUNCTION 2 g_counter_hash_extended(g_counter, int8);

CREATE FUNCTION pn_counter_eq(pn_counter, pn_counter) RETURNS bool
	AS 'MODULE_PATHNAME', 'crdt_state_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION pn_counter_ne(pn_counter, pn_counter) RETURNS bool
	AS 'MODULE_PATHNAME', 'crdt_state_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION pn_counter_hash(pn_counter) RETURNS int4
	AS 'MODULE_PATHNAME', 'crdt_state_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION pn_counter_hash_extended(pn_counter, int8) RETURNS int8
	AS 'MODULE_PATHNAME', 'crdt_state_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OPERATOR = (LEFTARG = pn_counter, RIGHTARG = pn_counter, PROCEDURE = pn_counter_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR <> (LEFTARG = pn_counter, RIGHTARG = pn_counter, PROCEDURE = pn_counter_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR CLASS pn_counter_hash_ops
	DEFAULT FOR TYPE pn_counter USING hash AS
		OPERATOR 1 =,
		FUNCTION 1 pn_counter_hash(pn_counter),
		FUNCTION 2 pn_counter_hash_extended(pn_counter, int8);

CREATE FUNCTION lww_register_eq(lww_register, lww_register) RETURNS bool
	AS 'MODULE_PATHNAME', 'crdt_state_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION lww_register_ne(lww_register, lww_register) RETURNS bool
	AS 'MODULE_PATHNAME', 'crdt_state_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION lww_register_hash(lww_register) RETURNS int4
	AS 'MODULE_PATHNAME', 'crdt_state_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION lww_register_hash_extended(lww_register, int8) RETURNS int8
	AS 'MODULE_PATHNAME', 'crdt_state_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OPERATOR = (LEFTARG = lww_register, RIGHTARG = lww_register, PROCEDURE = lww_register_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR <> (LEFTARG = lww_register, RIGHTARG = lww_register, PROCEDURE = lww_register_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR CLASS lww_register_hash_ops
	DEFAULT FOR TYPE lww_register USING hash AS
		OPERATOR 1 =,
		FUNCTION 1 lww_register_hash(lww_register),
		FUNCTION 2 lww_register_hash_extended(lww_register, int8);

CREATE FUNCTION or_set_eq(or_set, or_set) RETURNS bool
	AS 'MODULE_PATHNAME', 'crdt_state_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION or_set_ne(or_set, or_set) RETURNS bool
	AS 'MODULE_PATHNAME', 'crdt_state_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION or_set_hash(or_set) RETURNS int4
	AS 'MODULE_PATHNAME', 'crdt_state_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION or_set_hash_extended(or_set, int8) RETURNS int8
	AS 'MODULE_PATHNAME', 'crdt_state_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OPERATOR = (LEFTARG = or_set, RIGHTARG = or_set, PROCEDURE = or_set_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR <> (LEFTARG = or_set, RIGHTARG = or_set, PROCEDURE = or_set_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR CLASS or_set_hash_ops
	DEFAULT FOR TYPE or_set USING hash AS
		OPERATOR 1 =,
		FUNCTION 1 or_set_hash(or_set),
		FUNCTION 2 or_set_hash_extended(or_set, int8);

CREATE FUNCTION lww_set_eq(lww_set, lww_set) RETURNS bool
	AS 'MODULE_PATHNAME', 'crdt_state_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION lww_set_ne(lww_set, lww_set) RETURNS bool
	AS 'MODULE_PATHNAME', 'crdt_state_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION lww_set_hash(lww_set) RETURNS int4
	AS 'MODULE_PATHNAME', 'crdt_state_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION lww_set_hash_extended(lww_set, int8) RETURNS int8
	AS 'MODULE_PATHNAME', 'crdt_state_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OPERATOR = (LEFTARG = lww_set, RIGHTARG = lww_set, PROCEDURE = lww_set_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR <> (LEFTARG = lww_set, RIGHTARG = lww_set, PROCEDURE = lww_set_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR CLASS lww_set_hash_ops
	DEFAULT FOR TYPE lww_set USING hash AS
		OPERATOR 1 =,
		FUNCTION 1 lww_set_hash(lww_set),
		FUNCTION 2 lww_set_hash_extended(lww_set, int8);

-- min and max of hlc

CREATE FUNCTION hlc_larger(hlc, hlc) RETURNS hlc
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hlc_smaller(hlc, hlc) RETURNS hlc
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE AGGREGATE min(hlc) (
	SFUNC = hlc_smaller, STYPE = hlc, COMBINEFUNC = hlc_smaller, SORTOP = <, PARALLEL = SAFE);
CREATE AGGREGATE max(hlc) (
	SFUNC = hlc_larger, STYPE = hlc, COMBINEFUNC = hlc_larger, SORTOP = >, PARALLEL = SAFE);

-- comments

COMMENT ON FUNCTION hlc_in(cstring) IS 'text input of hlc: 2026-11-23T23:15:47.123Z/5@7';
COMMENT ON FUNCTION hlc_out(hlc) IS 'text output of hlc';
COMMENT ON FUNCTION hlc_recv(internal) IS 'binary input of hlc';
COMMENT ON FUNCTION hlc_send(hlc) IS 'binary output of hlc';
COMMENT ON FUNCTION hlc_eq(hlc, hlc) IS 'equal: hlc order is time, then logical counter, then node';
COMMENT ON OPERATOR = (hlc, hlc) IS 'equal: hlc order is time, then logical counter, then node';
COMMENT ON FUNCTION hlc_ne(hlc, hlc) IS 'not equal: hlc order is time, then logical counter, then node';
COMMENT ON OPERATOR <> (hlc, hlc) IS 'not equal: hlc order is time, then logical counter, then node';
COMMENT ON FUNCTION hlc_lt(hlc, hlc) IS 'earlier: hlc order is time, then logical counter, then node';
COMMENT ON OPERATOR < (hlc, hlc) IS 'earlier: hlc order is time, then logical counter, then node';
COMMENT ON FUNCTION hlc_le(hlc, hlc) IS 'earlier or equal: hlc order is time, then logical counter, then node';
COMMENT ON OPERATOR <= (hlc, hlc) IS 'earlier or equal: hlc order is time, then logical counter, then node';
COMMENT ON FUNCTION hlc_gt(hlc, hlc) IS 'later: hlc order is time, then logical counter, then node';
COMMENT ON OPERATOR > (hlc, hlc) IS 'later: hlc order is time, then logical counter, then node';
COMMENT ON FUNCTION hlc_ge(hlc, hlc) IS 'later or equal: hlc order is time, then logical counter, then node';
COMMENT ON OPERATOR >= (hlc, hlc) IS 'later or equal: hlc order is time, then logical counter, then node';
COMMENT ON FUNCTION hlc_cmp(hlc, hlc) IS 'btree support: -1, 0 or 1 in hlc order';
COMMENT ON FUNCTION hlc_hash(hlc) IS 'hash support for hlc';
COMMENT ON FUNCTION hlc_hash_extended(hlc, int8) IS 'hash support for hlc, with a seed';
COMMENT ON FUNCTION hlc(timestamptz, int4, int4) IS 'build an hlc from a time (rounded down to the millisecond), a logical counter and a node id of 1 or more';
COMMENT ON FUNCTION hlc_physical(hlc) IS 'the wall-clock part of an hlc, to the millisecond';
COMMENT ON FUNCTION hlc_logical(hlc) IS 'the logical counter of an hlc, 0 to 65535';
COMMENT ON FUNCTION hlc_node(hlc) IS 'the node id of an hlc';
COMMENT ON FUNCTION hlc_larger(hlc, hlc) IS 'the later of two hlc timestamps';
COMMENT ON FUNCTION hlc_smaller(hlc, hlc) IS 'the earlier of two hlc timestamps';
COMMENT ON AGGREGATE min(hlc) IS 'earliest hlc timestamp';
COMMENT ON AGGREGATE max(hlc) IS 'latest hlc timestamp';
COMMENT ON FUNCTION g_counter_in(cstring) IS 'text input of g_counter';
COMMENT ON FUNCTION g_counter_out(g_counter) IS 'text output of g_counter';
COMMENT ON FUNCTION g_counter_recv(internal) IS 'binary input of g_counter';
COMMENT ON FUNCTION g_counter_send(g_counter) IS 'binary output of g_counter';
COMMENT ON FUNCTION pn_counter_in(cstring) IS 'text input of pn_counter';
COMMENT ON FUNCTION pn_counter_out(pn_counter) IS 'text output of pn_counter';
COMMENT ON FUNCTION pn_counter_recv(internal) IS 'binary input of pn_counter';
COMMENT ON FUNCTION pn_counter_send(pn_counter) IS 'binary output of pn_counter';
COMMENT ON FUNCTION lww_register_in(cstring) IS 'text input of lww_register';
COMMENT ON FUNCTION lww_register_out(lww_register) IS 'text output of lww_register';
COMMENT ON FUNCTION lww_register_recv(internal) IS 'binary input of lww_register';
COMMENT ON FUNCTION lww_register_send(lww_register) IS 'binary output of lww_register';
COMMENT ON FUNCTION or_set_in(cstring) IS 'text input of or_set';
COMMENT ON FUNCTION or_set_out(or_set) IS 'text output of or_set';
COMMENT ON FUNCTION or_set_recv(internal) IS 'binary input of or_set';
COMMENT ON FUNCTION or_set_send(or_set) IS 'binary output of or_set';
COMMENT ON FUNCTION lww_set_in(cstring) IS 'text input of lww_set';
COMMENT ON FUNCTION lww_set_out(lww_set) IS 'text output of lww_set';
COMMENT ON FUNCTION lww_set_recv(internal) IS 'binary input of lww_set';
COMMENT ON FUNCTION lww_set_send(lww_set) IS 'binary output of lww_set';
COMMENT ON FUNCTION crdt_merge(g_counter, g_counter) IS 'merge two g_counter states (per-node maximum of the counts); NULL is no state yet';
COMMENT ON OPERATOR || (g_counter, g_counter) IS 'merge two g_counter states, as crdt_merge';
COMMENT ON FUNCTION crdt_value(g_counter) IS 'the count: the sum over nodes';
COMMENT ON AGGREGATE crdt_merge_agg(g_counter) IS 'merge every g_counter state of a group; NULL when there is none';
COMMENT ON FUNCTION g_counter_eq(g_counter, g_counter) IS 'equal g_counter states: the same state byte for byte, not merely the same value';
COMMENT ON FUNCTION g_counter_ne(g_counter, g_counter) IS 'different g_counter states';
COMMENT ON OPERATOR = (g_counter, g_counter) IS 'equal g_counter states: the same state byte for byte, not merely the same value';
COMMENT ON OPERATOR <> (g_counter, g_counter) IS 'different g_counter states';
COMMENT ON FUNCTION g_counter_hash(g_counter) IS 'hash support for g_counter';
COMMENT ON FUNCTION g_counter_hash_extended(g_counter, int8) IS 'hash support for g_counter, with a seed';
COMMENT ON FUNCTION crdt_merge(pn_counter, pn_counter) IS 'merge two pn_counter states (per-node maximum of increments and of decrements); NULL is no state yet';
COMMENT ON OPERATOR || (pn_counter, pn_counter) IS 'merge two pn_counter states, as crdt_merge';
COMMENT ON FUNCTION crdt_value(pn_counter) IS 'the count: increments minus decrements';
COMMENT ON AGGREGATE crdt_merge_agg(pn_counter) IS 'merge every pn_counter state of a group; NULL when there is none';
COMMENT ON FUNCTION pn_counter_eq(pn_counter, pn_counter) IS 'equal pn_counter states: the same state byte for byte, not merely the same value';
COMMENT ON FUNCTION pn_counter_ne(pn_counter, pn_counter) IS 'different pn_counter states';
COMMENT ON OPERATOR = (pn_counter, pn_counter) IS 'equal pn_counter states: the same state byte for byte, not merely the same value';
COMMENT ON OPERATOR <> (pn_counter, pn_counter) IS 'different pn_counter states';
COMMENT ON FUNCTION pn_counter_hash(pn_counter) IS 'hash support for pn_counter';
COMMENT ON FUNCTION pn_counter_hash_extended(pn_counter, int8) IS 'hash support for pn_counter, with a seed';
COMMENT ON FUNCTION crdt_merge(lww_register, lww_register) IS 'merge two lww_register states (the value with the later stamp); NULL is no state yet';
COMMENT ON OPERATOR || (lww_register, lww_register) IS 'merge two lww_register states, as crdt_merge';
COMMENT ON FUNCTION crdt_value(lww_register) IS 'the jsonb value';
COMMENT ON AGGREGATE crdt_merge_agg(lww_register) IS 'merge every lww_register state of a group; NULL when there is none';
COMMENT ON FUNCTION lww_register_eq(lww_register, lww_register) IS 'equal lww_register states: the same state byte for byte, not merely the same value';
COMMENT ON FUNCTION lww_register_ne(lww_register, lww_register) IS 'different lww_register states';
COMMENT ON OPERATOR = (lww_register, lww_register) IS 'equal lww_register states: the same state byte for byte, not merely the same value';
COMMENT ON OPERATOR <> (lww_register, lww_register) IS 'different lww_register states';
COMMENT ON FUNCTION lww_register_hash(lww_register) IS 'hash support for lww_register';
COMMENT ON FUNCTION lww_register_hash_extended(lww_register, int8) IS 'hash support for lww_register, with a seed';
COMMENT ON FUNCTION crdt_merge(or_set, or_set) IS 'merge two or_set states (add-wins merge of dots over the exact causal context); NULL is no state yet';
COMMENT ON OPERATOR || (or_set, or_set) IS 'merge two or_set states, as crdt_merge';
COMMENT ON FUNCTION crdt_value(or_set) IS 'the elements, sorted by bytes';
COMMENT ON AGGREGATE crdt_merge_agg(or_set) IS 'merge every or_set state of a group; NULL when there is none';
COMMENT ON FUNCTION or_set_eq(or_set, or_set) IS 'equal or_set states: the same state byte for byte, not merely the same value';
COMMENT ON FUNCTION or_set_ne(or_set, or_set) IS 'different or_set states';
COMMENT ON OPERATOR = (or_set, or_set) IS 'equal or_set states: the same state byte for byte, not merely the same value';
COMMENT ON OPERATOR <> (or_set, or_set) IS 'different or_set states';
COMMENT ON FUNCTION or_set_hash(or_set) IS 'hash support for or_set';
COMMENT ON FUNCTION or_set_hash_extended(or_set, int8) IS 'hash support for or_set, with a seed';
COMMENT ON FUNCTION crdt_merge(lww_set, lww_set) IS 'merge two lww_set states (the later add and remove stamp of each element); NULL is no state yet';
COMMENT ON OPERATOR || (lww_set, lww_set) IS 'merge two lww_set states, as crdt_merge';
COMMENT ON FUNCTION crdt_value(lww_set) IS 'the elements added no earlier than removed, sorted by bytes';
COMMENT ON AGGREGATE crdt_merge_agg(lww_set) IS 'merge every lww_set state of a group; NULL when there is none';
COMMENT ON FUNCTION lww_set_eq(lww_set, lww_set) IS 'equal lww_set states: the same state byte for byte, not merely the same value';
COMMENT ON FUNCTION lww_set_ne(lww_set, lww_set) IS 'different lww_set states';
COMMENT ON OPERATOR = (lww_set, lww_set) IS 'equal lww_set states: the same state byte for byte, not merely the same value';
COMMENT ON OPERATOR <> (lww_set, lww_set) IS 'different lww_set states';
COMMENT ON FUNCTION lww_set_hash(lww_set) IS 'hash support for lww_set';
COMMENT ON FUNCTION lww_set_hash_extended(lww_set, int8) IS 'hash support for lww_set, with a seed';
COMMENT ON FUNCTION lww_register(jsonb) IS 'a register holding value, written now by this node';
COMMENT ON FUNCTION lww_register(jsonb, hlc) IS 'a register holding value, written at ts (node id 1 or more)';
COMMENT ON FUNCTION lww_register_ts(lww_register) IS 'when and by which node the value was written';
COMMENT ON FUNCTION or_set_add(or_set, text) IS 'add elem with a new dot of this node; needs geoshard preloaded and geoshard.node_id';
COMMENT ON FUNCTION or_set_remove(or_set, text) IS 'remove elem as far as this state has observed it; its dots stay in the context';
COMMENT ON FUNCTION lww_set_add(lww_set, text) IS 'raise the add stamp of elem to now (this node)';
COMMENT ON FUNCTION lww_set_add(lww_set, text, hlc) IS 'raise the add stamp of elem to ts (node id 1 or more)';
COMMENT ON FUNCTION lww_set_remove(lww_set, text) IS 'raise the remove stamp of elem to now, if this state holds elem';
COMMENT ON FUNCTION lww_set_remove(lww_set, text, hlc) IS 'raise the remove stamp of elem to ts, if this state holds elem';
-- ---------------------------------------------------------------------------
-- routing: GeoIP lookups
-- ---------------------------------------------------------------------------

-- Networks with their location, for servers without a MaxMind DB file and for
-- addresses the file does not know.  The most specific network wins.
CREATE TABLE geoshard.geoip_networks (
	network cidr PRIMARY KEY,
	country text,
	latitude float8,
	longitude float8,
	accuracy_radius_km int4,
	CONSTRAINT geoip_networks_latitude CHECK (latitude BETWEEN -90 AND 90),
	CONSTRAINT geoip_networks_longitude CHECK (longitude BETWEEN -180 AND 180),
	CONSTRAINT geoip_networks_location CHECK ((latitude IS NULL) = (longitude IS NULL)),
	CONSTRAINT geoip_networks_accuracy_radius CHECK (accuracy_radius_km >= 0)
);
CREATE INDEX geoip_networks_network_gist ON geoshard.geoip_networks USING gist (network inet_ops);
COMMENT ON TABLE geoshard.geoip_networks IS
	'network -> location, used by geoip_lookup when geoshard.geoip_database has no answer';
SELECT pg_catalog.pg_extension_config_dump('geoshard.geoip_networks', '');
-- geoip_lookup reads the table as the calling user
GRANT SELECT ON geoshard.geoip_networks TO PUBLIC;

CREATE FUNCTION geoshard.geoip_networks_changed() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE TRIGGER geoip_networks_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.geoip_networks
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.geoip_networks_changed();
-- Each backend keeps a copy of the table, which must follow every write,
-- including those made with session_replication_role = replica; logical
-- replication's apply worker fires no statement triggers but TRUNCATE's,
-- hence the row-level twin.
ALTER TABLE geoshard.geoip_networks ENABLE ALWAYS TRIGGER geoip_networks_changed;
CREATE TRIGGER geoip_networks_changed_row
	AFTER INSERT OR UPDATE OR DELETE ON geoshard.geoip_networks
	FOR EACH ROW EXECUTE FUNCTION geoshard.geoip_networks_changed();
ALTER TABLE geoshard.geoip_networks ENABLE REPLICA TRIGGER geoip_networks_changed_row;
COMMENT ON FUNCTION geoshard.geoip_networks_changed() IS
	'trigger on geoshard.geoip_networks: makes every backend reload its copy of the table';
REVOKE ALL ON FUNCTION geoshard.geoip_networks_changed() FROM PUBLIC;

CREATE FUNCTION geoip_lookup(ip inet,
							 OUT country text,
							 OUT latitude float8,
							 OUT longitude float8,
							 OUT accuracy_radius_km int4,
							 OUT source text)
	RETURNS record
	AS 'MODULE_PATHNAME', 'geoip_lookup'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION geoip_lookup(inet) IS
	'location of an address from geoshard.geoip_database, else geoshard.geoip_networks; source is mmdb, table or NULL';

-- ---------------------------------------------------------------------------
-- routing: the regions catalogue, geo-fences and route_region
-- ---------------------------------------------------------------------------

-- The regions clients can be routed to.  Every column but id, lat and lon has
-- a default, so INSERT (id, name, lat, lon, endpoint) is enough.  The routing
-- code copies the table into memory (shared when preloaded) and refuses rows
-- it could not hold: see geoshard.routing_changed() below.
CREATE TABLE geoshard.regions (
	id text PRIMARY KEY,
	name text,
	lat float8 NOT NULL,
	lon float8 NOT NULL,
	endpoint text,
	cost float8 NOT NULL DEFAULT 1,
	capacity float8 NOT NULL DEFAULT 1,
	load float8 NOT NULL DEFAULT 0,
	enabled boolean NOT NULL DEFAULT true,
	drained boolean NOT NULL DEFAULT false,
	CONSTRAINT regions_id CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$'),
	CONSTRAINT regions_lat CHECK (lat BETWEEN -90 AND 90),
	CONSTRAINT regions_lon CHECK (lon BETWEEN -180 AND 180),
	CONSTRAINT regions_cost CHECK (cost >= 0 AND cost < 'Infinity'),
	CONSTRAINT regions_capacity CHECK (capacity > 0 AND capacity < 'Infinity'),
	CONSTRAINT regions_load CHECK (load >= 0 AND load < 'Infinity'),
	-- what the health worker's http(s) probe expects: this status (NULL: any
	-- 2xx) and a body containing this text (NULL: any body); appended last, as
	-- the 0.2 to 0.3 upgrade adds them, so both installs have one column order
	probe_status int4,
	probe_body text,
	CONSTRAINT regions_probe_status CHECK (probe_status BETWEEN 100 AND 599),
	CONSTRAINT regions_probe_body CHECK (octet_length(probe_body) BETWEEN 1 AND 1024),
	CONSTRAINT regions_probe_http CHECK ((probe_status IS NULL AND probe_body IS NULL)
										 OR coalesce(endpoint, '') = ''
										 OR endpoint ~* '^https?://')
);
COMMENT ON TABLE geoshard.regions IS
	'regions route_region chooses from: location, endpoint, cost, capacity, load, enabled, drained, and what their health probe expects';
SELECT pg_catalog.pg_extension_config_dump('geoshard.regions', '');

-- Data residency: clients located in one of countries may only be routed to
-- one of regions.  When several fences name a country, all of them apply.
CREATE TABLE geoshard.geo_fences (
	name text PRIMARY KEY,
	countries text[] NOT NULL,
	regions text[] NOT NULL,
	CONSTRAINT geo_fences_name CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$'),
	CONSTRAINT geo_fences_countries CHECK (cardinality(countries) > 0),
	CONSTRAINT geo_fences_regions CHECK (cardinality(regions) > 0)
);
COMMENT ON TABLE geoshard.geo_fences IS
	'clients located in countries may only be routed to regions';
SELECT pg_catalog.pg_extension_config_dump('geoshard.geo_fences', '');

-- Validates the changed catalogue as the routing table will read it, and
-- tells every backend to reload it when the transaction commits.
CREATE FUNCTION geoshard.routing_changed() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE TRIGGER regions_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.regions
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.routing_changed();
CREATE TRIGGER geo_fences_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.geo_fences
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.routing_changed();
-- Caches must follow every write, including those made with
-- session_replication_role = replica; logical replication's apply worker
-- fires no statement triggers but TRUNCATE's, hence the row-level twins,
-- which publish the change without validating it.
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

-- Refuse coordinates with an error naming the value (the CHECK constraints
-- would only name themselves).
CREATE FUNCTION geoshard.check_region_location(lat float8, lon float8) RETURNS void
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

-- Refuse what the health worker's http(s) probe could not check, with
-- errors naming the value (the CHECK constraints would only name themselves).
-- Takes the values the row would have; endpoint may hold a password, so it
-- is never shown.
CREATE FUNCTION geoshard.check_region_probe(id text, endpoint text, probe_status int4, probe_body text)
	RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF probe_status IS NOT NULL AND NOT (probe_status BETWEEN 100 AND 599) THEN
		RAISE EXCEPTION 'expected HTTP status % is out of range', probe_status
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = 'An HTTP status is between 100 and 599.',
				  HINT = 'Give 0 to clear it: then any 2xx status is up.';
	END IF;
	IF octet_length(probe_body) > 1024 THEN
		RAISE EXCEPTION 'expected response body text is too long'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('It has %s bytes; at most 1024 are allowed.', octet_length(probe_body));
	END IF;
	IF (probe_status IS NOT NULL OR probe_body IS NOT NULL)
	   AND coalesce(endpoint, '') <> '' AND endpoint !~* '^https?://' THEN
		RAISE EXCEPTION 'an expected probe status or body needs an http:// or https:// endpoint'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('Region "%s" has a tcp://, postgres:// or other endpoint, whose probe reads no HTTP status or body.', id),
				  HINT = 'Leave probe_status and probe_body null; update_region clears them with probe_status => 0 and probe_body => ''''.';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.check_region_probe(text, text, int4, text) IS
	'raise an error for an expected probe status or body the region''s endpoint cannot be checked against (used by add_region and update_region)';

-- The administrative functions are SECURITY DEFINER so that EXECUTE alone
-- lets a role manage regions; none is executable by PUBLIC.  On a node in a
-- raft group each one proposes its call through the log (the IF on its BEGIN
-- line, kept on that line so that error line numbers stay as they were) and
-- returns once this node applied it: the raft worker runs the same function,
-- which then writes (docs/raft.md).  Floats travel as text written with
-- extra_float_digits = 3, so they are applied exactly.  probe_status 0
-- and probe_body '' mean none, as NULL does (update_region clears with them).
CREATE FUNCTION geoshard.add_region(id text, lat float8, lon float8,
									name text DEFAULT NULL,
									endpoint text DEFAULT NULL,
									cost float8 DEFAULT 1,
									capacity float8 DEFAULT 1,
									load float8 DEFAULT 0,
									enabled boolean DEFAULT true,
									probe_status int4 DEFAULT NULL,
									probe_body text DEFAULT NULL)
	RETURNS geoshard.regions
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET extra_float_digits = 3
AS $$
DECLARE
	result geoshard.regions;
	new_status int4 := nullif(add_region.probe_status, 0);
	new_body text := nullif(add_region.probe_body, '');
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('add_region', ARRAY[$1, $2::text, $3::text, $4, $5, $6::text, $7::text, $8::text, $9::text, $10::text, $11]); SELECT r.* INTO result FROM geoshard.regions r WHERE r.id = $1; RETURN result; END IF;
	IF add_region.id IS NULL OR add_region.lat IS NULL OR add_region.lon IS NULL THEN
		RAISE EXCEPTION 'region id, latitude and longitude must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF add_region.id !~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid region id: "%"', add_region.id
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A region id has 1 to 63 letters, digits, ".", "_", ":" or "-", and starts with a letter or digit.';
	END IF;
	PERFORM geoshard.check_region_location(add_region.lat, add_region.lon);
	PERFORM geoshard.check_region_probe(add_region.id, add_region.endpoint, new_status, new_body);
	IF EXISTS (SELECT FROM geoshard.regions r WHERE r.id = add_region.id) THEN
		RAISE EXCEPTION 'region "%" already exists', add_region.id
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Change it with geoshard.update_region().';
	END IF;
	INSERT INTO geoshard.regions AS r (id, name, lat, lon, endpoint, cost, capacity, load, enabled,
									   probe_status, probe_body)
	VALUES (add_region.id, add_region.name, add_region.lat, add_region.lon, add_region.endpoint,
			coalesce(add_region.cost, 1), coalesce(add_region.capacity, 1),
			coalesce(add_region.load, 0), coalesce(add_region.enabled, true),
			new_status, new_body)
	RETURNING r.* INTO result;
	RETURN result;
END
$$;
COMMENT ON FUNCTION geoshard.add_region(text, float8, float8, text, text, float8, float8, float8, boolean, int4, text) IS
	'add a region to the routing catalogue; returns the new row';

-- Arguments left NULL keep their current value.
CREATE FUNCTION geoshard.update_region(id text,
									   name text DEFAULT NULL,
									   lat float8 DEFAULT NULL,
									   lon float8 DEFAULT NULL,
									   endpoint text DEFAULT NULL,
									   cost float8 DEFAULT NULL,
									   capacity float8 DEFAULT NULL,
									   load float8 DEFAULT NULL,
									   enabled boolean DEFAULT NULL,
									   probe_status int4 DEFAULT NULL,
									   probe_body text DEFAULT NULL)
	RETURNS geoshard.regions
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET extra_float_digits = 3
AS $$
DECLARE
	result geoshard.regions;
	cur geoshard.regions;
	new_status int4;
	new_body text;
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('update_region', ARRAY[$1, $2, $3::text, $4::text, $5, $6::text, $7::text, $8::text, $9::text, $10::text, $11]); SELECT r.* INTO result FROM geoshard.regions r WHERE r.id = $1; RETURN result; END IF;
	PERFORM geoshard.check_region_location(update_region.lat, update_region.lon);
	SELECT r.* INTO cur FROM geoshard.regions r WHERE r.id = update_region.id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(update_region.id);
	END IF;
	new_status := CASE WHEN update_region.probe_status IS NULL THEN cur.probe_status
					   ELSE nullif(update_region.probe_status, 0) END;
	new_body := CASE WHEN update_region.probe_body IS NULL THEN cur.probe_body
					 ELSE nullif(update_region.probe_body, '') END;
	PERFORM geoshard.check_region_probe(update_region.id,
										coalesce(update_region.endpoint, cur.endpoint),
										new_status, new_body);
	UPDATE geoshard.regions r SET
		name = coalesce(update_region.name, r.name),
		lat = coalesce(update_region.lat, r.lat),
		lon = coalesce(update_region.lon, r.lon),
		endpoint = coalesce(update_region.endpoint, r.endpoint),
		cost = coalesce(update_region.cost, r.cost),
		capacity = coalesce(update_region.capacity, r.capacity),
		load = coalesce(update_region.load, r.load),
		enabled = coalesce(update_region.enabled, r.enabled),
		probe_status = new_status,
		probe_body = new_body
	WHERE r.id = update_region.id
	RETURNING r.* INTO result;
	RETURN result;
END
$$;
COMMENT ON FUNCTION geoshard.update_region(text, text, float8, float8, text, float8, float8, float8, boolean, int4, text) IS
	'change a region; arguments left NULL keep their value (probe_status 0 and probe_body '''' clear theirs); returns the row';

CREATE FUNCTION geoshard.raise_unknown_region(id text) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'region "%" does not exist', coalesce(id, 'NULL')
		USING ERRCODE = 'undefined_object',
			  HINT = 'List regions with: SELECT * FROM geoshard.regions.';
END
$$;
COMMENT ON FUNCTION geoshard.raise_unknown_region(text) IS
	'raise the error for a region id that is not in geoshard.regions';

CREATE FUNCTION geoshard.remove_region(id text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('remove_region', ARRAY[$1]); RETURN; END IF;
	DELETE FROM geoshard.regions r WHERE r.id = remove_region.id;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(remove_region.id);
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.remove_region(text) IS
	'delete a region from the routing catalogue (drain it first to keep the row)';

-- Draining keeps the row but takes the region out of routing.
CREATE FUNCTION geoshard.drain_region(id text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('drain_region', ARRAY[$1]); RETURN; END IF;
	UPDATE geoshard.regions r SET drained = true WHERE r.id = drain_region.id;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(drain_region.id);
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.drain_region(text) IS
	'take a region out of routing without deleting it';

CREATE FUNCTION geoshard.undrain_region(id text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('undrain_region', ARRAY[$1]); RETURN; END IF;
	UPDATE geoshard.regions r SET drained = false WHERE r.id = undrain_region.id;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(undrain_region.id);
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.undrain_region(text) IS
	'put a drained region back into routing';

-- Country codes are stored upper-case, as GeoIP files spell them.
CREATE FUNCTION geoshard.add_geo_fence(name text, countries text[], regions text[])
	RETURNS geoshard.geo_fences
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result geoshard.geo_fences;
	unknown text[];
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('add_geo_fence', ARRAY[$1, $2::text, $3::text]); SELECT f.* INTO result FROM geoshard.geo_fences f WHERE f.name = $1; RETURN result; END IF;
	IF add_geo_fence.name IS NULL OR add_geo_fence.countries IS NULL OR add_geo_fence.regions IS NULL THEN
		RAISE EXCEPTION 'geo-fence name, countries and regions must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF cardinality(add_geo_fence.countries) = 0 OR cardinality(add_geo_fence.regions) = 0 THEN
		RAISE EXCEPTION 'geo-fence "%" needs at least one country and one region', add_geo_fence.name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT FROM geoshard.geo_fences f WHERE f.name = add_geo_fence.name) THEN
		RAISE EXCEPTION 'geo-fence "%" already exists', add_geo_fence.name
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Remove it first with geoshard.remove_geo_fence().';
	END IF;
	SELECT array_agg(r ORDER BY r) INTO unknown
	FROM unnest(add_geo_fence.regions) r
	WHERE NOT EXISTS (SELECT FROM geoshard.regions g WHERE g.id = r);
	IF unknown IS NOT NULL THEN
		RAISE EXCEPTION 'geo-fence "%" names regions that do not exist: %',
				add_geo_fence.name, array_to_string(unknown, ', ', 'NULL')
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add the regions first with geoshard.add_region().';
	END IF;
	INSERT INTO geoshard.geo_fences AS f (name, countries, regions)
	VALUES (add_geo_fence.name,
			(SELECT array_agg(DISTINCT upper(c) ORDER BY upper(c)) FROM unnest(add_geo_fence.countries) c),
			(SELECT array_agg(DISTINCT r ORDER BY r) FROM unnest(add_geo_fence.regions) r))
	RETURNING f.* INTO result;
	RETURN result;
END
$$;
COMMENT ON FUNCTION geoshard.add_geo_fence(text, text[], text[]) IS
	'route clients located in countries only to regions (data residency)';

CREATE FUNCTION geoshard.remove_geo_fence(name text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('remove_geo_fence', ARRAY[$1]); RETURN; END IF;
	DELETE FROM geoshard.geo_fences f WHERE f.name = remove_geo_fence.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'geo-fence "%" does not exist', coalesce(remove_geo_fence.name, 'NULL')
			USING ERRCODE = 'undefined_object',
				  HINT = 'List geo-fences with: SELECT * FROM geoshard.geo_fences.';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.remove_geo_fence(text) IS 'delete a geo-fence';

-- Breaker state, normally written by the health worker; an operator may
-- force a region open (out of routing) or closed.
CREATE FUNCTION geoshard.set_region_breaker(region text, state text) RETURNS void
	AS 'MODULE_PATHNAME', 'set_region_breaker'
	LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION geoshard.set_region_breaker(text, text) IS
	'set a region''s circuit breaker: closed, half_open or open (open takes it out of routing)';

-- A measured round trip from a client to a region; routing prefers smoothed
-- measurements for the client's network over the distance estimate.
CREATE FUNCTION geoshard.observe_latency(client inet, region text, rtt_ms float8) RETURNS void
	AS 'MODULE_PATHNAME', 'observe_latency'
	LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION geoshard.observe_latency(inet, text, float8) IS
	'record a measured round trip (ms) from a client''s network (/24, /48) to a region';

-- What routing sees now: the catalogue as loaded, with breaker states.
CREATE FUNCTION geoshard.routing_regions(OUT region text, OUT lat float8, OUT lon float8,
										 OUT cost float8, OUT load_fraction float8,
										 OUT enabled boolean, OUT drained boolean,
										 OUT breaker text, OUT routable boolean)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'routing_regions'
	LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION geoshard.routing_regions() IS
	'the routing table as route_region sees it, with circuit breaker states';

CREATE FUNCTION route_region(ip inet) RETURNS text
	AS 'MODULE_PATHNAME', 'route_region'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION route_region(inet) IS
	'the best region for a client address, or NULL when no region may serve it';

CREATE FUNCTION route_region(lat float8, lon float8, country text DEFAULT NULL) RETURNS text
	AS 'MODULE_PATHNAME', 'route_region_at'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION route_region(float8, float8, text) IS
	'the best region for a client at a location (and in a country, for geo-fences), or NULL';

CREATE FUNCTION route_regions(ip inet, n int4 DEFAULT 3,
							  OUT rank int4, OUT region text, OUT score float8,
							  OUT latency_ms float8, OUT latency_source text,
							  OUT distance_km float8, OUT cost float8,
							  OUT load_fraction float8, OUT over_capacity boolean,
							  OUT breaker text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'route_regions'
	LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 3;
COMMENT ON FUNCTION route_regions(inet, int4) IS
	'the n best regions for a client address, best first: the failover order';

CREATE FUNCTION route_region_explain(ip inet) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'route_region_explain'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION route_region_explain(inet) IS
	'route_region''s decision for a client address, with the client location, every candidate and why';

CREATE FUNCTION route_region_explain(lat float8, lon float8, country text DEFAULT NULL) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'route_region_explain_at'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION route_region_explain(float8, float8, text) IS
	'route_region''s decision for a client location, with every candidate and why';

REVOKE ALL ON FUNCTION geoshard.routing_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.check_region_location(float8, float8) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.raise_unknown_region(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.check_region_probe(text, text, int4, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.add_region(text, float8, float8, text, text, float8, float8, float8, boolean, int4, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.update_region(text, text, float8, float8, text, float8, float8, float8, boolean, int4, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.remove_region(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.drain_region(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.undrain_region(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.add_geo_fence(text, text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.remove_geo_fence(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.set_region_breaker(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.observe_latency(inet, text, float8) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.routing_regions() FROM PUBLIC;

-- ===== health: the health worker's record and views (docs/health.md) =====

-- Every circuit breaker transition, appended by the health worker; rows older
-- than geoshard.health_events_max_age are pruned, but each region's latest,
-- from which the worker rebuilds the breakers after a restart.
CREATE TABLE geoshard.health_events (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	region text NOT NULL,
	from_state text NOT NULL CHECK (from_state IN ('closed', 'half_open', 'open')),
	to_state text NOT NULL CHECK (to_state IN ('closed', 'half_open', 'open')),
	reason text NOT NULL,
	error text,
	rtt_ms float8,
	at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX health_events_region_at ON geoshard.health_events (region, at);
COMMENT ON TABLE geoshard.health_events IS
	'circuit breaker transitions written by the health worker (docs/health.md)';
-- the history is the operators' record and what restores the breakers: pg_dump keeps it
SELECT pg_catalog.pg_extension_config_dump('geoshard.health_events', '');
SELECT pg_catalog.pg_extension_config_dump('geoshard.health_events_id_seq', '');

-- The breakers as the health worker keeps them in shared memory; endpoints
-- with their passwords masked.
CREATE FUNCTION geoshard.region_health_state(OUT region text, OUT endpoint text, OUT state text,
											 OUT degraded boolean, OUT forced boolean, OUT probed boolean,
											 OUT consecutive_failures int4, OUT consecutive_successes int4,
											 OUT last_rtt_ms float8, OUT smoothed_rtt_ms float8,
											 OUT last_error text, OUT last_probe timestamptz,
											 OUT since timestamptz, OUT cooldown_ms int4, OUT panic boolean,
											 OUT baseline_rtt_ms float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'region_health_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.region_health_state() IS
	'the circuit breakers as the health worker keeps them in shared memory, one row per region it knows, passwords in endpoints masked';

-- Readable by PUBLIC: region_health_state() shows no password.
CREATE VIEW geoshard.region_health AS
	SELECT * FROM geoshard.region_health_state();
COMMENT ON VIEW geoshard.region_health IS
	'one row per region: circuit breaker state, probe figures and panic mode, endpoints without passwords';
GRANT SELECT ON geoshard.region_health TO PUBLIC;

CREATE FUNCTION geoshard.probe_now(region text, OUT up boolean, OUT rtt_ms float8,
								   OUT error text, OUT state text)
	AS 'MODULE_PATHNAME', 'probe_now'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.probe_now(text) IS
	'ask the health worker for a round of probes now and return the region''s result and breaker state';
REVOKE ALL ON FUNCTION geoshard.probe_now(text) FROM PUBLIC;

COMMENT ON FUNCTION geoshard.set_region_breaker(text, text) IS
	'force a region''s circuit breaker open, closed or half_open until ''auto'' hands it back to the health worker';

-- ===== cdc: change data capture =====

-- output plugin: the geoshard output plugin reads the shard map under the
-- historic snapshot of logical decoding, which only catalog and
-- user_catalog_table tables may be read with (src/cdc/geo_enrich.c).
ALTER TABLE geoshard.shards SET (user_catalog_table = true);

-- publisher: the sinks, their checks and their status (docs/cdc.md)

-- One row per sink: a logical replication slot of the geoshard output plugin
-- whose events the "geoshard cdc" worker publishes into Redis Streams.  The
-- worker reads the table again when a write to it commits, so that changes
-- take effect without a restart.  redis_url may hold a password: the table is not
-- readable by PUBLIC (geoshard.cdc_status shows the URL masked).
CREATE TABLE geoshard.cdc_sinks (
	name text PRIMARY KEY,
	slot_name name NOT NULL UNIQUE,
	stream_key text NOT NULL DEFAULT 'geoshard:{table}',
	options jsonb NOT NULL DEFAULT '{}',
	redis_url text,
	maxlen int8,
	enabled boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE geoshard.cdc_sinks IS
	'CDC sinks: the slots whose events the geoshard cdc worker publishes into Redis Streams (docs/cdc.md)';
SELECT pg_catalog.pg_extension_config_dump('geoshard.cdc_sinks', '');

-- Every write is checked here, so that the worker never meets a sink it
-- cannot read: the functions below and direct INSERTs and UPDATEs alike.
CREATE FUNCTION geoshard.cdc_sinks_check() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	known text[] := ARRAY['include-tables', 'exclude-tables', 'actions',
						  'include-message-prefixes', 'exclude-message-prefixes',
						  'include-old', 'numeric-as-string', 'include-xids',
						  'include-timestamp', 'pretty', 'format-version'];
	option_name text;
	option_value jsonb;
	rest text;
BEGIN
	IF NEW.name IS NULL OR NEW.name !~ '^[a-z0-9_]{1,50}$' THEN
		RAISE EXCEPTION 'invalid cdc sink name: "%"', NEW.name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A sink name has 1 to 50 lower-case letters, digits or "_" (it names the sink''s replication slot).';
	END IF;
	IF TG_OP = 'UPDATE' AND NEW.name <> OLD.name THEN
		RAISE EXCEPTION 'cannot rename cdc sink "%"', OLD.name
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Drop the sink and add it again under the new name.';
	END IF;
	IF TG_OP = 'UPDATE' AND NEW.slot_name <> OLD.slot_name THEN
		RAISE EXCEPTION 'cannot change the slot of cdc sink "%"', NEW.name
			USING ERRCODE = 'feature_not_supported';
	END IF;
	IF NEW.slot_name IS NULL OR NEW.slot_name !~ '^[a-z0-9_]{1,63}$' THEN
		RAISE EXCEPTION 'invalid slot name for cdc sink "%": "%"', NEW.name, NEW.slot_name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A replication slot name has 1 to 63 lower-case letters, digits or "_".';
	END IF;

	IF NEW.stream_key IS NULL OR length(NEW.stream_key) = 0 OR octet_length(NEW.stream_key) > 256 THEN
		RAISE EXCEPTION 'invalid stream key template for cdc sink "%": "%"', NEW.name, NEW.stream_key
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A stream key template has 1 to 256 bytes.';
	END IF;
	rest := replace(replace(replace(NEW.stream_key, '{table}', ''), '{schema}', ''), '{shard}', '');
	IF strpos(rest, '{') > 0 OR strpos(rest, '}') > 0 THEN
		RAISE EXCEPTION 'invalid stream key template for cdc sink "%": "%"', NEW.name, NEW.stream_key
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The placeholders are {table}, {schema} and {shard}; other braces are not allowed.';
	END IF;

	IF NEW.options IS NULL OR jsonb_typeof(NEW.options) <> 'object' THEN
		RAISE EXCEPTION 'invalid options for cdc sink "%": %', NEW.name, NEW.options
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The options are a JSON object of output plugin options, such as {"include-tables": "public.pins"}.';
	END IF;
	FOR option_name, option_value IN SELECT key, value FROM jsonb_each(NEW.options) LOOP
		IF option_name = 'include-begin-commit' THEN
			RAISE EXCEPTION 'option "include-begin-commit" cannot be set for cdc sink "%"', NEW.name
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'The publisher always reads begin and commit records, to know where transactions end; they are not published.';
		END IF;
		IF NOT option_name = ANY (known) THEN
			RAISE EXCEPTION 'unrecognized option "%" for cdc sink "%"', option_name, NEW.name
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'The options are ' || array_to_string(known, ', ') || ' (docs/cdc.md).';
		END IF;
		IF jsonb_typeof(option_value) NOT IN ('string', 'boolean', 'number') THEN
			RAISE EXCEPTION 'invalid value for option "%" of cdc sink "%": %', option_name, NEW.name, option_value
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'An option''s value is a string, a number or a boolean.';
		END IF;
	END LOOP;

	IF NEW.redis_url IS NOT NULL
	   AND NEW.redis_url !~ '^redis://(([^@/?#:]*:[^@/?#]*@))?(\[[0-9A-Fa-f:.]+\]|[^@/?#:\[\]]+)(:[0-9]{1,5})?(/[0-9]{0,7})?$'
	   AND NEW.redis_url !~ '^unix:/[^?]+(\?(db=[0-9]{1,7}|password=[^&]*)(&(db=[0-9]{1,7}|password=[^&]*))*)?$' THEN
		RAISE EXCEPTION 'invalid Redis URL for cdc sink "%"', NEW.name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A Redis URL is redis://[[user]:password@]host[:port][/db] or unix:/path[?db=N][&password=P].';
	END IF;
	IF NEW.maxlen IS NOT NULL AND NEW.maxlen < 1 THEN
		RAISE EXCEPTION 'invalid maxlen for cdc sink "%": %', NEW.name, NEW.maxlen
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'maxlen is the approximate length streams are trimmed to, at least 1, or NULL for no trimming.';
	END IF;
	IF TG_OP = 'INSERT' AND (SELECT count(*) FROM geoshard.cdc_sinks) >= 64 THEN
		RAISE EXCEPTION 'cannot add cdc sink "%": there are already 64 sinks', NEW.name
			USING ERRCODE = 'program_limit_exceeded';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION geoshard.cdc_sinks_check() IS
	'trigger on geoshard.cdc_sinks: refuses malformed sinks (names, stream key templates, options, Redis URLs)';
REVOKE ALL ON FUNCTION geoshard.cdc_sinks_check() FROM PUBLIC;
CREATE TRIGGER cdc_sinks_check
	BEFORE INSERT OR UPDATE ON geoshard.cdc_sinks
	FOR EACH ROW EXECUTE FUNCTION geoshard.cdc_sinks_check();

-- Wakes the cdc worker when the write commits, so that it reads the sinks at
-- once rather than at its next look (about a second).
CREATE FUNCTION geoshard.cdc_sinks_changed() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION geoshard.cdc_sinks_changed() IS
	'trigger on geoshard.cdc_sinks: wakes the cdc worker when the write commits';
REVOKE ALL ON FUNCTION geoshard.cdc_sinks_changed() FROM PUBLIC;
CREATE TRIGGER cdc_sinks_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.cdc_sinks
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.cdc_sinks_changed();

CREATE FUNCTION geoshard.add_cdc_sink(name text,
									  stream_key text DEFAULT 'geoshard:{table}',
									  options jsonb DEFAULT '{}',
									  redis_url text DEFAULT NULL,
									  maxlen int8 DEFAULT NULL)
	RETURNS name
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	slot name;
BEGIN
	IF EXISTS (SELECT FROM geoshard.cdc_sinks s WHERE s.name = add_cdc_sink.name) THEN
		RAISE EXCEPTION 'cdc sink "%" already exists', add_cdc_sink.name
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO geoshard.cdc_sinks (name, slot_name, stream_key, options, redis_url, maxlen)
		VALUES (add_cdc_sink.name, ('geoshard_cdc_' || add_cdc_sink.name)::name,
				add_cdc_sink.stream_key, add_cdc_sink.options, add_cdc_sink.redis_url,
				add_cdc_sink.maxlen)
		RETURNING slot_name INTO slot;
	RETURN slot;
END
$$;
COMMENT ON FUNCTION geoshard.add_cdc_sink(text, text, jsonb, text, int8) IS
	'add a CDC sink publishing into Redis Streams; the cdc worker creates its slot geoshard_cdc_<name>, whose name is returned';
REVOKE ALL ON FUNCTION geoshard.add_cdc_sink(text, text, jsonb, text, int8) FROM PUBLIC;

-- The slot goes with the sink unless a process holds it at that moment; the
-- worker then drops it on its next pass (slots named geoshard_cdc_* of the
-- geoshard plugin whose sink is gone).  Dropping a slot is not transactional:
-- a rollback brings the row back, not the slot, and the worker creates a new
-- one from the current position.
CREATE FUNCTION geoshard.drop_cdc_sink(name text)
	RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	slot name;
BEGIN
	DELETE FROM geoshard.cdc_sinks s WHERE s.name = drop_cdc_sink.name RETURNING s.slot_name INTO slot;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'cdc sink "%" does not exist', drop_cdc_sink.name
			USING ERRCODE = 'undefined_object';
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_replication_slots r WHERE r.slot_name = slot) THEN
		BEGIN
			PERFORM pg_catalog.pg_drop_replication_slot(slot);
		EXCEPTION WHEN object_in_use THEN
			RAISE NOTICE 'replication slot "%" is in use; the cdc worker drops it', slot;
		END;
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.drop_cdc_sink(text) IS
	'drop a CDC sink and its replication slot (the Redis streams and position key stay)';
REVOKE ALL ON FUNCTION geoshard.drop_cdc_sink(text) FROM PUBLIC;

CREATE FUNCTION geoshard.enable_cdc_sink(name text)
	RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE geoshard.cdc_sinks s SET enabled = true WHERE s.name = enable_cdc_sink.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'cdc sink "%" does not exist', enable_cdc_sink.name
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.enable_cdc_sink(text) IS
	'resume publishing a CDC sink from where its slot stands';
REVOKE ALL ON FUNCTION geoshard.enable_cdc_sink(text) FROM PUBLIC;

-- A disabled sink keeps its slot, which keeps retaining WAL for it.
CREATE FUNCTION geoshard.disable_cdc_sink(name text)
	RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE geoshard.cdc_sinks s SET enabled = false WHERE s.name = disable_cdc_sink.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'cdc sink "%" does not exist', disable_cdc_sink.name
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.disable_cdc_sink(text) IS
	'pause publishing a CDC sink; its slot stays and retains WAL until the sink is enabled or dropped';
REVOKE ALL ON FUNCTION geoshard.disable_cdc_sink(text) FROM PUBLIC;

-- The worker's figures per sink, from shared memory (no passwords).
CREATE FUNCTION geoshard.cdc_status_state(OUT sink text, OUT state text, OUT redis_url text,
										  OUT last_id text, OUT last_lsn pg_lsn,
										  OUT behind_since timestamptz, OUT events_per_s float8,
										  OUT redis_rtt_ms float8, OUT published int8, OUT skipped int8,
										  OUT last_error text, OUT last_error_at timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cdc_status_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.cdc_status_state() IS
	'the cdc worker''s figures per sink as it keeps them in shared memory, Redis passwords masked';

-- Readable by PUBLIC: no password, no options (they may name tables).  The
-- state is the worker's: a sink just enabled or disabled changes state when
-- the worker has read the change (at once, see cdc_sinks_changed).
CREATE VIEW geoshard.cdc_status AS
	SELECT s.name AS sink, s.slot_name AS slot, s.enabled,
		   coalesce(w.state, CASE WHEN s.enabled THEN 'starting' ELSE 'disabled' END) AS state,
		   w.redis_url, s.stream_key, w.last_id, w.last_lsn,
		   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.confirmed_flush_lsn)::int8 AS lag_bytes,
		   coalesce(extract(epoch FROM pg_catalog.now() - w.behind_since), 0)::float8 AS lag_seconds,
		   w.events_per_s, w.redis_rtt_ms, w.published, w.skipped, w.last_error, w.last_error_at,
		   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.restart_lsn)::int8 AS retained_wal_bytes
	FROM geoshard.cdc_sinks s
	LEFT JOIN geoshard.cdc_status_state() w ON w.sink = s.name
	LEFT JOIN pg_catalog.pg_replication_slots r ON r.slot_name = s.slot_name;
COMMENT ON VIEW geoshard.cdc_status IS
	'one row per CDC sink: state, last published event, lag, throughput, Redis round trip, errors and retained WAL';
GRANT SELECT ON geoshard.cdc_status TO PUBLIC;

-- ===== ratelimit: GCRA rate limiting in shared memory (docs/ratelimit.md) =====

-- Application-facing, so executable by PUBLIC like route_region: keys are
-- shared by every role of a database.  A role that may call it can also fill
-- the table and evict other keys (docs/ratelimit.md#who-may-call-it); where
-- untrusted roles log in, REVOKE EXECUTE ... FROM PUBLIC and GRANT it to the
-- application's roles.
CREATE FUNCTION rate_limit(key text, per_second float8, burst int4, cost int4 DEFAULT 1)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'rate_limit'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION rate_limit(text, float8, int4, int4) IS
	'may a request of this cost on this key pass now, at per_second with up to burst at once (GCRA in shared memory); true consumes it';

CREATE FUNCTION rate_limit_info(key text, per_second float8, burst int4, cost int4 DEFAULT 1,
								OUT allowed boolean, OUT remaining int4,
								OUT retry_after float8, OUT reset_after float8)
	RETURNS record
	AS 'MODULE_PATHNAME', 'rate_limit_info'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION rate_limit_info(text, float8, int4, int4) IS
	'rate_limit''s decision with remaining requests, seconds until a retry may pass (infinity when cost > burst) and until the key is full again';

-- Counts only, but of every database's traffic: for pg_monitor, not PUBLIC.
CREATE FUNCTION geoshard.rate_limit_usage_state(OUT capacity int8, OUT entries int8,
												OUT active_keys int8, OUT evictions int8,
												OUT recycled int8, OUT allowed int8, OUT denied int8)
	RETURNS record
	AS 'MODULE_PATHNAME', 'rate_limit_usage_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.rate_limit_usage_state() IS
	'the shared table of rate-limited keys: capacity, entries taken, keys not full, evictions and decisions since start';
REVOKE ALL ON FUNCTION geoshard.rate_limit_usage_state() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION geoshard.rate_limit_usage_state() TO pg_monitor;

CREATE VIEW geoshard.rate_limit_usage AS
	SELECT * FROM geoshard.rate_limit_usage_state();
COMMENT ON VIEW geoshard.rate_limit_usage IS
	'one row on the shared table of rate-limited keys, for operators: a growing evictions count means geoshard.rate_limit_keys is too small';
REVOKE ALL ON geoshard.rate_limit_usage FROM PUBLIC;
GRANT SELECT ON geoshard.rate_limit_usage TO pg_monitor;

-- redisview: Redis views kept in step with committed rows (docs/redisview.md)

-- One row per view: which table, which kind, and how its rows map to Redis
-- keys, resolved from the options by geoshard.add_redis_view.  The source is
-- kept by schema and table name, not by oid: names survive pg_dump and
-- restore, oids do not.  The "geoshard redisview" worker reads the table
-- about once a second, so that changes take effect without a restart.
CREATE TABLE geoshard.redis_views (
	name text PRIMARY KEY,
	source_schema name NOT NULL,
	source_table name NOT NULL,
	kind text NOT NULL CHECK (kind IN ('geo', 'hash', 'presence', 'counter')),
	member_columns text[] NOT NULL,
	lat_column text,
	lon_column text,
	quadkey_column text,
	shard_level int4,
	field_columns text[],
	group_column text,
	value_column text,
	ttl_ms int8,
	enabled boolean NOT NULL DEFAULT true,
	options jsonb NOT NULL DEFAULT '{}',
	rebuild_requested_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE geoshard.redis_views IS
	'Redis views: tables whose rows the geoshard redisview worker keeps in Redis GEO sets, hashes, presence keys or counters (docs/redisview.md)';
SELECT pg_catalog.pg_extension_config_dump('geoshard.redis_views', '');

CREATE FUNCTION geoshard.add_redis_view(name text, source regclass, kind text, options jsonb DEFAULT '{}')
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	known text[];
	opt text;
	nsp name;
	rel name;
	relkind "char";
	pk text[];
	cols text[];
	members text[];
	v_lat text;
	v_lon text;
	v_qk text;
	v_level int4;
	v_fields text[];
	v_group text;
	v_value text;
	v_ttl int8;
	c text;

BEGIN
	IF name IS NULL OR name !~ '^[a-z0-9_]{1,50}$' THEN
		RAISE EXCEPTION 'invalid redis view name: "%"', name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A view name has 1 to 50 lower-case letters, digits or "_" (it is part of the view''s Redis keys).';
	END IF;
	IF source IS NULL THEN
		RAISE EXCEPTION 'redis view "%" needs a source table', name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF kind IS NULL OR kind NOT IN ('geo', 'hash', 'presence', 'counter') THEN
		RAISE EXCEPTION 'unrecognized redis view kind: "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The kinds are geo, hash, presence and counter.';
	END IF;
	IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
		RAISE EXCEPTION 'invalid options for redis view "%": %', name, options
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The options are a JSON object, such as {"member": "id"}.';
	END IF;
	known := CASE kind
		WHEN 'geo' THEN ARRAY['member', 'lat', 'lon', 'quadkey', 'shard_level']
		WHEN 'hash' THEN ARRAY['member', 'columns']
		WHEN 'presence' THEN ARRAY['member', 'ttl_ms', 'value']
		ELSE ARRAY['member', 'group', 'value'] END;
	FOR opt IN SELECT k FROM jsonb_object_keys(options) k LOOP
		IF NOT opt = ANY (known) THEN
			RAISE EXCEPTION 'unrecognized option for a % redis view: "%"', kind, opt
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('The options of a %s view are %s.', kind, array_to_string(known, ', '));
		END IF;
	END LOOP;

	SELECT n.nspname, c.relname, c.relkind INTO nsp, rel, relkind
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source;
	IF relkind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION 'cannot make a redis view of "%.%"', nsp, rel
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = 'The source of a redis view must be a table.';
	END IF;
	SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO cols
		FROM pg_attribute a WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped;
	SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum)) INTO pk
		FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
		WHERE i.indrelid = source AND i.indisprimary;
	IF pk IS NULL THEN
		RAISE EXCEPTION 'table "%.%" has no primary key', nsp, rel
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'A redis view names each row by primary key columns, which every change event carries.',
				  HINT = 'Add a primary key to the table.';
	END IF;

	-- member: the primary key, or some of its columns
	IF options ? 'member' THEN
		IF jsonb_typeof(options->'member') = 'string' THEN
			members := ARRAY[options->>'member'];
		ELSIF jsonb_typeof(options->'member') = 'array' THEN
			SELECT array_agg(x) INTO members FROM jsonb_array_elements_text(options->'member') x;
		END IF;
		IF members IS NULL OR cardinality(members) = 0 THEN
			RAISE EXCEPTION 'invalid option "member" for redis view "%": %', name, options->'member'
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'The member is a column name or an array of column names.';
		END IF;
		FOREACH c IN ARRAY members LOOP
			IF NOT c = ANY (cols) THEN
				RAISE EXCEPTION 'column "%" of option "member" does not exist in table "%.%"', c, nsp, rel
					USING ERRCODE = 'undefined_column';
			END IF;
			IF NOT c = ANY (pk) THEN
				RAISE EXCEPTION 'column "%" of option "member" is not part of the primary key of "%.%"', c, nsp, rel
					USING ERRCODE = 'invalid_parameter_value',
						  DETAIL = 'A delete event carries only the primary key, so the member must be made of its columns.';
			END IF;
		END LOOP;
	ELSE
		members := pk;
	END IF;

	IF kind = 'geo' THEN
		v_lat := coalesce(options->>'lat', CASE WHEN 'lat' = ANY (cols) AND NOT options ? 'quadkey' THEN 'lat' END);
		v_lon := coalesce(options->>'lon', CASE WHEN 'lon' = ANY (cols) AND NOT options ? 'quadkey' THEN 'lon' END);
		IF v_lat IS NULL OR v_lon IS NULL THEN
			v_lat := NULL;
			v_lon := NULL;
			v_qk := coalesce(options->>'quadkey', CASE WHEN 'quadkey' = ANY (cols) THEN 'quadkey' END);
			IF v_qk IS NULL THEN
				RAISE EXCEPTION 'table "%.%" has no lat/lon or quadkey columns for geo view "%"', nsp, rel, name
					USING ERRCODE = 'undefined_column',
						  HINT = 'Name them with the options "lat" and "lon", or "quadkey".';
			END IF;
		END IF;
		FOREACH c IN ARRAY array_remove(ARRAY[v_lat, v_lon, v_qk], NULL) LOOP
			IF NOT c = ANY (cols) THEN
				RAISE EXCEPTION 'column "%" does not exist in table "%.%"', c, nsp, rel
					USING ERRCODE = 'undefined_column';
			END IF;
		END LOOP;
		IF v_qk IS NOT NULL AND (SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
								 WHERE a.attrelid = source AND a.attname = v_qk) NOT LIKE '%quadkey' THEN
			RAISE EXCEPTION 'column "%" of table "%.%" is not of type quadkey', v_qk, nsp, rel
				USING ERRCODE = 'datatype_mismatch';
		END IF;
		IF options ? 'shard_level' THEN
			IF jsonb_typeof(options->'shard_level') <> 'number' OR (options->>'shard_level')::numeric NOT BETWEEN 1 AND 16
			   OR (options->>'shard_level')::numeric <> trunc((options->>'shard_level')::numeric) THEN
				RAISE EXCEPTION 'invalid option "shard_level" for redis view "%": %', name, options->'shard_level'
					USING ERRCODE = 'invalid_parameter_value',
						  DETAIL = 'The shard level is an integer from 1 to 16.';
			END IF;
			v_level := (options->>'shard_level')::int4;
		ELSE
			v_level := 10;
		END IF;
	ELSIF kind = 'hash' THEN
		IF options ? 'columns' THEN
			IF jsonb_typeof(options->'columns') = 'array' THEN
				SELECT array_agg(x) INTO v_fields FROM jsonb_array_elements_text(options->'columns') x;
			END IF;
			IF v_fields IS NULL OR cardinality(v_fields) = 0 THEN
				RAISE EXCEPTION 'invalid option "columns" for redis view "%": %', name, options->'columns'
					USING ERRCODE = 'invalid_parameter_value',
						  DETAIL = 'The columns are an array of column names.';
			END IF;
			FOREACH c IN ARRAY v_fields LOOP
				IF NOT c = ANY (cols) THEN
					RAISE EXCEPTION 'column "%" of option "columns" does not exist in table "%.%"', c, nsp, rel
						USING ERRCODE = 'undefined_column';
				END IF;
			END LOOP;
		ELSE
			v_fields := cols;
		END IF;
	ELSIF kind = 'presence' THEN
		IF NOT options ? 'ttl_ms' OR jsonb_typeof(options->'ttl_ms') <> 'number'
		   OR (options->>'ttl_ms')::numeric NOT BETWEEN 1 AND 2592000000
		   OR (options->>'ttl_ms')::numeric <> trunc((options->>'ttl_ms')::numeric) THEN
			RAISE EXCEPTION 'invalid option "ttl_ms" for redis view "%": %', name, coalesce(options->'ttl_ms', 'null')
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'A presence view needs "ttl_ms", an integer number of milliseconds from 1 to 2592000000 (30 days).';
		END IF;
		v_ttl := (options->>'ttl_ms')::int8;
		v_value := options->>'value';
	ELSE
		v_group := options->>'group';
		v_value := options->>'value';
		IF v_group IS NOT NULL AND NOT v_group = ANY (cols) THEN
			RAISE EXCEPTION 'column "%" of option "group" does not exist in table "%.%"', v_group, nsp, rel
				USING ERRCODE = 'undefined_column';
		END IF;
		IF v_value IS NOT NULL AND NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = source
											   AND a.attname = v_value AND a.atttypid IN (21, 23, 20)) THEN
			RAISE EXCEPTION 'column "%" of option "value" is not an integer column of table "%.%"', v_value, nsp, rel
				USING ERRCODE = CASE WHEN v_value = ANY (cols) THEN 'datatype_mismatch' ELSE 'undefined_column' END,
					  DETAIL = 'A counter adds up a smallint, integer or bigint column.';
		END IF;
	END IF;
	IF kind = 'presence' AND v_value IS NOT NULL AND NOT v_value = ANY (cols) THEN
		RAISE EXCEPTION 'column "%" of option "value" does not exist in table "%.%"', v_value, nsp, rel
			USING ERRCODE = 'undefined_column';
	END IF;

	IF EXISTS (SELECT FROM geoshard.redis_views v WHERE v.name = add_redis_view.name) THEN
		RAISE EXCEPTION 'redis view "%" already exists', name
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Drop it first with geoshard.drop_redis_view().';
	END IF;
	INSERT INTO geoshard.redis_views (name, source_schema, source_table, kind, member_columns,
									  lat_column, lon_column, quadkey_column, shard_level,
									  field_columns, group_column, value_column, ttl_ms, options)
	VALUES (name, nsp, rel, kind, members, v_lat, v_lon, v_qk, v_level, v_fields, v_group,
			v_value, v_ttl, options);
END;
$$;
COMMENT ON FUNCTION geoshard.add_redis_view(text, regclass, text, jsonb) IS
	'add a Redis view of a table (kind geo, hash, presence or counter), checked against the table; the redisview worker builds it';
REVOKE ALL ON FUNCTION geoshard.add_redis_view(text, regclass, text, jsonb) FROM PUBLIC;

CREATE FUNCTION geoshard.drop_redis_view(name text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM geoshard.redis_views v WHERE v.name = drop_redis_view.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'redis view "%" does not exist', name
			USING ERRCODE = 'undefined_object';
	END IF;
END;
$$;
COMMENT ON FUNCTION geoshard.drop_redis_view(text) IS
	'drop a Redis view; the redisview worker deletes its keys';
REVOKE ALL ON FUNCTION geoshard.drop_redis_view(text) FROM PUBLIC;

CREATE FUNCTION geoshard.rebuild_redis_view(name text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE geoshard.redis_views v SET rebuild_requested_at = clock_timestamp()
		WHERE v.name = rebuild_redis_view.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'redis view "%" does not exist', name
			USING ERRCODE = 'undefined_object';
	END IF;
END;
$$;
COMMENT ON FUNCTION geoshard.rebuild_redis_view(text) IS
	'ask the redisview worker to build a Redis view again from a snapshot, in a new key generation';
REVOKE ALL ON FUNCTION geoshard.rebuild_redis_view(text) FROM PUBLIC;

CREATE FUNCTION geoshard.redisview_state(OUT view text, OUT state text, OUT generation int8,
										 OUT lag_bytes int8, OUT lag_ms float8, OUT rows_per_s float8,
										 OUT keys int8, OUT applied int8, OUT skipped int8,
										 OUT build_rows int8, OUT build_total int8, OUT built_at timestamptz,
										 OUT last_error text, OUT last_error_at timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'redisview_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.redisview_state() IS
	'the redisview worker''s figures per Redis view, from shared memory';
REVOKE ALL ON FUNCTION geoshard.redisview_state() FROM PUBLIC;

-- retained_wal_bytes: the WAL the views' slot keeps on disk (one slot for
-- every view), what a Redis outage costs the database.
CREATE VIEW geoshard.redisview_status AS
	SELECT s.*,
		   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.restart_lsn)::int8 AS retained_wal_bytes
	FROM geoshard.redisview_state() s
	LEFT JOIN pg_catalog.pg_replication_slots r ON r.slot_name = 'geoshard_redisview';
COMMENT ON VIEW geoshard.redisview_status IS
	'one row per Redis view: state, live generation, lag (bytes, ms), rows/s, rows held, build progress, last error, retained WAL';
REVOKE ALL ON geoshard.redisview_status FROM PUBLIC;

-- The GEOSEARCH commands that answer "what is within radius_m of (lat, lon)"
-- on a geo view: one per GEO key (quadkey prefix at the view's shard level)
-- that the circle's cover touches, in the live generation.
CREATE FUNCTION geoshard.redis_view_search(view text, lat float8, lon float8, radius_m float8,
										   OUT key text, OUT command text)
	RETURNS SETOF record
	LANGUAGE plpgsql STABLE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v geoshard.redis_views;
	g int8;
BEGIN
	SELECT * INTO v FROM geoshard.redis_views r WHERE r.name = redis_view_search.view;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'redis view "%" does not exist', view
			USING ERRCODE = 'undefined_object';
	END IF;
	IF v.kind <> 'geo' THEN
		RAISE EXCEPTION 'redis view "%" is not a geo view', view
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = format('Its kind is %s.', v.kind);
	END IF;
	IF NOT radius_m > 0 OR radius_m > 1000000 THEN
		RAISE EXCEPTION 'radius % m is out of range', radius_m
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = 'The radius is from 0 (excluded) to 1000000 m.';
	END IF;
	SELECT s.generation INTO g FROM geoshard.redisview_status s WHERE s.view = v.name;
	IF g IS NULL THEN
		RAISE EXCEPTION 'redis view "%" is not built yet', view
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'See geoshard.redisview_status for its state.';
	END IF;
	RETURN QUERY
		SELECT k, format('GEOSEARCH %s FROMLONLAT %s %s BYRADIUS %s m ASC WITHCOORD WITHDIST', k, lon, lat, radius_m)
		FROM (SELECT format('geoshard:rv:%s:%s:%s', v.name, g, c::text) AS k
			  FROM @extschema@.quadkey_cover(lat, lon, radius_m, v.shard_level) c) keys
		ORDER BY k;
END;
$$;
COMMENT ON FUNCTION geoshard.redis_view_search(text, float8, float8, float8) IS
	'the Redis GEO keys of a geo view that a circle touches, and the GEOSEARCH command to run on each';
REVOKE ALL ON FUNCTION geoshard.redis_view_search(text, float8, float8, float8) FROM PUBLIC;

-- ===== raft: the consensus group's membership, durable state, log and replicated settings (docs/raft.md) =====

-- The members of the group as its committed configuration names them; written
-- only by the raft worker when it applies log entries, identical on every node.
CREATE TABLE geoshard.nodes (
	id bigint PRIMARY KEY CHECK (id > 0),
	name text NOT NULL UNIQUE CHECK (name <> ''),
	conninfo text NOT NULL,
	role text NOT NULL CHECK (role IN ('voter', 'standby', 'spare'))
);
COMMENT ON TABLE geoshard.nodes IS
	'members of the Raft group (id = geoshard.node_id), written by the raft worker from committed log entries (docs/raft.md)';

-- This node's durable Raft state: one row once the node bootstraps or joins a
-- group.  term and voted_for are made durable (synchronous commit) before any
-- message that depends on them is sent; applied_index moves in the same
-- transaction as the change it applies.
CREATE TABLE geoshard.raft_state (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	cluster_id uuid NOT NULL,
	node_id bigint NOT NULL CHECK (node_id > 0),
	term bigint NOT NULL DEFAULT 0 CHECK (term >= 0),
	voted_for bigint NOT NULL DEFAULT 0 CHECK (voted_for >= 0),
	applied_index bigint NOT NULL DEFAULT 0 CHECK (applied_index >= 0),
	snapshot_index bigint NOT NULL DEFAULT 0 CHECK (snapshot_index >= 0),
	snapshot_term bigint NOT NULL DEFAULT 0 CHECK (snapshot_term >= 0),
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE geoshard.raft_state IS
	'this node''s durable Raft state: cluster id, current term, vote, applied index and the last snapshot''s index (docs/raft.md)';

-- The Raft log from the entry after the last snapshot.  type: 'command'
-- (payload: a replicated command), 'barrier' (empty), 'change' (payload:
-- libraft's encoding of a membership configuration).
CREATE TABLE geoshard.raft_log (
	index bigint PRIMARY KEY CHECK (index > 0),
	term bigint NOT NULL CHECK (term > 0),
	type text NOT NULL CHECK (type IN ('command', 'barrier', 'change')),
	payload bytea NOT NULL
);
COMMENT ON TABLE geoshard.raft_log IS
	'this node''s Raft log entries: index, term, type and payload (docs/raft.md)';

-- Snapshots of the replicated tables at an applied index, kept or received in
-- chunks; complete once every chunk is stored.  The log is truncated behind
-- the newest complete one.
CREATE TABLE geoshard.raft_snapshots (
	index bigint PRIMARY KEY CHECK (index > 0),
	term bigint NOT NULL CHECK (term > 0),
	configuration bytea NOT NULL,
	configuration_index bigint NOT NULL CHECK (configuration_index > 0),
	size bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
	complete boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE geoshard.raft_snapshots IS
	'snapshots of the replicated tables: last included index and term, membership configuration, completeness (docs/raft.md)';

CREATE TABLE geoshard.raft_snapshot_chunks (
	index bigint NOT NULL REFERENCES geoshard.raft_snapshots ON DELETE CASCADE,
	"offset" bigint NOT NULL CHECK ("offset" >= 0),
	data bytea NOT NULL,
	PRIMARY KEY (index, "offset")
);
COMMENT ON TABLE geoshard.raft_snapshot_chunks IS
	'the data of geoshard.raft_snapshots, chunk by chunk at byte offsets (docs/raft.md)';

-- Replicated key/values that other areas read; on a node in a group they
-- change only through geoshard.raft_set_setting (the log), identically on
-- every node.
CREATE TABLE geoshard.settings (
	key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]{0,62}$'),
	value text NOT NULL,
	raft_index bigint NOT NULL DEFAULT 0 CHECK (raft_index >= 0)
);
COMMENT ON TABLE geoshard.settings IS
	'replicated settings (key, value, index of the log entry that last set it), written through geoshard.raft_set_setting (docs/raft.md)';
SELECT pg_catalog.pg_extension_config_dump('geoshard.settings', '');

-- On a node in a group, only the raft worker writes the replicated tables.
CREATE FUNCTION geoshard.raft_guard_dml() RETURNS trigger
	AS 'MODULE_PATHNAME', 'raft_guard_dml' LANGUAGE C;
COMMENT ON FUNCTION geoshard.raft_guard_dml() IS
	'trigger: refuses direct writes to a replicated table on a node in a raft group (the raft worker applies the log)';
REVOKE ALL ON FUNCTION geoshard.raft_guard_dml() FROM PUBLIC;
CREATE TRIGGER raft_guard
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.settings
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.raft_guard_dml();
ALTER TABLE geoshard.settings ENABLE ALWAYS TRIGGER raft_guard;
CREATE TRIGGER raft_guard
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.nodes
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.raft_guard_dml();
ALTER TABLE geoshard.nodes ENABLE ALWAYS TRIGGER raft_guard;

-- The catalogue is replicated too: on a node in a group, its functions
-- (add_region, split_shard, add_shard, ...) propose calls through the log and
-- the raft worker applies them by running the same functions.
CREATE TRIGGER raft_guard
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.regions
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.raft_guard_dml();
ALTER TABLE geoshard.regions ENABLE ALWAYS TRIGGER raft_guard;
CREATE TRIGGER raft_guard
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.geo_fences
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.raft_guard_dml();
ALTER TABLE geoshard.geo_fences ENABLE ALWAYS TRIGGER raft_guard;
CREATE TRIGGER raft_guard
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.shards
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.raft_guard_dml();
ALTER TABLE geoshard.shards ENABLE ALWAYS TRIGGER raft_guard;

CREATE FUNCTION geoshard.raft_proposing()
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'raft_proposing'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_proposing() IS
	'true when a catalogue function must propose its change through the raft log (a node in a group, outside the raft worker''s apply)';
REVOKE ALL ON FUNCTION geoshard.raft_proposing() FROM PUBLIC;

CREATE FUNCTION geoshard.raft_propose_call(call text, args text[])
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'raft_propose_call'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_propose_call(text, text[]) IS
	'propose a call of a catalogue function through the raft log; returns its index once applied here, or raises the error its apply raised';
REVOKE ALL ON FUNCTION geoshard.raft_propose_call(text, text[]) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_barrier()
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'geoshard_raft_barrier'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_barrier() IS
	'wait until this node applied everything the raft leader had committed when called (an empty entry through the log); returns its index';
REVOKE ALL ON FUNCTION geoshard.raft_barrier() FROM PUBLIC;

-- Followers call this on the leader to forward proposals; only the role of
-- the connection strings in geoshard.nodes (docs/raft.md: geoshard_raft) may.
CREATE FUNCTION geoshard.raft_forward(request bytea, OUT status text, OUT index bigint,
									  OUT leader bigint, OUT sqlstate text, OUT message text,
									  OUT detail text, OUT hint text)
	RETURNS record
	AS 'MODULE_PATHNAME', 'raft_forward'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_forward(bytea) IS
	'make a follower''s proposal on this node, the leader; answers ok or error (refused alike on every node) with the index, or not_leader (docs/raft.md)';
REVOKE ALL ON FUNCTION geoshard.raft_forward(bytea) FROM PUBLIC;

-- Peers call this on each other over libpq; only the role the operator grants
-- it to (docs/raft.md: geoshard_raft) may.
CREATE FUNCTION geoshard.raft_receive(messages bytea)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'raft_receive'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_receive(bytea) IS
	'validate a batch of Raft messages from a peer and queue it for the local raft worker; false when the queue is full (docs/raft.md)';
REVOKE ALL ON FUNCTION geoshard.raft_receive(bytea) FROM PUBLIC;

-- raft_receive that also returns this node's answer to the batch, so that a
-- round trip takes one call (docs/raft.md); granted like raft_receive.
CREATE FUNCTION geoshard.raft_exchange(messages bytea)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'raft_exchange'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_exchange(bytea) IS
	'as raft_receive, then wait (up to 50 ms) for the local raft worker''s answer to the batch and return it; NULL when the queue is full (docs/raft.md)';
REVOKE ALL ON FUNCTION geoshard.raft_exchange(bytea) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_bootstrap(name text, conninfo text)
	RETURNS uuid
	AS 'MODULE_PATHNAME', 'geoshard_raft_bootstrap'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_bootstrap(text, text) IS
	'create a Raft group with this node (geoshard.node_id) as its only voter, reachable at conninfo; returns the new cluster id';
REVOKE ALL ON FUNCTION geoshard.raft_bootstrap(text, text) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_join(cluster_id uuid)
	RETURNS void
	AS 'MODULE_PATHNAME', 'raft_join'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_join(uuid) IS
	'prepare this node to join the Raft group with the given cluster id; then call raft_add_node on its leader';
REVOKE ALL ON FUNCTION geoshard.raft_join(uuid) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_add_node(id bigint, name text, conninfo text)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'raft_add_node'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_add_node(bigint, text, text) IS
	'add a node through the log (forwarded to the leader) as a standby, then promote it to voter once caught up; returns the index of the promotion';
REVOKE ALL ON FUNCTION geoshard.raft_add_node(bigint, text, text) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_remove_node(id bigint)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'raft_remove_node'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_remove_node(bigint) IS
	'remove a member from the group through the log (forwarded to the leader); returns the index of the committed change';
REVOKE ALL ON FUNCTION geoshard.raft_remove_node(bigint) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_transfer_leadership(id bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'raft_transfer_leadership'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_transfer_leadership(bigint) IS
	'hand the leadership to another voter (forwarded to the leader); returns once this node sees it lead';
REVOKE ALL ON FUNCTION geoshard.raft_transfer_leadership(bigint) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_set_setting(key text, value text)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'raft_set_setting'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_set_setting(text, text) IS
	'set (value NULL: delete) a replicated setting through the log (forwarded to the leader); returns once committed and applied here, with the entry''s index';
REVOKE ALL ON FUNCTION geoshard.raft_set_setting(text, text) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_status_state(OUT node bigint, OUT role text, OUT term bigint,
										   OUT leader bigint, OUT commit_index bigint,
										   OUT applied_index bigint, OUT last_index bigint,
										   OUT cluster_id uuid, OUT last_contact timestamptz,
										   OUT snapshot_index bigint, OUT snapshot_term bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'raft_status_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_status_state() IS
	'this node''s Raft state as the raft worker publishes it in shared memory (behind the view raft_status)';
REVOKE ALL ON FUNCTION geoshard.raft_status_state() FROM PUBLIC;

CREATE VIEW geoshard.raft_status AS
	SELECT * FROM geoshard.raft_status_state();
COMMENT ON VIEW geoshard.raft_status IS
	'one row when this node is in a Raft group: node, role (leader, follower, candidate), term, leader, commit and applied index, last contact, last snapshot''s index and term';

CREATE FUNCTION geoshard.raft_peers_state(OUT node bigint, OUT connected boolean,
										  OUT match_index bigint, OUT lag bigint,
										  OUT last_rtt_ms float8, OUT last_contact timestamptz,
										  OUT last_error text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'raft_peers_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_peers_state() IS
	'the raft worker''s connections to its peers, from shared memory (behind the view raft_peers)';
REVOKE ALL ON FUNCTION geoshard.raft_peers_state() FROM PUBLIC;

CREATE VIEW geoshard.raft_peers AS
	SELECT p.node, n.name, p.connected, p.match_index, p.lag, p.last_rtt_ms, p.last_contact, p.last_error
	FROM geoshard.raft_peers_state() p LEFT JOIN geoshard.nodes n ON n.id = p.node;
COMMENT ON VIEW geoshard.raft_peers IS
	'one row per peer of this node: connected, match index and lag (known on the leader), last round trip, last contact, last error';

-- ===== observe: metrics (docs/observe.md) =====

-- Every metric of every area, from shared memory: the figures /metrics serves.
-- Executable by PUBLIC (behind the view): counts, breaker states and region
-- ids, which route_region shows to anyone; no endpoint, password or address.
CREATE FUNCTION geoshard.metrics_values(OUT name text, OUT labels jsonb, OUT type text,
										OUT value float8, OUT help text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'metrics_values'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.metrics_values() IS
	'every geoshard metric sample from shared memory (name, labels, type, value, help), as /metrics serves them';

CREATE VIEW geoshard.metrics AS
	SELECT * FROM geoshard.metrics_values();
COMMENT ON VIEW geoshard.metrics IS
	'geoshard''s metrics in SQL: one row per sample, named as on the Prometheus endpoint (docs/observe.md)';
GRANT SELECT ON geoshard.metrics TO PUBLIC;
