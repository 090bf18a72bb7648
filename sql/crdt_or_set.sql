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
-- dots are times of the node's clock: shown masked as N
CREATE FUNCTION masked(s or_set) RETURNS text LANGUAGE sql IMMUTABLE
	RETURN regexp_replace(s::text, '[0-9]{15,}', 'N', 'g');
SELECT or_set_add(or_set_add('{}', 'b'), 'a') AS s1 \gset
SELECT masked(:'s1'), crdt_value(:'s1'::or_set);
-- a re-add retires the old dot to the cloud; a remove retires its dots
SELECT masked(or_set_add(:'s1'::or_set, 'a')) AS readd, masked(or_set_remove(:'s1'::or_set, 'a')) AS removed,
	   or_set_remove(:'s1'::or_set, 'zzz') = :'s1'::or_set AS not_there_unchanged;

-- concurrent: node 2 adds c and removes b; node 1 removes a and re-adds b
SET geoshard.node_id = 2;
SELECT or_set_remove(or_set_add(:'s1'::or_set, 'c'), 'b') AS s2 \gset
SET geoshard.node_id = 1;
SELECT or_set_add(or_set_remove(:'s1'::or_set, 'a'), 'b') AS s3 \gset
SELECT masked(crdt_merge(:'s2'::or_set, :'s3'::or_set));
-- b survives (node 1's add was not seen by node 2's remove), a stays removed
SELECT crdt_value(crdt_merge(:'s2'::or_set, :'s3'::or_set)) AS merged,
	   :'s2'::or_set || :'s3'::or_set = :'s3'::or_set || :'s2'::or_set AS commutes;
-- concurrent add and remove of the same element: add wins
SELECT crdt_value(crdt_merge(or_set_remove(:'s1'::or_set, 'a'), or_set_add(:'s1'::or_set, 'a'))) AS add_wins;
-- removed dots stay in the context: merging the old state back changes nothing
SELECT crdt_value(crdt_merge(or_set_remove(or_set_remove(:'s1'::or_set, 'a'), 'b'), :'s1'::or_set)) AS stays_removed;
SELECT crdt_merge(NULL, :'s1'::or_set) = :'s1'::or_set AS null_side, crdt_merge(NULL::or_set, NULL) IS NULL AS both_null;

-- states built independently on one node never lose each other's elements
SELECT crdt_value(crdt_merge(or_set_add('{}', 'a'), or_set_add('{}', 'b'))) AS independent;
SELECT crdt_value(crdt_merge(or_set_remove(or_set_add('{}', 'a'), 'a'), or_set_add('{}', 'a'))) AS other_add_survives;
SELECT cardinality(crdt_value(crdt_merge_agg(or_set_add('{}', 'e' || g)))) AS all_20000
FROM generate_series(1, 20000) g;
-- 0.1 values (counters 1, 2, ... per row) still merge with new ones
SELECT masked('{"vv":{"1":2},"elems":{"a":{"1":1},"b":{"1":2}}}'::or_set || or_set_add('{}', 'c')) AS legacy_and_new;
SELECT crdt_value('{"vv":{"1":2},"elems":{"a":{"1":1},"b":{"1":2}}}'::or_set || '{"vv":{"1":2},"elems":{"b":{"1":2}}}') AS legacy_remove;
-- ... but two 0.1 states built apart on one node reused dot (1, 1): refused
\set VERBOSITY sqlstate
SELECT '{"vv":{"1":1},"elems":{"a":{"1":1}}}'::or_set || '{"vv":{"1":1},"elems":{"b":{"1":1}}}';
\set VERBOSITY default
SELECT '{"vv":{"1":1},"elems":{"a":{"1":1}}}'::or_set || '{"vv":{"1":1},"elems":{"b":{"1":1}}}';
RESET geoshard.node_id;

-- the cloud and several dots of one node in the text form
SELECT '{"vv":{"1":1},"elems":{"a":{"1":1,"2":[5,9]}},"cloud":{"2":[3,4],"3":7}}'::or_set;
SELECT crdt_value('{"vv":{},"elems":{"a":{"2":5}}}'::or_set || '{"vv":{},"elems":{},"cloud":{"2":5}}') AS removed_by_cloud,
	   crdt_value('{"vv":{},"elems":{"a":{"2":5}}}'::or_set || '{"vv":{},"elems":{},"cloud":{"2":4}}') AS other_dot_kept;
SELECT '{"vv":{"1":5},"elems":{},"cloud":{"1":3}}'::or_set;
SELECT '{"vv":{},"elems":{"a":{"2":5}},"cloud":{"2":5}}'::or_set;
SELECT '{"vv":{},"elems":{"a":{"2":5},"b":{"2":5}}}'::or_set;
SELECT '{"vv":{},"elems":{"a":{"2":[5,4]}}}'::or_set;
SELECT '{"vv":{},"elems":{"a":{"2":[]}}}'::or_set;
SELECT '{"vv":{"1":[1,2]},"elems":{}}'::or_set;
SELECT '{"vv":{},"elems":{},"cloud":{"2":[1,2],"2":3}}'::or_set;

-- empty or cut-off text
SELECT ''::or_set;
SELECT '{"vv":'::or_set;
SELECT '{"vv":{"1":1},"elems":{"a":{"1":[1,'::or_set;

-- equality is sameness of state, not of value
SELECT '{"vv":{"1":1},"elems":{"a":{"1":1}}}'::or_set = '{"elems":{"a":{"1":1}},"vv":{"1":1}}'::or_set AS same,
	   '{"vv":{"1":1},"elems":{"a":{"1":1}}}'::or_set = '{"vv":{"1":2},"elems":{"a":{"1":1}}}'::or_set AS other_context;
SELECT count(*) AS rows, count(DISTINCT s::text) AS states FROM (
	SELECT DISTINCT s FROM (VALUES ('{}'::or_set), ('{}'), ('{"vv":{"1":1},"elems":{"a":{"1":1}}}'), ('{"vv":{"1":1},"elems":{"a":{"1":1}}}')) v(s)) d;

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
-- a dot the version vector has not seen (fine since 0.2: dots of present elements are in the context)
SELECT copy_binary(int4send(1) || int4send(1) || int8send(1) || int4send(1) || int4send(1) || '\x61'::bytea
				   || int4send(1) || int4send(1) || int8send(2));
-- a cloud travels after the elements, only when there is one
SELECT or_set_send('{"vv":{},"elems":{},"cloud":{"2":3}}');
SELECT copy_binary(or_set_send('{"vv":{"1":1},"elems":{"a":{"1":1,"2":[5,9]}},"cloud":{"2":[3,4]}}'));
SELECT copy_binary(int4send(0) || int4send(0) || int4send(2) || int4send(2) || int8send(3) || int4send(2) || int8send(3));	-- cloud repeated
SELECT copy_binary(int4send(0) || int4send(0) || int4send(5));	-- cloud count past the end
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
DROP FUNCTION masked(or_set);
DROP TABLE set_copy;
\set SHOW_CONTEXT errors
