-- or_set: add-wins observed-remove set (dots and a version vector)

SELECT '{}'::or_set, crdt_value('{}'::or_set);
SELECT '{"vv":{"2":1,"1":3},"elems":{"b":{"1":3},"a":{"2":1,"1":2}}}'::or_set;
SELECT crdt_value('{"vv":{"2":1,"1":3},"elems":{"b":{"1":3},"a":{"2":1,"1":2}}}'::or_set);
SELECT '{"vv":{"1":1},"elems":{"caf\u00e9 \"quoted\"":{"1":1}}}'::or_set;

-- malformed or inconsistent text
SELECT '{"vv":{"1":1},"elems":{"a":{"1":2}}}'::or_set;
SELECT '{"vv":{"1":3},"elems":{"a":{"1":2},"a":{"1":3}}}'::or_set;
SELECT '{"vv":{"1":3},"elems":{"a":{"1":2,"1":1}}}'::or_set;
SELECT '{"vv":{"1":3},"elems":{"a":{}}}'::or_set;
SELECT '{"vv":{"1":3}}'::or_set;
SELECT '{"vv":{"1":0},"elems":{}}'::or_set;
SELECT '{"vv":{"1":3},"elems":{"a":{"1":0}}}'::or_set;
SELECT '{"vv":{"1":3},"elems":[]}'::or_set;
SELECT '{"vv":{"1":3},"elems":{},"x":1}'::or_set;

SELECT or_set_add('{}', 'a');
SET geoshard.node_id = 1;
SELECT or_set_add(or_set_add('{}', 'b'), 'a') AS s1 \gset
SELECT :'s1'::or_set, crdt_value(:'s1'::or_set);
SELECT or_set_add(:'s1'::or_set, 'a') AS readd, or_set_remove(:'s1'::or_set, 'a') AS removed,
	   or_set_remove(:'s1'::or_set, 'zzz') AS not_there;

-- concurrent: node 2 adds c and removes b; node 1 removes a and re-adds b
SET geoshard.node_id = 2;
SELECT or_set_remove(or_set_add(:'s1'::or_set, 'c'), 'b') AS s2 \gset
SET geoshard.node_id = 1;
SELECT or_set_add(or_set_remove(:'s1'::or_set, 'a'), 'b') AS s3 \gset
SELECT crdt_merge(:'s2'::or_set, :'s3'::or_set);
-- b survives (node 1's add was not seen by node 2's remove), a stays removed
SELECT crdt_value(crdt_merge(:'s2'::or_set, :'s3'::or_set)) AS merged,
	   crdt_value(:'s2'::or_set || :'s3'::or_set) = crdt_value(:'s3'::or_set || :'s2'::or_set) AS commutes;
-- concurrent add and remove of the same element: add wins
SELECT crdt_value(crdt_merge(or_set_remove(:'s1'::or_set, 'a'), or_set_add(:'s1'::or_set, 'a'))) AS add_wins;
-- removes leave no tombstones
SELECT or_set_remove(or_set_remove(:'s1'::or_set, 'a'), 'b');
SELECT crdt_merge(NULL, :'s1'::or_set) = :'s1'::or_set::text AS null_side;
RESET geoshard.node_id;

-- binary I/O
SELECT or_set_send('{"vv":{"1":2},"elems":{"a":{"1":2}}}');
CREATE TABLE set_copy (s or_set);
\set SHOW_CONTEXT never
CREATE FUNCTION copy_binary(payload bytea) RETURNS SETOF or_set LANGUAGE plpgsql AS $$
DECLARE
	oid oid := lo_from_bytea(0, '\x5047434f50590aff0d0a000000000000000000'::bytea || '\x0001'::bytea
		|| int4send(length(payload)) || payload || '\xffff'::bytea);
BEGIN
	PERFORM lo_export(oid, 'geoshard_orset.bin');
	PERFORM lo_unlink(oid);
	TRUNCATE set_copy;
	COPY set_copy FROM 'geoshard_orset.bin' (FORMAT binary);
	RETURN QUERY SELECT s FROM set_copy;
END
$$;
SELECT copy_binary(or_set_send('{"vv":{"1":2,"3":1},"elems":{"a":{"1":2},"b":{"3":1}}}'));
-- a dot the version vector has not seen
SELECT copy_binary(int4send(1) || int4send(1) || int8send(1) || int4send(1) || int4send(1) || '\x61'::bytea
				   || int4send(1) || int4send(1) || int8send(2));
-- elements out of order
SELECT copy_binary(int4send(1) || int4send(1) || int8send(2) || int4send(2)
				   || int4send(1) || '\x62'::bytea || int4send(1) || int4send(1) || int8send(1)
				   || int4send(1) || '\x61'::bytea || int4send(1) || int4send(1) || int8send(2));
-- an element without dots, a length past the end, invalid UTF-8
SELECT copy_binary(int4send(1) || int4send(1) || int8send(1) || int4send(1) || int4send(1) || '\x61'::bytea || int4send(0));
SELECT copy_binary(int4send(1) || int4send(1) || int8send(1) || int4send(1) || int4send(99) || '\x61'::bytea);
SELECT copy_binary(int4send(1) || int4send(1) || int8send(1) || int4send(1) || int4send(1) || '\xff'::bytea
				   || int4send(1) || int4send(1) || int8send(1));
-- huge counts of version vector entries and elements
SELECT copy_binary(int4send(100000000));
SELECT copy_binary(int4send(0) || int4send(100000000));
DROP FUNCTION copy_binary(bytea);
DROP TABLE set_copy;
\set SHOW_CONTEXT errors
