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
