-- test/bench/metrics_concurrency_report.sql: the summary of the concurrent
-- phase of the metrics overhead benchmark (test/bench/metrics.sh), in
-- Markdown.  psql variable: batch (route_region calls per batch).
-- Per number of clients and variant: the backend's mean CPU time per
-- transaction (from the start of one batch to the start of the backend's
-- next: metrics_setup.sql says why), minus that of the plain scan of the
-- same rows, per call: the marginal ns/call, what the goal is judged on, as
-- in the single-session table (the transaction's own overhead, the same
-- for every variant, cancels out).  For reference, the same by the batch's
-- wall time: on 2 shared cores, 8 clients are time-sliced, and a batch's
-- wall time holds the slices other clients took.  on_again runs the same
-- code as on: its distance from on is the noise.
\set ON_ERROR_STOP 1
WITH tx AS (
	SELECT clients, variant, ms,
		   lead(cpu_start_ns) OVER (PARTITION BY round, clients, pid ORDER BY id) - cpu_start_ns AS cpu_ns
	FROM bench.batch_timings
), mean AS (
	SELECT clients, variant, avg(cpu_ns) / 1e6 AS cpu_ms, avg(ms) AS wall_ms, count(*) AS batches
	FROM tx WHERE cpu_ns IS NOT NULL GROUP BY clients, variant
), marginal AS (
	SELECT clients, clock, sum(batches) FILTER (WHERE variant <> 'scan') AS batches,
		   (max(ms) FILTER (WHERE variant = 'on') - max(ms) FILTER (WHERE variant = 'scan')) * 1e6 / :batch AS on_ns,
		   (max(ms) FILTER (WHERE variant = 'off') - max(ms) FILTER (WHERE variant = 'scan')) * 1e6 / :batch AS off_ns,
		   (max(ms) FILTER (WHERE variant = 'on_again') - max(ms) FILTER (WHERE variant = 'scan')) * 1e6 / :batch AS again_ns
	FROM (SELECT clients, variant, batches, 'CPU' AS clock, cpu_ms AS ms FROM mean
		  UNION ALL
		  SELECT clients, variant, batches, 'wall', wall_ms FROM mean) m
	GROUP BY clients, clock
)
SELECT E'| clients | time | route_region batches | marginal ns/call, metrics on | off | on / off | on again (A/A) / on | goal on / off <= 1.02 |\n'
	   '|---|---|---|---|---|---|---|---|\n'
	   || string_agg(format('| %s | %s | %s | %s | %s | %s | %s | %s |',
							clients, clock, batches, round(on_ns::numeric, 1), round(off_ns::numeric, 1),
							round((on_ns / nullif(off_ns, 0))::numeric, 4),
							round((again_ns / nullif(on_ns, 0))::numeric, 4),
							CASE WHEN clock = 'wall' THEN 'for reference'
								 WHEN on_ns <= 1.02 * off_ns THEN 'met' ELSE 'NOT met' END),
					 E'\n' ORDER BY clients, clock)
FROM marginal;
