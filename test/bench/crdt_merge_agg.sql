-- test/bench/crdt_merge_agg.sql: crdt_merge_agg over 10,000 states, median of
-- :runs runs (default 5), for lww_set and or_set, and for the counters.
-- Run with psql against a server that preloads geoshard and has
-- geoshard.node_id set:  psql -X -f test/bench/crdt_merge_agg.sql
-- The data is valid for 0.1 and later libraries alike, so one file measures
-- before and after a change.  Each or_set state comes from its own node, so
-- that no version of the merge may collapse them; every lww_set state holds
-- one element with its own stamp.
\set ON_ERROR_STOP on
\if :{?runs}
\else
\set runs 5
\endif
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench_agg CASCADE;
CREATE SCHEMA bench_agg;
CREATE TABLE bench_agg.lww AS
SELECT g, lww_set_add('{}', 'element ' || g, hlc(timestamptz '2026-01-01 00:00+00' + g * interval '1 ms', 0, 1)) AS s
FROM generate_series(1, 10000) g;
CREATE TABLE bench_agg.ors AS
SELECT g, format('{"vv":{"%s":1},"elems":{"element %s":{"%s":1}}}', g, g, g)::or_set AS s
FROM generate_series(1, 10000) g;
CREATE TABLE bench_agg.cnt AS
SELECT g, format('{"%s":%s}', g % 50 + 1, g)::g_counter AS s
FROM generate_series(1, 10000) g;
ANALYZE bench_agg.lww, bench_agg.ors, bench_agg.cnt;

CREATE FUNCTION bench_agg.median_ms(query text, runs int) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
	t timestamptz;
	times numeric[] := '{}';
BEGIN
	EXECUTE query;			-- warm-up
	FOR i IN 1 .. runs LOOP
		t := clock_timestamp();
		EXECUTE query;
		times := times || (extract(epoch FROM clock_timestamp() - t) * 1000)::numeric;
	END LOOP;
	RETURN round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(times) x)::numeric, 1);
END
$$;

SET max_parallel_workers_per_gather = 0;
SELECT 'lww_set' AS type, bench_agg.median_ms('SELECT cardinality(crdt_value(crdt_merge_agg(s))) FROM bench_agg.lww', :runs) AS median_ms,
	   (SELECT cardinality(crdt_value(crdt_merge_agg(s))) FROM bench_agg.lww) AS elements
UNION ALL
SELECT 'or_set', bench_agg.median_ms('SELECT cardinality(crdt_value(crdt_merge_agg(s))) FROM bench_agg.ors', :runs),
	   (SELECT cardinality(crdt_value(crdt_merge_agg(s))) FROM bench_agg.ors)
UNION ALL
SELECT 'g_counter (50 nodes)', bench_agg.median_ms('SELECT crdt_value(crdt_merge_agg(s)) FROM bench_agg.cnt', :runs),
	   (SELECT crdt_value(crdt_merge_agg(s)) FROM bench_agg.cnt);
DROP SCHEMA bench_agg CASCADE;
