-- the geoshard output plugin's options: each one, and every bad value,
-- refused with SQLSTATE 22023 before anything is decoded
SET client_min_messages = warning;
CREATE FUNCTION cdc_norm(data text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(data,
		'^\{"id":"\d+-', '{"id":"C-'),
		'"(lsn|commit_lsn)":"[0-9A-F]+/[0-9A-F]+"', '"\1":"X/X"', 'g'),
		'"xid":\d+', '"xid":N'),
		'"timestamp":"[^"]+"', '"timestamp":"T"')
$$;
-- the schema.table of each row event a read gives, in order
CREATE FUNCTION cdc_tables(VARIADIC options text[] DEFAULT '{}') RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(string_agg(coalesce((data::json->>'schema') || '.' || (data::json->>'table'), data::json->>'action'), ' ' ORDER BY n), '(none)')
	FROM pg_logical_slot_peek_changes('cdc_opts', NULL, NULL, VARIADIC options) WITH ORDINALITY AS g(lsn, xid, data, n)
$$;
RESET client_min_messages;
\set VERBOSITY default

SELECT 'init' FROM pg_create_logical_replication_slot('cdc_opts', 'geoshard');

-- bad options: the slot stays where it was
INSERT INTO geoshard.shards (prefix, node) VALUES ('333', 'node-z');
\set ON_ERROR_STOP 0
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'include-tabels', 'public.*');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'include-old', 'maybe');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'numeric-as-string', '');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'include-begin-commit', '2');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'include-xids', 'yes please');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'include-timestamp', 'x');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'pretty', 'on');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'pretty', 'sideways');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'format-version', '2');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'actions', 'insert,upsert');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'actions', ' , ');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'include-tables', 'pins');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'include-tables', 'a.b.c');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'include-tables', '.pins');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'exclude-tables', 'public.');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'exclude-tables', 'public.pins,');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'include-tables', 'public.pins\');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'include-message-prefixes', '');
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL, 'exclude-message-prefixes', 'a,,b');
\set ON_ERROR_STOP 1
SELECT count(*) AS still_there FROM pg_logical_slot_peek_changes('cdc_opts', NULL, NULL);
SELECT count(*) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL);

-- good values: booleans as parse_bool reads them, pretty off, format-version 1
INSERT INTO geoshard.shards (prefix, node) VALUES ('332', 'node-z');
SELECT count(*) FROM pg_logical_slot_peek_changes('cdc_opts', NULL, NULL,
	'include-old', 'TRUE', 'numeric-as-string', 'off', 'include-begin-commit', '1',
	'include-xids', 'yes', 'include-timestamp', 'on', 'pretty', 'off', 'pretty', 'false',
	'format-version', '1', 'actions', ' Insert , DELETE');

-- include-xids and include-timestamp off
SELECT cdc_norm(data) FROM pg_logical_slot_get_changes('cdc_opts', NULL, NULL,
	'include-xids', 'off', 'include-timestamp', 'off', 'include-begin-commit', 'on');

-- table filters with wildcards; the ids do not change
CREATE SCHEMA app;
CREATE SCHEMA "we.ird";
CREATE TABLE public.pins (id int PRIMARY KEY);
CREATE TABLE public.pin_tags (id int PRIMARY KEY);
CREATE TABLE public.secret (id int PRIMARY KEY);
CREATE TABLE app.pins (id int PRIMARY KEY);
CREATE TABLE app.users (id int PRIMARY KEY);
CREATE TABLE "we.ird"."a,b*c" (id int PRIMARY KEY);
CREATE TABLE "we.ird"."a,bXc" (id int PRIMARY KEY);
BEGIN;
INSERT INTO public.pins VALUES (1);
INSERT INTO public.pin_tags VALUES (1);
INSERT INTO public.secret VALUES (1);
INSERT INTO app.pins VALUES (1);
INSERT INTO app.users VALUES (1);
INSERT INTO "we.ird"."a,b*c" VALUES (1);
INSERT INTO "we.ird"."a,bXc" VALUES (1);
UPDATE app.users SET id = 2;
DELETE FROM public.pins;
TRUNCATE app.users;
COMMIT;
SELECT cdc_tables();
SELECT cdc_tables('include-tables', 'public.*');
SELECT cdc_tables('include-tables', 'public.pin*');
SELECT cdc_tables('include-tables', '*.pins');
SELECT cdc_tables('include-tables', '*.*', 'exclude-tables', 'public.secret, app.*');
SELECT cdc_tables('exclude-tables', '*.p*');
SELECT cdc_tables('include-tables', ' app.users ,public.pins ');
SELECT cdc_tables('include-tables', 'we\.ird.a\,b\*c');
SELECT cdc_tables('include-tables', 'we\.ird.a\,b*c');
SELECT cdc_tables('include-tables', 'we?ird.*');
SELECT cdc_tables('include-tables', 'APP.USERS');
SELECT cdc_tables('include-tables', 'no.such');
-- actions
SELECT cdc_tables('actions', 'insert');
SELECT cdc_tables('actions', 'update,delete');
SELECT cdc_tables('actions', 'truncate', 'include-tables', 'app.*');
SELECT cdc_tables('actions', 'delete', 'include-begin-commit', 'on');
-- the same ids whatever the filter
SELECT count(DISTINCT data::json->>'id') AS distinct_ids,
	count(*) FILTER (WHERE data::json->>'table' = 'users') AS users_events
FROM (SELECT data FROM pg_logical_slot_peek_changes('cdc_opts', NULL, NULL)
	  UNION ALL SELECT data FROM pg_logical_slot_peek_changes('cdc_opts', NULL, NULL, 'include-tables', 'app.users')
	  UNION ALL SELECT data FROM pg_logical_slot_peek_changes('cdc_opts', NULL, NULL, 'actions', 'truncate')) x;

SELECT pg_drop_replication_slot('cdc_opts');
DROP SCHEMA app, "we.ird" CASCADE;
DROP TABLE public.pins, public.pin_tags, public.secret;
DELETE FROM geoshard.shards WHERE node = 'node-z';
DROP FUNCTION cdc_norm(text), cdc_tables(text[]);
