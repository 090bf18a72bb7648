
-- ===== health: the health worker's record and views (docs/health.md) =====

-- Every circuit breaker transition, appended by the health worker; rows older
-- than geoshard.health_events_max_age are pruned, but each region's latest,
-- from which the worker rebuilds the breakers after a restart.
CREATE TABLE geoshard.health_events (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	region text NOT NULL,
	from_state text NOT NULL CHECK (from_state IN ('closed', 'half_open', 'open')),
	to_state text NOT NULL CHECK (to_state IN ('closed', 'half_open', 'open')),
	reason text NOT NULL,
	error text,
	rtt_ms float8,
	at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX health_events_region_at ON geoshard.health_events (region, at);
COMMENT ON TABLE geoshard.health_events IS
	'circuit breaker transitions written by the health worker (docs/health.md)';
-- the history is the operators' record and what restores the breakers: pg_dump keeps it
SELECT pg_catalog.pg_extension_config_dump('geoshard.health_events', '');
SELECT pg_catalog.pg_extension_config_dump('geoshard.health_events_id_seq', '');

-- The breakers as the health worker keeps them in shared memory; endpoints
-- with their passwords masked.
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

-- Readable by PUBLIC: region_health_state() shows no password.
CREATE VIEW geoshard.region_health AS
	SELECT * FROM geoshard.region_health_state();
COMMENT ON VIEW geoshard.region_health IS
	'one row per region: circuit breaker state, probe figures and panic mode, endpoints without passwords';
GRANT SELECT ON geoshard.region_health TO PUBLIC;

CREATE FUNCTION geoshard.probe_now(region text, OUT up boolean, OUT rtt_ms float8,
								   OUT error text, OUT state text)
	AS 'MODULE_PATHNAME', 'probe_now'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.probe_now(text) IS
	'ask the health worker for a round of probes now and return the region''s result and breaker state';
REVOKE ALL ON FUNCTION geoshard.probe_now(text) FROM PUBLIC;

COMMENT ON FUNCTION geoshard.set_region_breaker(text, text) IS
	'force a region''s circuit breaker open, closed or half_open until ''auto'' hands it back to the health worker';
