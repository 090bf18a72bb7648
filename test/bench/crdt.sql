-- test/bench/crdt.sql: the CRDT benchmark's data and timed queries, loaded by
-- run.sh after the geo suites, into the same bench schema.
--   suite "crdt":  marginal ns/row of two-node merges over :crdt_rows rows, vs
--                  jsonb || jsonb on equivalent small objects and vs the
--                  per-node-maximum merge written in SQL over jsonb;
--   suite "orset": or_set merges of two-node states of 10, 100, 1000 elements.
-- WAL bytes per merge-UPDATE are measured separately (bench.wal_per_update).
\set ON_ERROR_STOP on
\o /dev/null

SELECT setseed(0.4);

-- Two replicas' states of the same counter/register: nodes 1 and 2 each
-- bumped their own entry and saw an older copy of the other's.
CREATE TABLE crdt_pairs AS
SELECT g AS id,
	   format('{"1":%s,"2":%s}', a1, b1)::g_counter AS g1,
	   format('{"1":%s,"2":%s}', a2, b2)::g_counter AS g2,
	   format('{"1":[%s,%s],"2":[%s,%s]}', a1, b1, a2, b2)::pn_counter AS p1,
	   format('{"1":[%s,%s],"2":[%s,%s]}', a2, b2, a1, b1)::pn_counter AS p2,
	   lww_register(to_jsonb('title ' || a1), hlc(timestamptz '2026-01-01 00:00+00' + a1 * interval '1 ms', 0, 1)) AS r1,
	   lww_register(to_jsonb('title ' || b2), hlc(timestamptz '2026-01-01 00:00+00' + b2 * interval '1 ms', 0, 2)) AS r2,
	   -- the same counters as jsonb objects
	   jsonb_build_object('1', a1, '2', b1) AS j1,
	   jsonb_build_object('1', a2, '2', b2) AS j2
FROM (SELECT g, (random() * 1000)::int AS a1, (random() * 1000)::int AS b1,
			 (random() * 1000)::int AS a2, (random() * 1000)::int AS b2
	  FROM generate_series(1, :crdt_rows) g) s;

-- or_set pairs: node 1 and node 2 each added n/2 elements of their own to a
-- shared starting set of n/2 and removed a few of the shared ones.
CREATE FUNCTION bench.orset_pair(n int, OUT a or_set, OUT b or_set)
LANGUAGE plpgsql AS $$
DECLARE
	base or_set := '{}';
BEGIN
	PERFORM set_config('geoshard.node_id', '3', true);
	FOR i IN 1 .. n / 2 LOOP
		base := or_set_add(base, 'shared ' || i);
	END LOOP;
	a := base;
	b := base;
	PERFORM set_config('geoshard.node_id', '1', true);
	FOR i IN 1 .. n / 2 LOOP
		a := or_set_add(a, 'one ' || i);
	END LOOP;
	a := or_set_remove(a, 'shared 1');
	PERFORM set_config('geoshard.node_id', '2', true);
	FOR i IN 1 .. n / 2 LOOP
		b := or_set_add(b, 'two ' || i);
	END LOOP;
	b := or_set_remove(b, 'shared 2');
END
$$;
CREATE TABLE orset_pairs AS
SELECT n, g AS id, p.a, p.b
FROM (VALUES (10, 20000), (100, 5000), (1000, 500)) v(n, copies),
	 LATERAL bench.orset_pair(n) p,
	 LATERAL generate_series(1, copies) g;
-- the same with lz4 TOAST compression, whose decompression is far cheaper
-- than the default pglz for states of a few kilobytes
CREATE TABLE orset_pairs_lz4 (n int, id int, a or_set COMPRESSION lz4, b or_set COMPRESSION lz4);
INSERT INTO orset_pairs_lz4 SELECT * FROM orset_pairs;

VACUUM (FREEZE, ANALYZE) crdt_pairs, orset_pairs, orset_pairs_lz4;
SELECT sum(pg_prewarm(c)) FROM unnest(ARRAY['crdt_pairs', 'orset_pairs', 'orset_pairs_lz4']::regclass[]) c;

INSERT INTO bench.queries (suite, name, ord, query, baseline, divisor, diagnostic)
SELECT 'crdt', name, ord, query, baseline, :crdt_rows, false
FROM (VALUES
	(1, 'baseline g', 'SELECT count(g1 IS NOT NULL AND g2 IS NOT NULL) FROM crdt_pairs', NULL),
	(2, 'crdt_merge(g_counter)', 'SELECT count(crdt_merge(g1, g2)) FROM crdt_pairs', 'baseline g'),
	(3, 'baseline p', 'SELECT count(p1 IS NOT NULL AND p2 IS NOT NULL) FROM crdt_pairs', NULL),
	(4, 'crdt_merge(pn_counter)', 'SELECT count(crdt_merge(p1, p2)) FROM crdt_pairs', 'baseline p'),
	(5, 'baseline r', 'SELECT count(r1 IS NOT NULL AND r2 IS NOT NULL) FROM crdt_pairs', NULL),
	(6, 'crdt_merge(lww_register)', 'SELECT count(crdt_merge(r1, r2)) FROM crdt_pairs', 'baseline r'),
	(7, 'baseline j', 'SELECT count(j1 IS NOT NULL AND j2 IS NOT NULL) FROM crdt_pairs', NULL),
	(8, 'jsonb || jsonb', 'SELECT count(j1 || j2) FROM crdt_pairs', 'baseline j'),
	(9, 'per-node max over jsonb, in SQL',
	 'SELECT count((SELECT jsonb_object_agg(k, greatest((j1 ->> k)::bigint, (j2 ->> k)::bigint)) '
	 'FROM (SELECT jsonb_object_keys(j1) UNION SELECT jsonb_object_keys(j2)) s(k))) FROM crdt_pairs',
	 'baseline j')
) v(ord, name, query, baseline);

INSERT INTO bench.queries (suite, name, ord, query, baseline, divisor, diagnostic)
SELECT 'orset', name, ord, query, baseline, divisor, false
FROM (VALUES
	(1, 'baseline or_set 10', 'SELECT count(a IS NOT NULL AND b IS NOT NULL) FROM orset_pairs WHERE n = 10', NULL, 20000),
	(2, 'crdt_merge(or_set) 10', 'SELECT count(crdt_merge(a, b)) FROM orset_pairs WHERE n = 10', 'baseline or_set 10', 20000),
	(3, 'baseline or_set 100', 'SELECT count(a IS NOT NULL AND b IS NOT NULL) FROM orset_pairs WHERE n = 100', NULL, 5000),
	(4, 'crdt_merge(or_set) 100', 'SELECT count(crdt_merge(a, b)) FROM orset_pairs WHERE n = 100', 'baseline or_set 100', 5000),
	(5, 'baseline or_set 1000', 'SELECT count(a IS NOT NULL AND b IS NOT NULL) FROM orset_pairs WHERE n = 1000', NULL, 500),
	(6, 'crdt_merge(or_set) 1000', 'SELECT count(crdt_merge(a, b)) FROM orset_pairs WHERE n = 1000', 'baseline or_set 1000', 500),
	(7, 'baseline or_set 100 lz4', 'SELECT count(a IS NOT NULL AND b IS NOT NULL) FROM orset_pairs_lz4 WHERE n = 100', NULL, 5000),
	(8, 'crdt_merge(or_set) 100 lz4', 'SELECT count(crdt_merge(a, b)) FROM orset_pairs_lz4 WHERE n = 100', 'baseline or_set 100 lz4', 5000),
	(9, 'baseline or_set 1000 lz4', 'SELECT count(a IS NOT NULL AND b IS NOT NULL) FROM orset_pairs_lz4 WHERE n = 1000', NULL, 500),
	(10, 'crdt_merge(or_set) 1000 lz4', 'SELECT count(crdt_merge(a, b)) FROM orset_pairs_lz4 WHERE n = 1000', 'baseline or_set 1000 lz4', 500)
) v(ord, name, query, baseline, divisor);

-- WAL bytes per single-row UPDATE: a merge into a g_counter column against
-- the plain "n = n + 1" on an int8 column, each over :wal_updates updates
-- spread over 1000 rows, in the same session.
CREATE TABLE wal_counters (id int PRIMARY KEY, n int8 NOT NULL, c g_counter NOT NULL);
INSERT INTO wal_counters SELECT g, 0, '{"1":0,"2":0}' FROM generate_series(1, 1000) g;
VACUUM (FREEZE, ANALYZE) wal_counters;
CREATE TABLE bench.wal (name text PRIMARY KEY, updates int, bytes numeric, bytes_per_update numeric);
CREATE PROCEDURE bench.wal_per_update(name text, statement text, updates int)
LANGUAGE plpgsql AS $$
DECLARE
	start pg_lsn;
BEGIN
	COMMIT;
	start := pg_current_wal_insert_lsn();
	FOR i IN 1 .. updates LOOP
		EXECUTE statement USING 1 + i % 1000, i;
	END LOOP;
	COMMIT;
	INSERT INTO bench.wal VALUES (name, updates, pg_current_wal_insert_lsn() - start,
								  round((pg_current_wal_insert_lsn() - start) / updates, 1));
	COMMIT;
END
$$;
\o
