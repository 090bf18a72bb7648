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

-- output plugin: the geoshard output plugin reads the shard map under the
-- historic snapshot of logical decoding, which only catalog and
-- user_catalog_table tables may be read with (src/cdc/geo_enrich.c).
ALTER TABLE geoshard.shards SET (user_catalog_table = true);

-- ===== raft =====
