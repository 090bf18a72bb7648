/* geoshard upgrade script: 0.3 to 0.4 (ALTER EXTENSION geoshard UPDATE TO '0.4') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION geoshard UPDATE TO '0.4'" to load this file. \quit

-- Every change to the objects since 0.3, area by area, in the order of the
-- install script.  A fresh 0.4 install and an upgraded 0.1, 0.2 or 0.3 install
-- must end up with the same objects: test/t/008_release_upgrade.pl compares them.

-- ===== health =====

-- pg_dump keeps the breakers' history (and what restores them after a restart)
SELECT pg_catalog.pg_extension_config_dump('geoshard.health_events', '');
SELECT pg_catalog.pg_extension_config_dump('geoshard.health_events_id_seq', '');

-- region_health gains baseline_rtt_ms, the region's own normal round trip
DROP VIEW geoshard.region_health;
DROP FUNCTION geoshard.region_health_state();
CREATE FUNCTION geoshard.region_health_state(OUT region text, OUT endpoint text, OUT state text,
											 OUT degraded boolean, OUT forced boolean, OUT probed boolean,
											 OUT consecutive_failures int4, OUT consecutive_successes int4,
											 OUT last_rtt_ms float8, OUT smoothed_rtt_ms float8,
											 OUT last_error text, OUT last_probe timestamptz,
											 OUT since timestamptz, OUT cooldown_ms int4, OUT panic boolean,
											 OUT baseline_rtt_ms float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'region_health_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.region_health_state() IS
	'the circuit breakers as the health worker keeps them in shared memory, one row per region it knows, passwords in endpoints masked';
CREATE VIEW geoshard.region_health AS
	SELECT * FROM geoshard.region_health_state();
COMMENT ON VIEW geoshard.region_health IS
	'one row per region: circuit breaker state, probe figures and panic mode, endpoints without passwords';
GRANT SELECT ON geoshard.region_health TO PUBLIC;

-- ===== cdc =====

-- ===== raft =====

-- ===== observe =====

-- Every metric of every area, from shared memory: the figures /metrics serves.
-- Executable by PUBLIC (behind the view): counts, breaker states and region
-- ids, which route_region shows to anyone; no endpoint, password or address.
CREATE FUNCTION geoshard.metrics_values(OUT name text, OUT labels jsonb, OUT type text,
										OUT value float8, OUT help text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'metrics_values'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.metrics_values() IS
	'every geoshard metric sample from shared memory (name, labels, type, value, help), as /metrics serves them';

CREATE VIEW geoshard.metrics AS
	SELECT * FROM geoshard.metrics_values();
COMMENT ON VIEW geoshard.metrics IS
	'geoshard''s metrics in SQL: one row per sample, named as on the Prometheus endpoint (docs/observe.md)';
GRANT SELECT ON geoshard.metrics TO PUBLIC;
