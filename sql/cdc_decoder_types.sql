-- the geoshard output plugin: JSON for every family of built-in types, and
-- geoshard's own types; one table per family, one row of edge cases each
SET client_min_messages = warning;
CREATE FUNCTION cdc_values(slot name, VARIADIC options text[] DEFAULT '{}') RETURNS SETOF text
LANGUAGE sql AS $$
	-- the columns of each insert, with the JSON of their values checked by parsing
	SELECT c::text
	FROM pg_logical_slot_get_changes(slot, NULL, NULL, VARIADIC options) g,
		 json_array_elements(g.data::json->'columns') c
$$;
RESET client_min_messages;
-- output that depends on the session is pinned (the JSON of dates,
-- timestamps, floats and bytea does not depend on it: they are set to
-- unusual values to show that)
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'America/New_York';
SET IntervalStyle = 'postgres';
SET extra_float_digits = -3;
SET bytea_output = 'escape';

SELECT 'init' FROM pg_create_logical_replication_slot('cdc_types', 'geoshard');

CREATE TABLE t_numbers (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, o oid,
	f4 float4, f8 float8, n numeric, n2 numeric(10, 2), m money);
INSERT INTO t_numbers VALUES
	(1, -32768, 2147483647, -9223372036854775808, 4294967295, 3.14, 0.1, 123.4500, 1, 12.5),
	(2, 0, 0, 0, 0, 'NaN', 'Infinity', 'NaN', NULL, NULL),
	(3, NULL, NULL, NULL, NULL, '-Infinity', '-Infinity', 'Infinity', NULL, NULL),
	(4, NULL, NULL, NULL, NULL, 1e30, -1.5e-300, '-Infinity', NULL, NULL),
	(5, NULL, NULL, NULL, NULL, -0, 1e100, '-0.000001', NULL, NULL),
	(6, NULL, NULL, NULL, NULL, NULL, NULL, 12345678901234567890.123456789, NULL, NULL);
SELECT cdc_values('cdc_types');
-- numeric-as-string: numeric values (only them) become strings
INSERT INTO t_numbers VALUES (7, 1, 1, 1, 1, 1.5, 1.5, 1.5, 1.5, 1.5);
SELECT cdc_values('cdc_types', 'numeric-as-string', 'true');

CREATE TABLE t_text (id int PRIMARY KEY, t text, v varchar(5), c char(4), n name, ch "char");
INSERT INTO t_text VALUES
	(1, 'quote " backslash \ slash / tab 	 newline
cr ' || chr(13) || ' bell ' || chr(7) || ' unicode é 地図 😀', 'ab', 'ab', 'pg_class', 'x'),
	(2, '', '', '', '', ' '),
	(3, 'null', 'true', NULL, NULL, NULL);
SELECT cdc_values('cdc_types');

CREATE TABLE t_other (id int PRIMARY KEY, b bool, by bytea, u uuid, j json, jb jsonb,
	jp jsonpath, x xml);
INSERT INTO t_other VALUES
	(1, true, '\x00ff0a22', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
	 '{"a" : [1, 2.5, "s"],
	   "b": {"c": null}}', '{"b": [1, {"x": "\"q\""}], "a": null}', '$.a[*] ? (@ > 1)', '<a x="1">é</a>'),
	(2, false, '', NULL, '"just a string"', '3', NULL, NULL),
	(3, NULL, NULL, NULL, 'null', 'null', NULL, NULL);
SELECT cdc_values('cdc_types');

CREATE TABLE t_time (id int PRIMARY KEY, d date, t time, tz timetz, ts timestamp,
	tstz timestamptz, i interval);
INSERT INTO t_time VALUES
	(1, '2024-02-29', '13:45:06.789', '13:45:06+05:30', '2024-02-29 13:45:06.5',
	 '2024-02-29 13:45:06.5+05:30', '1 year 2 mons 3 days 04:05:06.7'),
	(2, 'infinity', '24:00', '00:00-12', '-infinity', 'infinity', '-1 day'),
	(3, '0044-03-15 BC', NULL, NULL, '0044-03-15 12:00 BC', '1900-01-01 00:00+00', NULL);
SELECT cdc_values('cdc_types');

CREATE TABLE t_net_geo (id int PRIMARY KEY, ip inet, net cidr, mac macaddr, mac8 macaddr8,
	p point, bx box, c circle, pg polygon, bits bit(4), vb varbit, ts tsvector, tq tsquery,
	l pg_lsn);
INSERT INTO t_net_geo VALUES
	(1, '192.0.2.1/24', '2001:db8::/32', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
	 '(1.5,-2)', '((0,0),(1,1))', '<(0,0),2>', '((0,0),(1,0),(0,1))', B'1010', B'101',
	 'the quick "brown" fox', 'fox & !dog', '16/B374D848');
SELECT cdc_values('cdc_types');

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy "yes"');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE DOMAIN label AS text;
CREATE TABLE t_composite (id int PRIMARY KEY, ia int[], ta text[], m2 int[][],
	r int4range, tr tstzrange, mr int4multirange, e mood, p pair, d positive, dl label,
	nd numeric[]);
INSERT INTO t_composite VALUES
	(1, '{1,2,NULL}', '{"a b","c,\"d\"",NULL}', '{{1,2},{3,4}}', '[1,5)',
	 '[2024-01-01 00:00+00,2024-01-02 00:00+00)', '{[1,3),[5,7)}', 'happy "yes"',
	 ROW(1, 'x "y"'), 42, 'labelled', '{1.5,NaN}'),
	(2, '{}', '{}', NULL, 'empty', NULL, '{}', 'sad', ROW(NULL, NULL), NULL, NULL, NULL);
SELECT cdc_values('cdc_types');

-- geoshard's own types, by their text output
CREATE TABLE t_geoshard (id int PRIMARY KEY, q quadkey, h hlc, c g_counter, r lww_register);
INSERT INTO t_geoshard VALUES
	(1, '0231', hlc('2026-01-01 00:00:00.1239+00', 3, 2), '{"2":5,"1":3}',
	 '{"ts":"2026-11-23T23:15:47.123Z/5@7","value":{"b":[1,2,{"c":null}]}}'),
	(2, '', NULL, '{}', NULL);
SELECT cdc_values('cdc_types');

SELECT pg_drop_replication_slot('cdc_types');
DROP TABLE t_numbers, t_text, t_other, t_time, t_net_geo, t_composite, t_geoshard;
DROP TYPE mood, pair;
DROP DOMAIN positive, label;
DROP FUNCTION cdc_values(name, text[]);
