-- test/bench/metrics_report.sql: the summary of the metrics overhead
-- benchmark (test/bench/metrics.sh), in Markdown.  psql variable: ips.
-- Per variant, the median over the rounds of its time, minus the median of
-- the plain scan, per client: the marginal ns/call.  By the backend's CPU
-- time (what the goal is judged on: it moves far less than wall time when
-- other processes load the machine) and, for reference, by wall time.
-- on_again runs the same code as on: its distance from on is the noise.
\set ON_ERROR_STOP 1
WITH t AS (
	SELECT variant, 'CPU' AS clock, cpu_ms AS ms FROM bench.timings
	UNION ALL
	SELECT variant, 'wall', ms FROM bench.timings
), med AS (
	SELECT clock, variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms, count(*) AS rounds
	FROM t GROUP BY clock, variant
), marginal AS (
	SELECT clock, max(rounds) AS rounds,
		   (max(ms) FILTER (WHERE variant = 'on') - max(ms) FILTER (WHERE variant = 'scan')) * 1e6 / :ips AS on_ns,
		   (max(ms) FILTER (WHERE variant = 'off') - max(ms) FILTER (WHERE variant = 'scan')) * 1e6 / :ips AS off_ns,
		   (max(ms) FILTER (WHERE variant = 'on_again') - max(ms) FILTER (WHERE variant = 'scan')) * 1e6 / :ips AS again_ns
	FROM med GROUP BY clock
)
SELECT E'| route_region(ip), marginal ns/call (medians) | metrics on | metrics off | on / off | on again (A/A control) / on | goal on / off <= 1.02 |\n'
	   '|---|---|---|---|---|---|\n'
	   || string_agg(format('| %s time, %s rounds | %s | %s | %s | %s | %s |',
							clock, rounds, round(on_ns::numeric, 1), round(off_ns::numeric, 1),
							round((on_ns / off_ns)::numeric, 4), round((again_ns / on_ns)::numeric, 4),
							CASE WHEN clock = 'wall' THEN 'for reference'
								 WHEN on_ns / off_ns <= 1.02 THEN 'met' ELSE 'NOT met' END),
					 E'\n' ORDER BY clock)
FROM marginal;
