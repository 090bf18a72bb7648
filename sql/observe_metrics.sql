-- geoshard.metrics: counters of route_region and GeoIP lookups move with the
-- calls (and stop while geoshard.metrics_enabled is off), every family is
-- named, typed and explained once, the view is readable by anyone while
-- counting can be switched off and the password read by superusers only,
-- and geoshard.metrics_listen refuses malformed addresses.
SET extra_float_digits = 0;

SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
FROM pg_attribute WHERE attrelid = 'geoshard.metrics'::regclass AND attnum > 0;

-- a place to route to, from earlier tests or this one
SELECT count(*) >= 0 FROM (SELECT geoshard.add_region('observe-1', 10, 10)
	WHERE NOT EXISTS (SELECT FROM geoshard.regions WHERE id = 'observe-1')) s;

CREATE TEMP TABLE before AS
	SELECT name, labels, value FROM geoshard.metrics WHERE name NOT LIKE 'geoshard_probe%';

-- three calls located by their arguments, one by its address
SELECT route_region(10, 10, NULL) IS NOT NULL FROM generate_series(1, 3);
SELECT coalesce(route_region('192.0.2.77'::inet), 'none') <> '' AS called;
-- explain and route_regions do not count
SELECT route_region_explain(10, 10, NULL) IS NOT NULL;

-- how much a metric (its samples with the given labels) grew since "before"
CREATE FUNCTION pg_temp.delta(metric text, with_labels jsonb DEFAULT '{}') RETURNS float8
LANGUAGE sql AS $$
	SELECT coalesce((SELECT sum(value) FROM geoshard.metrics
					 WHERE name = metric AND labels @> with_labels), 0)
		 - coalesce((SELECT sum(value) FROM before
					 WHERE name = metric AND labels @> with_labels), 0)
$$;

SELECT pg_temp.delta('geoshard_route_decisions_total') AS decisions,
	   pg_temp.delta('geoshard_route_location_source_total', '{"source": "argument"}') AS by_argument,
	   pg_temp.delta('geoshard_geoip_lookups_total') AS geoip_lookups;

-- counting off: nothing moves
DROP TABLE before;
CREATE TEMP TABLE before AS
	SELECT name, labels, value FROM geoshard.metrics WHERE name NOT LIKE 'geoshard_probe%';
SET geoshard.metrics_enabled = off;
SELECT route_region(10, 10, NULL) IS NOT NULL FROM generate_series(1, 3);
SELECT pg_temp.delta('geoshard_route_decisions_total') AS decisions_while_off;
RESET geoshard.metrics_enabled;

-- one HELP and one TYPE per family, the geoshard_ prefix, base units
SELECT count(*) AS families_without_prefix FROM geoshard.metrics WHERE name NOT LIKE 'geoshard\_%';
SELECT regexp_replace(name, '_(bucket|sum|count)$', '') AS family, count(DISTINCT type) AS types,
	   count(DISTINCT help) AS helps
FROM geoshard.metrics
GROUP BY 1 HAVING count(DISTINCT type) <> 1 OR count(DISTINCT help) <> 1;
SELECT DISTINCT name, type FROM geoshard.metrics WHERE name LIKE 'geoshard\_route%' OR name LIKE 'geoshard\_geoip%'
ORDER BY 1;
SELECT labels ->> 'reason' AS reason FROM geoshard.metrics
WHERE name = 'geoshard_route_decisions_total' ORDER BY 1;

-- anyone reads the view; only superusers turn counting off or see the password
\set VERBOSITY default
CREATE ROLE observe_app;
SET ROLE observe_app;
SELECT count(*) > 0 AS readable FROM geoshard.metrics;
SET geoshard.metrics_enabled = off;
SHOW geoshard.metrics_password;
RESET ROLE;
DROP ROLE observe_app;

-- the listener's address: an IPv4 or bracketed IPv6 address and a port
ALTER SYSTEM SET geoshard.metrics_listen = '127.0.0.1';
ALTER SYSTEM SET geoshard.metrics_listen = '127.0.0.1:0';
ALTER SYSTEM SET geoshard.metrics_listen = '127.0.0.1:65536';
ALTER SYSTEM SET geoshard.metrics_listen = 'localhost:9188';
ALTER SYSTEM SET geoshard.metrics_listen = '::1:9188';
ALTER SYSTEM SET geoshard.metrics_listen = '[::1]:91x8';
\set VERBOSITY terse
