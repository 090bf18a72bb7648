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

-- crdt_merge_agg keeps its 0.1 definition (crdt_merge as transition and
-- combine function); the library makes it linear (src/crdt/merge_agg.c).

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
