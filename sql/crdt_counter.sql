-- g_counter and pn_counter

SELECT '{}'::g_counter, '{"2":5,"1":3}'::g_counter, ' { "1" : 0 } '::g_counter;
SELECT crdt_value('{}'::g_counter), crdt_value('{"2":5,"1":3}'::g_counter);
SELECT '{"1":[3,1],"2":[0,5]}'::pn_counter, crdt_value('{"1":[3,1],"2":[0,5]}'::pn_counter), crdt_value('{}'::pn_counter);

-- malformed text
SELECT '{"1":3,"1":4}'::g_counter;
SELECT '{"1":-3}'::g_counter;
SELECT '{"1":3.5}'::g_counter;
SELECT '{"1":1e3}'::g_counter;
SELECT '{"1":9223372036854775808}'::g_counter;
SELECT '{"01":3}'::g_counter;
SELECT '{"0":3}'::g_counter;
SELECT '{"2147483648":3}'::g_counter;
SELECT '{"a":3}'::g_counter;
SELECT '{"1":3} x'::g_counter;
SELECT '{"1":3'::g_counter;
SELECT '[]'::g_counter;
SELECT '{"1":[3]}'::pn_counter;
SELECT '{"1":[3,1,2]}'::pn_counter;
SELECT '{"1":3}'::pn_counter;

-- mutators stamp this node
SELECT g_counter_inc('{}');
SET geoshard.node_id = 7;
SELECT g_counter_inc('{}'), g_counter_inc('{"7":1,"9":2}', 5), g_counter_inc('{"3":1,"9":2}', 2), g_counter_inc('{"1":1}', 0);
SELECT g_counter_inc('{}', -1);
SELECT g_counter_inc('{"7":9223372036854775807}');
SELECT pn_counter_add('{}', 4), pn_counter_add('{}', -4), pn_counter_add(pn_counter_add('{"1":[2,0]}', -1), 10);
SELECT pn_counter_add('{}', -9223372036854775808);
SELECT crdt_value(pn_counter_add('{"7":[9223372036854775807,0]}', -9223372036854775807));
SELECT g_counter_inc(NULL) IS NULL AS strict;

-- values that do not fit a bigint are an error, not a wrap-around
SELECT crdt_value('{"1":9223372036854775807,"2":1}'::g_counter);
SELECT crdt_value('{"1":[0,9223372036854775807],"2":[0,2]}'::pn_counter);
SELECT crdt_value('{"1":[9223372036854775807,0],"2":[0,9223372036854775807]}'::pn_counter);

-- merge: per-node maximum; NULL means "no state yet"
SELECT crdt_merge('{"1":5,"3":1}'::g_counter, '{"1":2,"2":7}'), '{"1":5}'::g_counter || '{"2":1}';
SELECT crdt_merge(NULL::g_counter, '{"1":1}'), crdt_merge('{"1":1}'::g_counter, NULL), crdt_merge(NULL::g_counter, NULL) IS NULL AS both_null;
SELECT crdt_merge('{"1":[5,1],"2":[0,3]}'::pn_counter, '{"1":[2,4]}');
SELECT crdt_merge_agg(c) FROM (VALUES ('{"1":1}'::g_counter), ('{"2":4}'), (NULL), ('{"1":3}')) v(c);
SELECT crdt_merge_agg(c) FROM (VALUES ('{"1":[1,2]}'::pn_counter), ('{"1":[0,3]}')) v(c);
SELECT crdt_merge_agg(c) IS NULL AS empty_agg FROM (SELECT '{}'::g_counter WHERE false) v(c);

-- the one-line upsert merge
CREATE TABLE going (pin int PRIMARY KEY, n g_counter NOT NULL DEFAULT '{}');
INSERT INTO going VALUES (1, g_counter_inc('{}'))
	ON CONFLICT (pin) DO UPDATE SET n = crdt_merge(going.n, EXCLUDED.n);
INSERT INTO going VALUES (1, '{"8":4}')
	ON CONFLICT (pin) DO UPDATE SET n = crdt_merge(going.n, EXCLUDED.n);
INSERT INTO going VALUES (1, '{"7":1}')
	ON CONFLICT (pin) DO UPDATE SET n = crdt_merge(going.n, EXCLUDED.n);
SELECT pin, n, crdt_value(n) FROM going;
DROP TABLE going;
RESET geoshard.node_id;

-- binary I/O
SELECT g_counter_send('{"1":5,"3":1}'), pn_counter_send('{"1":[5,1]}');
CREATE TABLE counter_copy (g g_counter, p pn_counter);
\set SHOW_CONTEXT never
CREATE FUNCTION copy_binary(g bytea, p bytea) RETURNS SETOF counter_copy LANGUAGE plpgsql AS $$
DECLARE
	oid oid := lo_from_bytea(0, '\x5047434f50590aff0d0a000000000000000000'::bytea || '\x0002'::bytea
		|| int4send(length(g)) || g || int4send(length(p)) || p || '\xffff'::bytea);
BEGIN
	PERFORM lo_export(oid, 'geoshard_counter.bin');
	PERFORM lo_unlink(oid);
	TRUNCATE counter_copy;
	COPY counter_copy FROM 'geoshard_counter.bin' (FORMAT binary);
	RETURN QUERY SELECT * FROM counter_copy;
END
$$;
SELECT * FROM copy_binary(g_counter_send('{"1":5,"3":1}'), pn_counter_send('{"1":[5,1]}'));
SELECT * FROM copy_binary(int4send(0), int4send(0));
-- nodes out of order, a repeated node, a negative count, node 0
SELECT * FROM copy_binary(int4send(2) || int4send(3) || int8send(5) || int4send(1) || int8send(1), int4send(0));
SELECT * FROM copy_binary(int4send(2) || int4send(1) || int8send(5) || int4send(1) || int8send(1), int4send(0));
SELECT * FROM copy_binary(int4send(1) || int4send(1) || int8send(-5), int4send(0));
SELECT * FROM copy_binary(int4send(1) || int4send(0) || int8send(5), int4send(0));
-- counts that the bytes cannot hold, before anything is allocated
SELECT * FROM copy_binary(int4send(2147483647) || int4send(1), int4send(0));
SELECT * FROM copy_binary(int4send(-1), int4send(0));
SELECT * FROM copy_binary(int4send(1) || int4send(1) || int4send(5), int4send(0));
-- a trailing byte, negative decrements
SELECT * FROM copy_binary(int4send(0), int4send(1) || int4send(1) || int8send(5) || int8send(1) || '\xff'::bytea);
SELECT * FROM copy_binary(int4send(0), int4send(1) || int4send(1) || int8send(5) || int8send(-1));
DROP FUNCTION copy_binary(bytea, bytea);
DROP TABLE counter_copy;
\set SHOW_CONTEXT errors

-- The supported patterns: a node increments the current row; states from
-- other nodes are merged in.  Merging two states of the same node is not a
-- sum: a node's count is a running total, so the merge keeps the larger
-- one.  Deltas built from '{}' on one node must be applied, not merged.
SET geoshard.node_id = 1;
CREATE TABLE hits (id int PRIMARY KEY, c g_counter NOT NULL DEFAULT '{}', p pn_counter NOT NULL DEFAULT '{}');
INSERT INTO hits (id) VALUES (1);
UPDATE hits SET c = g_counter_inc(c), p = pn_counter_add(p, 2);
UPDATE hits SET c = g_counter_inc(c, 2), p = pn_counter_add(p, -5);
SELECT c, crdt_value(c), p, crdt_value(p) FROM hits;
-- node 2's state arrives: its counts join node 1's
UPDATE hits SET c = crdt_merge(c, '{"2":10}'), p = crdt_merge(p, '{"2":[4,0]}');
SELECT c, crdt_value(c), p, crdt_value(p) FROM hits;
-- the same state arriving again changes nothing
UPDATE hits SET c = crdt_merge(c, '{"2":10}'), p = crdt_merge(p, '{"2":[4,0]}');
SELECT crdt_value(c), crdt_value(p) FROM hits;
-- two increments of node 1 built apart from '{}' and merged count once:
-- the larger of 2 and 3, not 5
SELECT crdt_value(crdt_merge(g_counter_inc('{}', 2), g_counter_inc('{}', 3))) AS same_node_merge,
	   crdt_value(g_counter_inc(g_counter_inc('{}', 2), 3)) AS applied;
-- and merged into the row, such a delta is lost when the row's count for
-- node 1 is already larger (3 here)
SELECT crdt_value(crdt_merge(c, g_counter_inc('{}', 2))) AS delta_merged,
	   crdt_value(g_counter_inc(c, 2)) AS delta_applied FROM hits;
-- equality and hashing: the same counts per node
SELECT '{"1":3,"2":10}'::g_counter = c AS equal_state, '{"1":3}'::g_counter = '{"1":3,"2":0}'::g_counter AS zero_entry_differs
FROM hits;
SELECT count(*) AS groups FROM (SELECT c FROM (VALUES ('{"1":1}'::g_counter), ('{"1":1}'), ('{"1":2}')) v(c) GROUP BY c) g;
DROP TABLE hits;
RESET geoshard.node_id;

-- empty or cut-off text
SELECT ''::g_counter;
SELECT '{"1":'::pn_counter;
SELECT '{"1":[1,'::pn_counter;
