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

-- ===== crdt =====

-- crdt_merge_agg changes its transition type (internal, merged as a tree):
-- an aggregate's state type cannot be altered, so it is dropped and created
-- again.  A view that uses crdt_merge_agg blocks this DROP; recreate such a
-- view after the update (docs/operations.md).
DROP AGGREGATE crdt_merge_agg(g_counter);
DROP AGGREGATE crdt_merge_agg(pn_counter);
DROP AGGREGATE crdt_merge_agg(lww_register);
DROP AGGREGATE crdt_merge_agg(or_set);
DROP AGGREGATE crdt_merge_agg(lww_set);

-- crdt_merge_agg: an internal transition state merged as a balanced tree,
-- so a column of n states costs about n log n, not n^2 (src/crdt/merge_agg.c)

CREATE FUNCTION crdt_merge_agg_trans(internal, g_counter) RETURNS internal
	AS 'MODULE_PATHNAME', 'g_counter_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_trans(internal, pn_counter) RETURNS internal
	AS 'MODULE_PATHNAME', 'pn_counter_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_trans(internal, lww_register) RETURNS internal
	AS 'MODULE_PATHNAME', 'lww_register_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_trans(internal, or_set) RETURNS internal
	AS 'MODULE_PATHNAME', 'or_set_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_trans(internal, lww_set) RETURNS internal
	AS 'MODULE_PATHNAME', 'lww_set_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_final(internal, g_counter) RETURNS g_counter
	AS 'MODULE_PATHNAME', 'crdt_merge_agg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_final(internal, pn_counter) RETURNS pn_counter
	AS 'MODULE_PATHNAME', 'crdt_merge_agg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_final(internal, lww_register) RETURNS lww_register
	AS 'MODULE_PATHNAME', 'crdt_merge_agg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_final(internal, or_set) RETURNS or_set
	AS 'MODULE_PATHNAME', 'crdt_merge_agg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_final(internal, lww_set) RETURNS lww_set
	AS 'MODULE_PATHNAME', 'crdt_merge_agg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_serial(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crdt_merge_agg_deserial(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE AGGREGATE crdt_merge_agg(g_counter) (
	SFUNC = crdt_merge_agg_trans, STYPE = internal,
	FINALFUNC = crdt_merge_agg_final, FINALFUNC_EXTRA,
	COMBINEFUNC = crdt_merge_agg_combine,
	SERIALFUNC = crdt_merge_agg_serial, DESERIALFUNC = crdt_merge_agg_deserial,
	PARALLEL = SAFE);
CREATE AGGREGATE crdt_merge_agg(pn_counter) (
	SFUNC = crdt_merge_agg_trans, STYPE = internal,
	FINALFUNC = crdt_merge_agg_final, FINALFUNC_EXTRA,
	COMBINEFUNC = crdt_merge_agg_combine,
	SERIALFUNC = crdt_merge_agg_serial, DESERIALFUNC = crdt_merge_agg_deserial,
	PARALLEL = SAFE);
CREATE AGGREGATE crdt_merge_agg(lww_register) (
	SFUNC = crdt_merge_agg_trans, STYPE = internal,
	FINALFUNC = crdt_merge_agg_final, FINALFUNC_EXTRA,
	COMBINEFUNC = crdt_merge_agg_combine,
	SERIALFUNC = crdt_merge_agg_serial, DESERIALFUNC = crdt_merge_agg_deserial,
	PARALLEL = SAFE);
CREATE AGGREGATE crdt_merge_agg(or_set) (
	SFUNC = crdt_merge_agg_trans, STYPE = internal,
	FINALFUNC = crdt_merge_agg_final, FINALFUNC_EXTRA,
	COMBINEFUNC = crdt_merge_agg_combine,
	SERIALFUNC = crdt_merge_agg_serial, DESERIALFUNC = crdt_merge_agg_deserial,
	PARALLEL = SAFE);
CREATE AGGREGATE crdt_merge_agg(lww_set) (
	SFUNC = crdt_merge_agg_trans, STYPE = internal,
	FINALFUNC = crdt_merge_agg_final, FINALFUNC_EXTRA,
	COMBINEFUNC = crdt_merge_agg_combine,
	SERIALFUNC = crdt_merge_agg_serial, DESERIALFUNC = crdt_merge_agg_deserial,
	PARALLEL = SAFE);

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
COMMENT ON FUNCTION crdt_merge_agg_trans(internal, g_counter) IS 'crdt_merge_agg(g_counter) support: collect a state';
COMMENT ON FUNCTION crdt_merge_agg_final(internal, g_counter) IS 'crdt_merge_agg(g_counter) support: the merged state';
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
COMMENT ON FUNCTION crdt_merge_agg_trans(internal, pn_counter) IS 'crdt_merge_agg(pn_counter) support: collect a state';
COMMENT ON FUNCTION crdt_merge_agg_final(internal, pn_counter) IS 'crdt_merge_agg(pn_counter) support: the merged state';
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
COMMENT ON FUNCTION crdt_merge_agg_trans(internal, lww_register) IS 'crdt_merge_agg(lww_register) support: collect a state';
COMMENT ON FUNCTION crdt_merge_agg_final(internal, lww_register) IS 'crdt_merge_agg(lww_register) support: the merged state';
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
COMMENT ON FUNCTION crdt_merge_agg_trans(internal, or_set) IS 'crdt_merge_agg(or_set) support: collect a state';
COMMENT ON FUNCTION crdt_merge_agg_final(internal, or_set) IS 'crdt_merge_agg(or_set) support: the merged state';
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
COMMENT ON FUNCTION crdt_merge_agg_trans(internal, lww_set) IS 'crdt_merge_agg(lww_set) support: collect a state';
COMMENT ON FUNCTION crdt_merge_agg_final(internal, lww_set) IS 'crdt_merge_agg(lww_set) support: the merged state';
COMMENT ON FUNCTION lww_set_eq(lww_set, lww_set) IS 'equal lww_set states: the same state byte for byte, not merely the same value';
COMMENT ON FUNCTION lww_set_ne(lww_set, lww_set) IS 'different lww_set states';
COMMENT ON OPERATOR = (lww_set, lww_set) IS 'equal lww_set states: the same state byte for byte, not merely the same value';
COMMENT ON OPERATOR <> (lww_set, lww_set) IS 'different lww_set states';
COMMENT ON FUNCTION lww_set_hash(lww_set) IS 'hash support for lww_set';
COMMENT ON FUNCTION lww_set_hash_extended(lww_set, int8) IS 'hash support for lww_set, with a seed';
COMMENT ON FUNCTION crdt_merge_agg_combine(internal, internal) IS 'crdt_merge_agg support: join two partial states';
COMMENT ON FUNCTION crdt_merge_agg_serial(internal) IS 'crdt_merge_agg support: a partial state as bytes, for parallel workers';
COMMENT ON FUNCTION crdt_merge_agg_deserial(bytea, internal) IS 'crdt_merge_agg support: a partial state from bytes';
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
