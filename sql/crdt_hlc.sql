-- hlc: hybrid logical clock timestamps

-- text form round-trips, and orders by time, then node
SELECT '2026-11-23T23:15:47.123Z/5@7'::hlc;
SELECT '1970-01-01T00:00:00.000Z/0@0'::hlc, '9999-12-31T23:59:59.999Z/65535@2147483647'::hlc;
SELECT h, hlc_physical(h), hlc_logical(h), hlc_node(h)
FROM (VALUES ('2026-11-23T23:15:47.123Z/5@7'::hlc)) v(h);
SELECT array_agg(h ORDER BY h) FROM (VALUES
	('2026-01-01T00:00:00.000Z/1@1'::hlc), ('2026-01-01T00:00:00.000Z/0@2'),
	('2026-01-01T00:00:00.000Z/0@1'), ('2025-12-31T23:59:59.999Z/9@9'), ('2026-01-01T00:00:00.001Z/0@0')) v(h);
SELECT '2026-01-01T00:00:00.000Z/0@1'::hlc < '2026-01-01T00:00:00.000Z/0@2',
	   '2026-01-01T00:00:00.000Z/0@1'::hlc = '2026-01-01T00:00:00.000Z/0@1',
	   '2026-01-01T00:00:00.000Z/0@1'::hlc <> '2026-01-01T00:00:00.000Z/1@1',
	   '2026-01-01T00:00:00.001Z/0@1'::hlc > '2026-01-01T00:00:00.000Z/9@9';
SELECT hlc('2026-01-01 00:00:00.1239+00', 3, 2), hlc('1970-01-01 00:00:00+00', 0, 1);
-- times before 2000 round down too (not toward 2000)
SELECT hlc('1999-12-31 23:59:59.9995+00', 0, 1), hlc('1999-12-31 23:59:59.9995+00', 0, 1) < hlc('2000-01-01 00:00+00', 0, 1) AS before_2000,
	   hlc('1970-01-01 00:00:00.0004+00', 0, 1);
-- node 0 is what an unset geoshard.node_id would stamp: refused
\set VERBOSITY sqlstate
SELECT hlc(now(), 0, 0);
\set VERBOSITY default
SELECT hlc(now(), 0, 0);

-- malformed text
SELECT '2026-11-23 23:15:47.123Z/5@7'::hlc;
SELECT '2026-11-23T23:15:47.12Z/5@7'::hlc;
SELECT '2026-02-29T00:00:00.000Z/0@1'::hlc;
SELECT '2026-11-23T24:00:00.000Z/0@1'::hlc;
SELECT '1969-12-31T23:59:59.999Z/0@1'::hlc;
SELECT '2026-11-23T23:15:47.123Z/65536@7'::hlc;
SELECT '2026-11-23T23:15:47.123Z/5@2147483648'::hlc;
SELECT '2026-11-23T23:15:47.123Z/5@-1'::hlc;
SELECT '2026-11-23T23:15:47.123Z/5@7 '::hlc;
SELECT hlc('infinity', 0, 1);
SELECT hlc('1969-12-31 23:59:59+00', 0, 1);
SELECT hlc(now(), 65536, 1);
SELECT hlc(now(), 0, -1);

-- hlc_now needs geoshard.node_id
SELECT hlc_now();
SET geoshard.node_id = 3;
SELECT hlc_node(hlc_now()) AS node, hlc_physical(hlc_now()) BETWEEN now() - interval '1 minute' AND clock_timestamp() AS near_wall_clock;
-- strictly increasing, even within one millisecond
SELECT bool_and(a < b) AS increasing
FROM (SELECT h AS a, lead(h) OVER (ORDER BY i) AS b
	  FROM (SELECT i, hlc_now() AS h FROM generate_series(1, 5000) i) s) t WHERE b IS NOT NULL;

-- hlc_update: the result is later than both the local clock and the remote time
SELECT hlc_update(hlc('2020-01-01', 7, 9)) > hlc('2020-01-01', 7, 9) AS later_than_old_remote;
SELECT u > r AND hlc_node(u) = 3 AS later_than_remote
FROM (SELECT r, hlc_update(r) AS u
	  FROM (SELECT hlc(clock_timestamp() + interval '200 ms', 65535, 9) AS r) s) t;
-- and the local clock keeps the remote time's lead
SELECT hlc_now() > hlc(clock_timestamp() + interval '100 ms', 0, 1) AS clock_moved_forward;
-- too far ahead: refused, and the clock is not dragged forward
DO $$
BEGIN
	PERFORM hlc_update(hlc(clock_timestamp() + interval '1 hour', 0, 9));
EXCEPTION WHEN data_exception THEN
	RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, '[0-9]+ ms', 'N ms');
END
$$;
SELECT hlc_now() < hlc(clock_timestamp() + interval '30 minutes', 0, 1) AS not_dragged;
SET geoshard.hlc_max_offset = '2h';
SELECT hlc_update(hlc(clock_timestamp() + interval '1 hour', 0, 9)) > hlc(clock_timestamp() + interval '59 minutes', 0, 1) AS accepted;
RESET geoshard.hlc_max_offset;
SET geoshard.node_id = -1;
RESET geoshard.node_id;

-- binary I/O
SELECT hlc_send('2026-11-23T23:15:47.123Z/5@7');
CREATE TABLE hlc_copy (h hlc);
\set SHOW_CONTEXT never
CREATE FUNCTION copy_binary(payload bytea) RETURNS SETOF hlc LANGUAGE plpgsql AS $$
DECLARE
	oid oid := lo_from_bytea(0, '\x5047434f50590aff0d0a000000000000000000'::bytea || '\x0001'::bytea
		|| int4send(length(payload)) || payload || '\xffff'::bytea);
BEGIN
	PERFORM lo_export(oid, 'geoshard_hlc.bin');
	PERFORM lo_unlink(oid);
	TRUNCATE hlc_copy;
	COPY hlc_copy FROM 'geoshard_hlc.bin' (FORMAT binary);
	RETURN QUERY SELECT h FROM hlc_copy;
END
$$;
SELECT copy_binary(hlc_send('2026-11-23T23:15:47.123Z/5@7'));
SELECT copy_binary('\x01a20ab1b1330005ffffffff');		-- negative node
SELECT copy_binary('\xffffffffffffffff00000001');		-- after 9999
SELECT copy_binary('\x01a20ab1b1330005000000');		-- truncated
DROP FUNCTION copy_binary(bytea);
DROP TABLE hlc_copy;
\set SHOW_CONTEXT errors

-- btree and hash
CREATE TEMP TABLE stamps AS SELECT hlc(timestamptz '2026-01-01 00:00+00' + i * interval '1 ms', i % 3, i % 5 + 1) AS h FROM generate_series(1, 1000) i;
CREATE INDEX ON stamps (h);
CREATE INDEX ON stamps USING hash (h);
SET enable_seqscan = off;
SELECT count(*) FROM stamps WHERE h < '2026-01-01T00:00:00.100Z/0@0';
SELECT count(*) FROM stamps WHERE h = '2026-01-01T00:00:00.100Z/1@1';
RESET enable_seqscan;
SELECT count(DISTINCT h) FROM stamps;

-- min and max
SELECT min(h), max(h) FROM stamps;
SELECT min(h), max(h) FROM stamps WHERE false;
