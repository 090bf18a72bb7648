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

-- ===== ratelimit =====

-- Application-facing, so executable by PUBLIC like route_region: keys are
-- shared by every role of a database.  A role that may call it can also fill
-- the table and evict other keys (docs/ratelimit.md#who-may-call-it); where
-- untrusted roles log in, REVOKE EXECUTE ... FROM PUBLIC and GRANT it to the
-- application's roles.
CREATE FUNCTION rate_limit(key text, per_second float8, burst int4, cost int4 DEFAULT 1)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'rate_limit'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION rate_limit(text, float8, int4, int4) IS
	'may a request of this cost on this key pass now, at per_second with up to burst at once (GCRA in shared memory); true consumes it';

CREATE FUNCTION rate_limit_info(key text, per_second float8, burst int4, cost int4 DEFAULT 1,
								OUT allowed boolean, OUT remaining int4,
								OUT retry_after float8, OUT reset_after float8)
	RETURNS record
	AS 'MODULE_PATHNAME', 'rate_limit_info'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION rate_limit_info(text, float8, int4, int4) IS
	'rate_limit''s decision with remaining requests, seconds until a retry may pass (infinity when cost > burst) and until the key is full again';

-- Counts only, but of every database's traffic: for pg_monitor, not PUBLIC.
CREATE FUNCTION geoshard.rate_limit_usage_state(OUT capacity int8, OUT entries int8,
												OUT active_keys int8, OUT evictions int8,
												OUT recycled int8, OUT allowed int8, OUT denied int8)
	RETURNS record
	AS 'MODULE_PATHNAME', 'rate_limit_usage_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.rate_limit_usage_state() IS
	'the shared table of rate-limited keys: capacity, entries taken, keys not full, evictions and decisions since start';
REVOKE ALL ON FUNCTION geoshard.rate_limit_usage_state() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION geoshard.rate_limit_usage_state() TO pg_monitor;

CREATE VIEW geoshard.rate_limit_usage AS
	SELECT * FROM geoshard.rate_limit_usage_state();
COMMENT ON VIEW geoshard.rate_limit_usage IS
	'one row on the shared table of rate-limited keys, for operators: a growing evictions count means geoshard.rate_limit_keys is too small';
REVOKE ALL ON geoshard.rate_limit_usage FROM PUBLIC;
GRANT SELECT ON geoshard.rate_limit_usage TO pg_monitor;
