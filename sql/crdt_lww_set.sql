-- lww_set: last-writer-wins element set, add wins ties

SELECT '{}'::lww_set, crdt_value('{}'::lww_set);
SELECT '{"b":{"rm":"2026-01-02T00:00:00.000Z/0@1","add":"2026-01-01T00:00:00.000Z/0@1"},"a":{"add":"2026-01-01T00:00:00.000Z/0@2"}}'::lww_set;
SELECT crdt_value('{"b":{"rm":"2026-01-02T00:00:00.000Z/0@1","add":"2026-01-01T00:00:00.000Z/0@1"},"a":{"add":"2026-01-01T00:00:00.000Z/0@2"}}'::lww_set);

-- malformed text
SELECT '{"a":{}}'::lww_set;
SELECT '{"a":{"add":"2026-01-01T00:00:00.000Z/0@1"},"a":{"rm":"2026-01-01T00:00:00.000Z/0@1"}}'::lww_set;
SELECT '{"a":{"add":"2026-01-01T00:00:00.000Z/0@1","add":"2026-01-02T00:00:00.000Z/0@1"}}'::lww_set;
SELECT '{"a":{"put":"2026-01-01T00:00:00.000Z/0@1"}}'::lww_set;
SELECT '{"a":{"add":1}}'::lww_set;
SELECT '{"a":["add"]}'::lww_set;

-- add, remove, and ties
SELECT lww_set_add('{}', 'x', hlc('2026-01-01', 0, 1)) AS a \gset
SELECT crdt_value(lww_set_remove(:'a'::lww_set, 'x', hlc('2026-01-01', 0, 1))) AS tie_add_wins,
	   crdt_value(lww_set_remove(:'a'::lww_set, 'x', hlc('2026-01-01', 1, 1))) AS later_remove,
	   crdt_value(lww_set_remove(:'a'::lww_set, 'x', hlc('2025-12-31', 0, 1))) AS earlier_remove,
	   crdt_value(lww_set_remove('{}', 'y', hlc('2026-01-01', 0, 1))) AS remove_unknown;
SELECT lww_set_add(:'a'::lww_set, 'x', hlc('2025-01-01', 0, 1)) AS older_add_ignored;
SELECT lww_set_add('{}', 'x');
SET geoshard.node_id = 5;
SELECT hlc_node(hlc(clock_timestamp(), 0, 5)) = 5 AS ok, crdt_value(lww_set_add('{}', 'x')) AS added_now;
RESET geoshard.node_id;

-- merge: the later of each stamp, per element
SELECT crdt_merge(lww_set_add('{}', 'y', hlc('2026-01-02', 0, 2)),
				  lww_set_remove(:'a'::lww_set, 'x', hlc('2026-01-03', 0, 1)));
SELECT crdt_value(crdt_merge_agg(s)) FROM (VALUES
	(lww_set_add('{}', 'p', hlc('2026-01-01', 0, 1))),
	(lww_set_remove('{}', 'p', hlc('2026-01-02', 0, 2))),
	(lww_set_add('{}', 'p', hlc('2026-01-03', 0, 3))),
	(lww_set_add('{}', 'q', hlc('2026-01-01', 0, 1)))) v(s);

-- binary I/O
SELECT lww_set_send('{"a":{"add":"2026-01-01T00:00:00.000Z/0@1"}}');
CREATE TABLE lset_copy (s lww_set);
\set SHOW_CONTEXT never
CREATE FUNCTION copy_binary(payload bytea) RETURNS SETOF lww_set LANGUAGE plpgsql AS $$
DECLARE
	oid oid := lo_from_bytea(0, '\x5047434f50590aff0d0a000000000000000000'::bytea || '\x0001'::bytea
		|| int4send(length(payload)) || payload || '\xffff'::bytea);
BEGIN
	PERFORM lo_export(oid, 'geoshard_lset.bin');
	PERFORM lo_unlink(oid);
	TRUNCATE lset_copy;
	COPY lset_copy FROM 'geoshard_lset.bin' (FORMAT binary);
	RETURN QUERY SELECT s FROM lset_copy;
END
$$;
SELECT copy_binary(lww_set_send('{"a":{"add":"2026-01-01T00:00:00.000Z/0@1","rm":"2026-01-02T00:00:00.000Z/0@1"}}'));
SELECT copy_binary(int4send(1) || int4send(1) || '\x61'::bytea || int4send(0));			-- no stamp
SELECT copy_binary(int4send(1) || int4send(1) || '\x61'::bytea || int4send(4));			-- unknown flag
SELECT copy_binary(int4send(1) || int4send(1) || '\x61'::bytea || int4send(1) || int8send(1) || int4send(-2));
SELECT copy_binary(int4send(2) || int4send(1) || '\x62'::bytea || int4send(1) || int8send(1) || int4send(1)
				   || int4send(1) || '\x61'::bytea || int4send(1) || int8send(1) || int4send(1));	-- out of order
SELECT copy_binary(int4send(1) || int4send(1) || '\x61'::bytea || int4send(1) || int8send(1));	-- truncated
SELECT copy_binary(int4send(50000000));
DROP FUNCTION copy_binary(bytea);
DROP TABLE lset_copy;
\set SHOW_CONTEXT errors

-- a remove applies only to an element the state holds: a remove built from
-- '{}' (never saw 'x') no longer drops an add it never observed
SELECT lww_set_remove('{}', 'x', hlc('2026-01-05', 0, 1)) = '{}'::lww_set AS unobserved_remove_is_noop;
SELECT crdt_value(crdt_merge(lww_set_add('{}', 'x', hlc('2026-01-01', 0, 1)),
							 lww_set_remove('{}', 'x', hlc('2026-01-05', 0, 1)))) AS kept;
-- removing an element already removed does not cancel a later add either
SELECT crdt_value(crdt_merge(lww_set_remove(lww_set_remove(:'a'::lww_set, 'x', hlc('2026-01-02', 0, 1)), 'x', hlc('2026-01-09', 0, 1)),
							 lww_set_add('{}', 'x', hlc('2026-01-05', 0, 2)))) AS later_add_kept;
-- a remove of an element the state holds still wins over earlier adds
SELECT crdt_value(crdt_merge(lww_set_remove(:'a'::lww_set, 'x', hlc('2026-01-05', 0, 1)),
							 lww_set_add('{}', 'x', hlc('2026-01-03', 0, 2)))) AS observed_remove_wins;
-- equal stamps from states built apart: add wins, whatever the order
SELECT crdt_value(lww_set_remove(:'a'::lww_set, 'x', hlc('2026-01-01', 0, 1)) || lww_set_add('{}', 'x', hlc('2026-01-01', 0, 1))) AS ab,
	   crdt_value(lww_set_add('{}', 'x', hlc('2026-01-01', 0, 1)) || lww_set_remove(:'a'::lww_set, 'x', hlc('2026-01-01', 0, 1))) AS ba;

-- stamps must name a node: node 0 is refused
\set VERBOSITY sqlstate
SELECT lww_set_add('{}', 'x', '2026-01-01T00:00:00.000Z/0@0');
\set VERBOSITY default
SELECT lww_set_remove(:'a'::lww_set, 'x', '2026-01-01T00:00:00.000Z/0@0');

-- equality: the same elements with the same stamps
SELECT :'a'::lww_set = lww_set_add('{}', 'x', hlc('2026-01-01', 0, 1)) AS same,
	   :'a'::lww_set <> lww_set_add('{}', 'x', hlc('2026-01-01', 0, 2)) AS other_stamp;

-- empty or cut-off text
SELECT ''::lww_set;
SELECT '{"a":{"add":"2026-01-01T00:00:00.000Z/0@1"'::lww_set;
