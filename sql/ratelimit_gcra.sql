-- GCRA rate limiting (docs/ratelimit.md): the deterministic parts.  The rates
-- here are slow enough (one per 1000 s) that no key refills while the file
-- runs; timing and concurrency are tested in test/t/031_ratelimit.pl.

-- Arguments: each refusal with its SQLSTATE, next to an accepted call.
SELECT rate_limit('args', 1, 1);
SELECT rate_limit(NULL, 1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', 1, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', 1, 1, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', -1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', 0, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', 'NaN', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', 'Infinity', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', '-Infinity', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('fastest', 1e9, 1);
SELECT rate_limit('args', 1.5e9, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', 1, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', 1, -5);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', 1, 1, -1);
\echo :LAST_ERROR_SQLSTATE
-- the window burst / per_second may span ten years, not more
SELECT rate_limit('args', 1e-6, 315);
SELECT rate_limit('args', 1e-6, 316);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('args', 1e-300, 1);
\echo :LAST_ERROR_SQLSTATE
-- keys up to 160 bytes (not characters)
SELECT rate_limit(repeat('x', 160), 1, 1);
SELECT rate_limit(repeat('x', 161), 1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit(repeat('é', 80), 1, 1);
SELECT rate_limit(repeat('é', 81), 1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit('', 1, 1) AS empty_key_is_a_key;
SELECT rate_limit_info(NULL, 1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rate_limit_info('args', 1, 0);
\echo :LAST_ERROR_SQLSTATE

-- A full key lets burst requests through at once, then refuses.
SELECT rate_limit('burst', 0.001, 3) AS allowed FROM generate_series(1, 5);
-- a refusal consumes nothing, so a smaller limit on the same key passes
SELECT rate_limit('burst', 0.001, 4) AS fourth_of_burst_4;
SELECT rate_limit('burst', 0.001, 4) AS fifth_of_burst_4;

-- info: allowed, remaining, retry_after and reset_after (seconds).  The
-- times are rounded to seconds: a little time passes between calls.
SELECT allowed, remaining, round(retry_after::numeric) AS retry_after,
	   round(reset_after::numeric) AS reset_after
FROM rate_limit_info('info', 0.001, 3) \g (footer=off)
SELECT allowed, remaining, round(retry_after::numeric) AS retry_after,
	   round(reset_after::numeric) AS reset_after
FROM rate_limit_info('info', 0.001, 3) \g (footer=off)
SELECT allowed, remaining, round(retry_after::numeric) AS retry_after,
	   round(reset_after::numeric) AS reset_after
FROM rate_limit_info('info', 0.001, 3) \g (footer=off)
SELECT allowed, remaining, round(retry_after::numeric) AS retry_after,
	   round(reset_after::numeric) AS reset_after
FROM rate_limit_info('info', 0.001, 3) \g (footer=off)
-- cost: 2 of a full burst of 5, then 3 more, then 1 more is refused
SELECT allowed, remaining, round(retry_after::numeric) AS retry_after,
	   round(reset_after::numeric) AS reset_after
FROM (VALUES (1, 2), (2, 3), (3, 1)) v(n, cost), rate_limit_info('cost', 0.001, 5, cost) i
ORDER BY n;
-- cost 0 consumes nothing: a look at the key's state
SELECT allowed, remaining, round(reset_after::numeric) AS reset_after
FROM rate_limit_info('cost', 0.001, 5, 0);
SELECT allowed, remaining, retry_after, reset_after FROM rate_limit_info('never-seen', 0.001, 5, 0);
-- cost above burst never passes and consumes nothing: retry_after is infinity
SELECT allowed, remaining, retry_after, reset_after FROM rate_limit_info('big', 1, 5, 6);
SELECT rate_limit('big', 1, 5, 6) AS six_of_five, rate_limit('big', 1, 5, 5) AS five_of_five;

-- Fractional rates: 0.5 per second is one request per 2 s.
SELECT allowed, remaining, round(retry_after::numeric) AS retry_after,
	   round(reset_after::numeric) AS reset_after
FROM rate_limit_info('half', 0.5, 2) \g (footer=off)
SELECT allowed, remaining, round(retry_after::numeric) AS retry_after,
	   round(reset_after::numeric) AS reset_after
FROM rate_limit_info('half', 0.5, 2) \g (footer=off)
SELECT allowed, remaining, round(retry_after::numeric) AS retry_after,
	   round(reset_after::numeric) AS reset_after
FROM rate_limit_info('half', 0.5, 2) \g (footer=off)

-- A key used with a slower limit is clamped to the faster one's window:
-- refused for at most burst / per_second of the limit asked now.
SELECT rate_limit('clamp', 0.001, 100, 100) AS empty_for_a_day;
SELECT allowed, round(retry_after::numeric) AS retry_after, round(reset_after::numeric) AS reset_after
FROM rate_limit_info('clamp', 1, 2);

-- Keys are exact: case and bytes count.
SELECT rate_limit('Case', 0.001, 1) AS upper, rate_limit('case', 0.001, 1) AS lower,
	   rate_limit('Case', 0.001, 1) AS upper_again;

-- Usage, for operators: not for PUBLIC.
SELECT capacity, entries >= 10 AS has_entries, active_keys >= 8 AS has_active_keys,
	   evictions, allowed > 0 AS has_allowed, denied > 0 AS has_denied
FROM geoshard.rate_limit_usage;
CREATE ROLE ratelimit_app;
SET ROLE ratelimit_app;
SELECT rate_limit('app', 1, 1) AS app_may_call;
SELECT * FROM geoshard.rate_limit_usage;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT pg_monitor TO ratelimit_app;
SET ROLE ratelimit_app;
SELECT capacity FROM geoshard.rate_limit_usage;
RESET ROLE;
DROP ROLE ratelimit_app;
