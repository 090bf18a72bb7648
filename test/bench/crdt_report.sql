-- test/bench/crdt_report.sql: Markdown for the CRDT suites, written after the
-- geo report by run.sh.
\set ON_ERROR_STOP on
\pset footer off

CREATE FUNCTION pg_temp.ns(suite_name text, query_name text) RETURNS float8 LANGUAGE sql AS $$
	SELECT marginal_ms * 1e6 / divisor FROM bench.medians WHERE suite = suite_name AND name = query_name
$$;
CREATE FUNCTION pg_temp.fmt(x float8) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN x IS NULL THEN 'n/a' WHEN abs(x) >= 100 THEN round(x::numeric)::text
				WHEN abs(x) >= 10 THEN round(x::numeric, 1)::text ELSE round(x::numeric, 3)::text END
$$;

\echo '### CRDT merges, marginal ns/row over' :crdt_rows 'two-node states (median of per-round marginals)'
\echo
\echo '| query | marginal ns/row | min .. max ns/row | rounds |'
\echo '|---|---|---|---|'
SELECT format('| `%s` | %s | %s .. %s | %s |', name, pg_temp.fmt(marginal_ms * 1e6 / divisor),
			  pg_temp.fmt(min_marginal_ms * 1e6 / divisor), pg_temp.fmt(max_marginal_ms * 1e6 / divisor), rounds)
FROM bench.medians WHERE suite IN ('crdt', 'orset') AND baseline IS NOT NULL ORDER BY suite, ord;
\echo
\echo '### WAL bytes per single-row UPDATE'
\echo
\echo '| update | updates | WAL bytes | bytes/update |'
\echo '|---|---|---|---|'
SELECT format('| %s | %s | %s | %s |', name, updates, bytes, bytes_per_update) FROM bench.wal ORDER BY name;
\echo
\echo '### CRDT summary'
\echo
\echo '| measure | geoshard | peer | ratio | goal | met? |'
\echo '|---|---|---|---|---|---|'
WITH m AS (
	SELECT * FROM (VALUES
		(1, 'g_counter merge ns/row vs `jsonb || jsonb`', pg_temp.ns('crdt', 'crdt_merge(g_counter)'), pg_temp.ns('crdt', 'jsonb || jsonb'), 0.5),
		(2, 'pn_counter merge ns/row vs `jsonb || jsonb`', pg_temp.ns('crdt', 'crdt_merge(pn_counter)'), pg_temp.ns('crdt', 'jsonb || jsonb'), 0.5),
		(3, 'lww_register merge ns/row vs `jsonb || jsonb`', pg_temp.ns('crdt', 'crdt_merge(lww_register)'), pg_temp.ns('crdt', 'jsonb || jsonb'), 0.5),
		(4, 'g_counter merge ns/row vs per-node max over jsonb in SQL', pg_temp.ns('crdt', 'crdt_merge(g_counter)'), pg_temp.ns('crdt', 'per-node max over jsonb, in SQL'), NULL),
		(5, 'or_set merge us, 10 elements', pg_temp.ns('orset', 'crdt_merge(or_set) 10') / 1000, NULL, NULL),
		(6, 'or_set merge us, 100 elements', pg_temp.ns('orset', 'crdt_merge(or_set) 100') / 1000, NULL, 2.0),
		(7, 'or_set merge us, 1000 elements', pg_temp.ns('orset', 'crdt_merge(or_set) 1000') / 1000, NULL, NULL),
		(71, 'or_set merge us, 100 elements, lz4-compressed column', pg_temp.ns('orset', 'crdt_merge(or_set) 100 lz4') / 1000, NULL, 2.0),
		(72, 'or_set merge us, 1000 elements, lz4-compressed column', pg_temp.ns('orset', 'crdt_merge(or_set) 1000 lz4') / 1000, NULL, NULL),
		(8, 'WAL bytes per UPDATE: g_counter merge vs int8 n = n + 1',
		 (SELECT bytes_per_update FROM bench.wal WHERE name = 'g_counter merge')::float8,
		 (SELECT bytes_per_update FROM bench.wal WHERE name = 'int8 n = n + 1')::float8, NULL)
	) v(ord, measure, geoshard, peer, goal))
SELECT format('| %s | %s | %s | %s | %s | %s |', measure, pg_temp.fmt(geoshard), coalesce(pg_temp.fmt(peer), ''),
			  CASE WHEN peer IS NOT NULL AND peer > 0 THEN pg_temp.fmt(geoshard / peer) || 'x' ELSE '' END,
			  CASE WHEN goal IS NULL THEN '(report)' WHEN peer IS NULL THEN '<= ' || goal || ' us' ELSE '<= ' || goal || 'x' END,
			  CASE WHEN goal IS NULL THEN '-'
				   WHEN peer IS NULL THEN CASE WHEN geoshard <= goal THEN 'yes' ELSE '**no**' END
				   WHEN peer > 0 AND geoshard / peer <= goal THEN 'yes' ELSE '**no**' END)
FROM m ORDER BY ord;
