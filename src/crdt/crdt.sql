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
