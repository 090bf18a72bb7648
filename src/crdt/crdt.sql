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
