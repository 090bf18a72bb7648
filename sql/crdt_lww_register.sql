-- lww_register: a jsonb value stamped with an hlc; the later stamp wins

SELECT '{"ts":"2026-11-23T23:15:47.123Z/5@7","value":{"b":[1,2,{"c":null}]}}'::lww_register;
SELECT ' { "value" : "x" , "ts" : "2026-11-23T23:15:47.123Z/5@7" } '::lww_register;
SELECT crdt_value('{"ts":"2026-11-23T23:15:47.123Z/5@7","value":[1,"a"]}'::lww_register),
	   lww_register_ts('{"ts":"2026-11-23T23:15:47.123Z/5@7","value":[1,"a"]}'::lww_register);

-- malformed text
SELECT '{"value":1}'::lww_register;
SELECT '{"ts":"2026-11-23T23:15:47.123Z/5@7"}'::lww_register;
SELECT '{"ts":"2026-11-23T23:15:47.123Z/5@7","value":1,"value":2}'::lww_register;
SELECT '{"ts":"yesterday","value":1}'::lww_register;
SELECT '{"ts":"2026-11-23T23:15:47.123Z/5@7","value":[1,}'::lww_register;
SELECT '{"ts":"2026-11-23T23:15:47.123Z/5@7","value":1,"other":2}'::lww_register;
SELECT '{"ts":"2026-11-23T23:15:47.123Z/5@7","value":1}]'::lww_register;

-- writes: now by this node, or at a given stamp
SELECT lww_register('{"a":1}'::jsonb);
SET geoshard.node_id = 4;
SELECT hlc_node(lww_register_ts(lww_register('{"a":1}'::jsonb))) AS node,
	   crdt_value(lww_register('{"a":1}'::jsonb)) AS value;
SELECT lww_register('"x"'::jsonb, '2026-11-23T23:15:47.123Z/5@7');

-- merge: later stamp; same time: higher node; same stamp: greater value
SELECT crdt_value(crdt_merge(lww_register('1', hlc('2026-01-01', 1, 1)), lww_register('2', hlc('2026-01-01', 0, 9)))) AS later_time,
	   crdt_value(crdt_merge(lww_register('1', hlc('2026-01-01', 0, 2)), lww_register('2', hlc('2026-01-01', 0, 1)))) AS higher_node,
	   crdt_value(crdt_merge(lww_register('1', hlc('2026-01-01', 0, 1)), lww_register('2', hlc('2026-01-01', 0, 1)))) AS greater_value,
	   crdt_value(crdt_merge(lww_register('2', hlc('2026-01-01', 0, 1)), lww_register('1', hlc('2026-01-01', 0, 1)))) AS either_order;
SELECT lww_register('1', hlc('2026-01-01', 0, 1)) || NULL, crdt_merge(NULL, lww_register('1', hlc('2026-01-01', 0, 1)));
SELECT crdt_value(crdt_merge_agg(r)) FROM (VALUES
	(lww_register('"a"', hlc('2026-01-01', 0, 1))), (lww_register('"c"', hlc('2026-01-03', 0, 1))),
	(lww_register('"b"', hlc('2026-01-02', 0, 1)))) v(r);

-- offline edits of one pin on two phones converge in an upsert
CREATE TABLE pin_titles (pin int PRIMARY KEY, title lww_register NOT NULL);
INSERT INTO pin_titles VALUES (1, lww_register('"Quiet room"', hlc('2026-03-01 10:00', 0, 1)));
INSERT INTO pin_titles VALUES (1, lww_register('"Quiet room, 2nd floor"', hlc('2026-03-01 10:05', 0, 2)))
	ON CONFLICT (pin) DO UPDATE SET title = crdt_merge(pin_titles.title, EXCLUDED.title);
INSERT INTO pin_titles VALUES (1, lww_register('"Study room"', hlc('2026-03-01 10:02', 0, 1)))
	ON CONFLICT (pin) DO UPDATE SET title = crdt_merge(pin_titles.title, EXCLUDED.title);
SELECT pin, crdt_value(title) FROM pin_titles;
DROP TABLE pin_titles;
RESET geoshard.node_id;

-- binary I/O
SELECT lww_register_send('{"ts":"2026-11-23T23:15:47.123Z/5@7","value":[1]}');
CREATE TABLE reg_copy (r lww_register);
\set SHOW_CONTEXT never
CREATE FUNCTION copy_binary(payload bytea) RETURNS SETOF lww_register LANGUAGE plpgsql AS $$
DECLARE
	oid oid := lo_from_bytea(0, '\x5047434f50590aff0d0a000000000000000000'::bytea || '\x0001'::bytea
		|| int4send(length(payload)) || payload || '\xffff'::bytea);
BEGIN
	PERFORM lo_export(oid, 'geoshard_reg.bin');
	PERFORM lo_unlink(oid);
	TRUNCATE reg_copy;
	COPY reg_copy FROM 'geoshard_reg.bin' (FORMAT binary);
	RETURN QUERY SELECT r FROM reg_copy;
END
$$;
SELECT copy_binary(lww_register_send('{"ts":"2026-11-23T23:15:47.123Z/5@7","value":{"k":[1,2]}}'));
SELECT copy_binary(int8send(1) || int4send(-1) || int4send(1) || '\x31'::bytea);		-- negative node
SELECT copy_binary(int8send(1) || int4send(1) || int4send(100) || '\x31'::bytea);	-- length past the end
SELECT copy_binary(int8send(1) || int4send(1) || int4send(2) || '\x7b31'::bytea);	-- not JSON
DROP FUNCTION copy_binary(bytea);
DROP TABLE reg_copy;
\set SHOW_CONTEXT errors

-- stamps must name a node: node 0 is refused
\set VERBOSITY sqlstate
SELECT lww_register('1'::jsonb, '2026-01-01T00:00:00.000Z/0@0');
\set VERBOSITY default
SELECT lww_register('1'::jsonb, '2026-01-01T00:00:00.000Z/0@0');

-- equality: the same stamp and the same stored value; hashing agrees
SELECT lww_register('1'::jsonb, hlc('2026-01-01', 0, 1)) = lww_register('1'::jsonb, hlc('2026-01-01', 0, 1)) AS same,
	   lww_register('1'::jsonb, hlc('2026-01-01', 0, 1)) = lww_register('1'::jsonb, hlc('2026-01-01', 0, 2)) AS other_stamp;
SELECT count(DISTINCT r::text) AS states FROM (SELECT DISTINCT r FROM (VALUES
	(lww_register('1'::jsonb, hlc('2026-01-01', 0, 1))), (lww_register('1'::jsonb, hlc('2026-01-01', 0, 1))),
	(lww_register('2'::jsonb, hlc('2026-01-01', 0, 1)))) v(r)) d;
-- 1 and 1.0 are equal jsonb but different states; the merge still commutes
SELECT lww_register('1'::jsonb, hlc('2026-01-01', 0, 1)) || lww_register('1.0'::jsonb, hlc('2026-01-01', 0, 1))
	 = lww_register('1.0'::jsonb, hlc('2026-01-01', 0, 1)) || lww_register('1'::jsonb, hlc('2026-01-01', 0, 1)) AS commutes;

-- empty or cut-off text
SELECT ''::lww_register;
SELECT '{"ts":"2026-11-23T23:15:47.123Z/5@7","value":{"a":'::lww_register;
