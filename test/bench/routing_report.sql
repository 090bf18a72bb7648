-- test/bench/routing_report.sql: turns the timings test/bench/routing.sh
-- collected (bench.timings, bench.route_check) into Markdown: the detail
-- table, then the summary against the routing goal (route_region at most
-- 1 us per call and at most 0.05x the SQL router; a miss and a private
-- address no slower than a hit), and a one-line verdict.
-- Run with psql -At; psql variables ips, peer_ips, sample.

\set ON_ERROR_STOP 1

-- A number with about three significant digits.
CREATE FUNCTION pg_temp.fmt(x float8) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
	SELECT CASE
		WHEN x IS NULL THEN 'n/a'
		WHEN abs(x) >= 100 THEN round(x::numeric)::text
		WHEN abs(x) >= 10 THEN round(x::numeric, 1)::text
		WHEN abs(x) >= 1 THEN round(x::numeric, 2)::text
		ELSE round(x::numeric, 3)::text
	END
$$;

-- Marginal nanoseconds per call of a timed query (median over rounds).
CREATE FUNCTION pg_temp.ns(query_name text) RETURNS float8
LANGUAGE sql STABLE
AS $$
	SELECT marginal_ms * 1e6 / divisor FROM bench.medians WHERE name = query_name
$$;

\echo '### Per-call cost (SELECT count(f(ip)) over the clients; marginal = query minus its baseline, per round)'
\echo
\echo '| query | clients | median ms | marginal ns/call (median) | min .. max ns/call | rounds | baseline |'
\echo '|---|---|---|---|---|---|---|'
SELECT format('| %s%s | %s | %s | %s | %s .. %s | %s | %s |',
			  name, CASE WHEN diagnostic THEN ' (diagnostic)' ELSE '' END,
			  divisor, pg_temp.fmt(median_ms),
			  CASE WHEN baseline IS NULL THEN format('(baseline: %s ns/row in all)', pg_temp.fmt(median_ms * 1e6 / divisor))
				   ELSE pg_temp.fmt(marginal_ms * 1e6 / divisor) END,
			  pg_temp.fmt(min_marginal_ms * 1e6 / divisor), pg_temp.fmt(max_marginal_ms * 1e6 / divisor),
			  rounds, coalesce('`' || baseline || '`', ''))
FROM bench.medians
ORDER BY ord;

\echo
\echo 'Queries:'
\echo
SELECT format('- %s: `%s`', name, query) FROM bench.queries ORDER BY ord;

-- summary -----------------------------------------------------------------------

SELECT pg_temp.ns('route_region(ip)') AS g_ns, pg_temp.ns('SQL router') AS p_ns,
	   pg_temp.ns('route_region(ip)') / nullif(pg_temp.ns('SQL router'), 0) AS ratio \gset
SELECT count(*) AS n,
	   count(*) FILTER (WHERE geoshard IS NOT DISTINCT FROM peer) AS same,
	   count(*) FILTER (WHERE source = 'mmdb') AS hits
FROM bench.route_check \gset
SELECT pg_temp.ns('route_region(ip), misses') AS miss_ns,
	   pg_temp.ns('route_region(ip), private addresses') AS private_ns \gset
SELECT :g_ns <= 1000 AS abs_met,
	   coalesce(:ratio <= 0.05, false) AS ratio_met,
	   :miss_ns <= :g_ns AS miss_met,
	   :private_ns <= :g_ns AS private_met,
	   :n > 0 AND :n = :same AS same_met \gset

\echo
\echo '### Summary'
\echo
\echo '| measure | geoshard | peer | ratio | goal | met? |'
\echo '|---|---|---|---|---|---|'
SELECT format('| ns per call: `route_region(ip)` (%s clients) vs the SQL router (%s clients: ip4r GiST lookup + `ORDER BY haversine LIMIT 1`) | %s | %s | %sx | <= 0.05x | %s |',
			  :ips, :peer_ips, pg_temp.fmt(:g_ns), pg_temp.fmt(:p_ns), pg_temp.fmt(:ratio),
			  CASE WHEN :'ratio_met'::bool THEN 'yes' ELSE '**no**' END);
SELECT format('| ns per call: `route_region(ip)`, clients the file places (hits) | %s | | | <= 1000 ns | %s |',
			  pg_temp.fmt(:g_ns), CASE WHEN :'abs_met'::bool THEN 'yes' ELSE '**no**' END);
SELECT format('| ns per call: `route_region(ip)`, public addresses the file does not know (misses) | %s | | %sx the hits | <= hits | %s |',
			  pg_temp.fmt(:miss_ns), pg_temp.fmt(:miss_ns / nullif(:g_ns, 0)),
			  CASE WHEN :'miss_met'::bool THEN 'yes' ELSE '**no**' END);
SELECT format('| ns per call: `route_region(ip)`, private addresses | %s | | %sx the hits | <= hits | %s |',
			  pg_temp.fmt(:private_ns), pg_temp.fmt(:private_ns / nullif(:g_ns, 0)),
			  CASE WHEN :'private_met'::bool THEN 'yes' ELSE '**no**' END);
SELECT format('| ns per call: `geoip_lookup(ip)` alone (diagnostic) | %s | | | (none) | - |',
			  pg_temp.fmt(pg_temp.ns('geoip_lookup(ip)')));
SELECT format('| same region as the SQL router (sampled clients) | %s / %s | | | all | %s |',
			  :same, :n, CASE WHEN :'same_met'::bool THEN 'yes' ELSE '**no**' END);
SELECT format('| mmdb hit rate (sampled clients) | %s%% (%s / %s) | | | (report) | - |',
			  round(100.0 * :hits / nullif(:n, 0), 2), :hits, :n);

SELECT format('%s: route_region %s ns/call (goal <= 1000 ns: %s), %sx the SQL router''s %s ns/call (goal <= 0.05x: %s); misses %s ns/call, private addresses %s ns/call (goal: no slower than hits: %s); same region for %s of %s sampled clients%s',
			  CASE WHEN :'abs_met'::bool AND :'ratio_met'::bool AND :'miss_met'::bool AND :'private_met'::bool AND :'same_met'::bool THEN 'Goal met'
				   WHEN :'abs_met'::bool AND :'ratio_met'::bool AND :'miss_met'::bool AND :'private_met'::bool THEN 'Goal met on time, but the answers DIFFER'
				   ELSE 'Goal not met' END,
			  pg_temp.fmt(:g_ns), CASE WHEN :'abs_met'::bool THEN 'met' ELSE 'NOT met' END,
			  pg_temp.fmt(:ratio), pg_temp.fmt(:p_ns), CASE WHEN :'ratio_met'::bool THEN 'met' ELSE 'NOT met' END,
			  pg_temp.fmt(:miss_ns), pg_temp.fmt(:private_ns),
			  CASE WHEN :'miss_met'::bool AND :'private_met'::bool THEN 'met' ELSE 'NOT met' END,
			  :same, :n, CASE WHEN :'same_met'::bool THEN '' ELSE ' (see the checks)' END) AS verdict \gset
\echo
\echo :verdict
