-- the geoshard output plugin: every operation, ids, messages, truncate,
-- TOAST, replica identity, keyless tables, the quadkey enrichment
--
-- LSNs, xids and commit times vary from run to run: cdc_get() prints each
-- event with them replaced by X/X, N and T (the id keeps its position), and
-- keeps the raw events in cdc_log, whose checks at the end prove what the
-- placeholders hide (ids strictly increasing, the id's LSN = commit_lsn...).
SET client_min_messages = warning;
CREATE TEMP TABLE cdc_log (n bigserial, data text);	-- temp: never decoded
CREATE FUNCTION cdc_norm(data text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(data,
		'^\{"id":"\d+-', '{"id":"C-'),
		'"(lsn|commit_lsn)":"[0-9A-F]+/[0-9A-F]+"', '"\1":"X/X"', 'g'),
		'"xid":\d+', '"xid":N'),
		'"timestamp":"[^"]+"', '"timestamp":"T"')
$$;
CREATE FUNCTION cdc_get(slot name, VARIADIC options text[] DEFAULT '{}') RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	d text;
BEGIN
	FOR d IN SELECT data FROM pg_logical_slot_get_changes(slot, NULL, NULL, VARIADIC options) LOOP
		INSERT INTO cdc_log (data) VALUES (d);
		RETURN NEXT cdc_norm(d);
	END LOOP;
END
$$;
CREATE TEMP TABLE saved_shards AS SELECT * FROM geoshard.shards;
DELETE FROM geoshard.shards;
CREATE TEMP TABLE started AS SELECT now() AS t;
RESET client_min_messages;

SELECT 'init' FROM pg_create_logical_replication_slot('cdc', 'geoshard');

-- insert, update, delete, with begin and commit records
CREATE TABLE pins (id int PRIMARY KEY, note text, score numeric);
INSERT INTO pins VALUES (1, 'first', 1.5);
UPDATE pins SET note = 'moved' WHERE id = 1;
UPDATE pins SET id = 2 WHERE id = 1;
DELETE FROM pins WHERE id = 2;
SELECT cdc_get('cdc', 'include-begin-commit', 'on');
-- include-old: the old key (REPLICA IDENTITY DEFAULT logs it only when it changed)
INSERT INTO pins VALUES (1, 'a', 1);
UPDATE pins SET note = 'b' WHERE id = 1;
UPDATE pins SET id = 3 WHERE id = 1;
DELETE FROM pins WHERE id = 3;
SELECT cdc_get('cdc', 'include-old', 'on');

-- several changes in one transaction: positions 1..n, commit n+1, begin 0
BEGIN;
INSERT INTO pins VALUES (10, 'x', 0), (11, 'y', 0);
UPDATE pins SET score = score + 1;
DELETE FROM pins WHERE id = 10;
COMMIT;
SELECT cdc_get('cdc', 'include-begin-commit', 'on');
-- ids are counted over every change, printed or not: with only deletes
-- printed, the delete keeps position 5, begin/commit 0 and 6
BEGIN;
INSERT INTO pins VALUES (20, 'x', 0), (21, 'y', 0);
UPDATE pins SET score = score + 1 WHERE id >= 20;
DELETE FROM pins WHERE id = 20;
COMMIT;
SELECT cdc_get('cdc', 'include-begin-commit', 'on', 'actions', 'delete');
-- a rolled back transaction and a rolled back subtransaction leave nothing
BEGIN; INSERT INTO pins VALUES (30, 'gone', 0); ROLLBACK;
BEGIN;
INSERT INTO pins VALUES (31, 'kept', 0);
SAVEPOINT s; INSERT INTO pins VALUES (32, 'gone', 0); ROLLBACK TO s;
INSERT INTO pins VALUES (33, 'kept', 0);
COMMIT;
SELECT cdc_get('cdc');
DELETE FROM pins;
SELECT count(*) FROM cdc_get('cdc');

-- messages: transactional ones take a position in their transaction;
-- non-transactional ones have their own LSN as id, position 0; content
-- that is not valid text in the database encoding is base64
BEGIN;
INSERT INTO pins VALUES (40, 'outbox', 0);
SELECT 'msg' FROM pg_logical_emit_message(true, 'outbox.pins', '{"pin": 40, "text": "a \"quoted\" line
break"}');
SELECT 'msg' FROM pg_logical_emit_message(false, 'heartbeat', 'tick');
COMMIT;
SELECT 'msg' FROM pg_logical_emit_message(false, 'binary', '\x00ff10'::bytea);
SELECT 'msg' FROM pg_logical_emit_message(true, 'binary', '\xc328'::bytea);
SELECT 'msg' FROM pg_logical_emit_message(true, 'utf8', convert_to('caf' || chr(233), 'UTF8'));
SELECT cdc_get('cdc', 'include-begin-commit', 'on');
-- the message prefix filters
SELECT 'msg' FROM pg_logical_emit_message(true, 'outbox.pins', 'a');
SELECT 'msg' FROM pg_logical_emit_message(true, 'outbox.users', 'b');
SELECT 'msg' FROM pg_logical_emit_message(false, 'heartbeat', 'c');
SELECT 'msg' FROM pg_logical_emit_message(true, 'out*box', 'd');
SELECT cdc_norm(data) FROM pg_logical_slot_peek_changes('cdc', NULL, NULL, 'include-message-prefixes', 'outbox.*')
	ORDER BY data::json->>'content';
SELECT data::json->>'content' FROM pg_logical_slot_peek_changes('cdc', NULL, NULL,
	'include-message-prefixes', 'out\*box, heartbeat') ORDER BY 1;
SELECT data::json->>'content' FROM pg_logical_slot_peek_changes('cdc', NULL, NULL,
	'exclude-message-prefixes', '*.users,heart*') ORDER BY 1;
SELECT count(*) FROM cdc_get('cdc');

-- truncate: one event per relation, each with its own position
CREATE TABLE visits (id bigint PRIMARY KEY, pin int);
INSERT INTO pins VALUES (50, 'x', 0);
INSERT INTO visits VALUES (1, 50);
SELECT count(*) FROM cdc_get('cdc');
TRUNCATE pins, visits;
SELECT cdc_get('cdc', 'include-begin-commit', 'on');
TRUNCATE visits;
SELECT cdc_get('cdc', 'actions', 'insert,update,delete');

-- unchanged TOASTed columns are listed, not sent
CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO docs VALUES (1, 't', repeat('x', 10000));
UPDATE docs SET title = 'u' WHERE id = 1;
UPDATE docs SET body = 'short' WHERE id = 1;
SELECT regexp_replace(e, '(x{100}){100}', 'x*10000') FROM cdc_get('cdc', 'include-old', 'on') e;
-- REPLICA IDENTITY FULL: the whole old row (TOASTed values included), the key still in "pk"
ALTER TABLE docs REPLICA IDENTITY FULL;
UPDATE docs SET body = repeat('y', 10000) WHERE id = 1;
UPDATE docs SET title = 'v' WHERE id = 1;
DELETE FROM docs WHERE id = 1;
SELECT regexp_replace(e, '(x{100}){100}|(y{100}){100}', '?*10000', 'g') FROM cdc_get('cdc', 'include-old', 'on') e;
-- a TOASTed key column that did not change: "pk" takes it from the old key,
-- which PostgreSQL logs when a key column is stored out of line
CREATE TABLE big_keys (k text PRIMARY KEY, v int);
ALTER TABLE big_keys ALTER COLUMN k SET STORAGE EXTERNAL;
INSERT INTO big_keys VALUES (repeat('k', 2500), 1);
UPDATE big_keys SET v = 2;
SELECT regexp_replace(e, '(k{250}){10}', 'k*2500', 'g') FROM cdc_get('cdc') e;

-- keyless tables: flagged on update and delete, one WARNING per relation
CREATE TABLE presence (who text, seen timestamptz);
INSERT INTO presence VALUES ('ann', '2024-05-01 10:00+00');
UPDATE presence SET seen = '2024-05-01 10:05+00';
UPDATE presence SET seen = '2024-05-01 10:10+00';
DELETE FROM presence;
SELECT cdc_get('cdc');
-- a unique replica identity index names the row, and is the "pk"
CREATE TABLE devices (serial text NOT NULL, owner text);
CREATE UNIQUE INDEX devices_serial ON devices (serial);
ALTER TABLE devices REPLICA IDENTITY USING INDEX devices_serial;
INSERT INTO devices VALUES ('d1', 'ann');
UPDATE devices SET owner = 'bob';
DELETE FROM devices;
SELECT cdc_get('cdc', 'include-old', 'on');
-- REPLICA IDENTITY FULL without a key: no "pk" values, but not keyless
ALTER TABLE presence REPLICA IDENTITY FULL;
INSERT INTO presence VALUES ('ann', '2024-05-01 10:00+00');
DELETE FROM presence;
SELECT cdc_get('cdc');
-- REPLICA IDENTITY NOTHING: a delete cannot name its row
ALTER TABLE visits REPLICA IDENTITY NOTHING;
INSERT INTO visits VALUES (2, 1);
DELETE FROM visits;
SELECT cdc_get('cdc');
-- a composite key, in key order
CREATE TABLE tiles (z int, x int, y int, v text, PRIMARY KEY (z, y, x));
INSERT INTO tiles VALUES (3, 1, 2, 'a');
SELECT cdc_get('cdc');

-- geo enrichment: the quadkey and its owning node as of the change
INSERT INTO geoshard.shards (prefix, node) VALUES ('0', 'node-a'), ('12', 'node-b');
CREATE TABLE places (id int PRIMARY KEY, name text, qk quadkey);
INSERT INTO places VALUES (1, 'ne', '0123'), (2, 'sw', '123'), (3, 'elsewhere', '3'), (4, 'nowhere', NULL);
UPDATE geoshard.shards SET node = 'node-c' WHERE prefix = '0';
INSERT INTO places VALUES (5, 'ne again', '0123');
SELECT geoshard.split_shard('12');
UPDATE geoshard.shards SET node = 'node-d' WHERE prefix = '123';
UPDATE places SET name = 'moved' WHERE id = 2;
DELETE FROM places WHERE id = 1;
-- all of it decoded at once, after the map changed: each event has the node of its time
SELECT cdc_get('cdc', 'include-tables', 'public.places');
-- the shard map is read only as a user_catalog_table
ALTER TABLE geoshard.shards RESET (user_catalog_table);
INSERT INTO places VALUES (6, 'unmarked', '0');
SELECT cdc_get('cdc', 'include-tables', 'public.places');
ALTER TABLE geoshard.shards SET (user_catalog_table = true);
INSERT INTO places VALUES (7, 'marked', '0');
SELECT cdc_get('cdc', 'include-tables', 'public.places');

-- a DDL change between two changes of one table gives each its own shape
INSERT INTO tiles VALUES (4, 1, 1, 'b');
ALTER TABLE tiles ADD COLUMN w int DEFAULT 7;
INSERT INTO tiles VALUES (5, 1, 1, 'c');
ALTER TABLE tiles DROP COLUMN v;
ALTER TABLE tiles RENAME TO map_tiles;
INSERT INTO map_tiles VALUES (6, 1, 1);
SELECT cdc_get('cdc');

-- a re-read gives the same ids: peek twice, then get
INSERT INTO pins VALUES (60, 'a', 1);
BEGIN; UPDATE pins SET score = 2; SELECT 'msg' FROM pg_logical_emit_message(true, 'p', 'q'); COMMIT;
SELECT 'msg' FROM pg_logical_emit_message(false, 'p', 'r');
DELETE FROM pins;
-- (in one statement: a temporary table created in between would add an empty transaction)
SELECT (SELECT array_agg(data) FROM pg_logical_slot_peek_changes('cdc', NULL, NULL, 'include-begin-commit', 'on'))
	 = (SELECT array_agg(data) FROM pg_logical_slot_peek_changes('cdc', NULL, NULL, 'include-begin-commit', 'on'))
	AS same_on_reread;
CREATE TEMP TABLE peek1 AS SELECT data FROM pg_logical_slot_peek_changes('cdc', NULL, NULL);
-- ids do not depend on the options: a filtered read has a subset of the same ids
CREATE TEMP TABLE peek2 AS SELECT data FROM pg_logical_slot_peek_changes('cdc', NULL, NULL, 'actions', 'delete', 'include-xids', 'off');
SELECT (SELECT count(*) FROM peek1) AS events, count(*) AS deletes,
	bool_and(data::json->>'id' IN (SELECT data::json->>'id' FROM peek1)) AS same_ids
FROM peek2;
CREATE TEMP TABLE mark AS SELECT max(n) AS n FROM cdc_log;
SELECT count(*) FROM cdc_get('cdc');
SELECT (SELECT array_agg(data) FROM peek1) =
	(SELECT array_agg(data ORDER BY n) FROM cdc_log WHERE n > (SELECT n FROM mark)) AS same_when_consumed;
-- what the placeholders hid, over every event read: ids strictly increase;
-- an id's LSN is the commit's (its own for a non-transactional message);
-- lsn <= commit_lsn; commit times are of this test run
SELECT count(*) AS events,
	bool_and(prev_c IS NULL OR (c, pos) > (prev_c, prev_pos)) AS ids_strictly_increase,
	bool_and(CASE WHEN e->>'commit_lsn' IS NOT NULL THEN c = pg_lsn(e->>'commit_lsn') - '0/0'
				  ELSE c < pg_lsn(e->>'lsn') - '0/0' AND pos = 0 END) AS id_is_commit_lsn,
	bool_and(e->>'commit_lsn' IS NULL OR pg_lsn(e->>'lsn') <= pg_lsn(e->>'commit_lsn')) AS lsn_before_commit,
	bool_and(e->>'timestamp' IS NULL OR (e->>'timestamp')::timestamptz BETWEEN (SELECT t FROM started) AND now()) AS timestamps_of_run,
	bool_and(e->>'timestamp' IS NULL OR e->>'timestamp' LIKE '%+00:00') AS timestamps_utc,
	bool_and(e->>'xid' IS NULL OR (e->>'xid')::bigint > 0) AS xids
FROM (
	SELECT e, c, pos, lag(c) OVER w AS prev_c, lag(pos) OVER w AS prev_pos
	FROM (SELECT n, data::json AS e, split_part(data::json->>'id', '-', 1)::numeric AS c,
				 split_part(data::json->>'id', '-', 2)::int AS pos FROM cdc_log) l
	WINDOW w AS (ORDER BY n)
) s;
-- every event is one line of valid JSON
SELECT count(*) FILTER (WHERE data LIKE '%' || chr(10) || '%') AS multiline FROM cdc_log;

SELECT pg_drop_replication_slot('cdc');
DROP TABLE pins, visits, docs, big_keys, presence, devices, map_tiles, places;
DELETE FROM geoshard.shards;
INSERT INTO geoshard.shards SELECT * FROM saved_shards;
DROP FUNCTION cdc_norm(text), cdc_get(name, text[]);
