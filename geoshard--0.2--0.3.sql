/* geoshard upgrade script: 0.2 to 0.3 (ALTER EXTENSION geoshard UPDATE TO '0.3') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION geoshard UPDATE TO '0.3'" to load this file. \quit

-- Every change to the objects since 0.2, area by area, in the order of the
-- install script.  A fresh 0.3 install and an upgraded 0.1 or 0.2 install must
-- end up with the same objects: test/t/008_release_upgrade.pl compares them.

-- ===== geoip =====

-- geoip_lookup keeps geoshard.geoip_networks in memory per backend; a trigger
-- tells every backend when the table changes.
CREATE FUNCTION geoshard.geoip_networks_changed() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE TRIGGER geoip_networks_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.geoip_networks
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.geoip_networks_changed();
-- Each backend keeps a copy of the table, which must follow every write,
-- including those made with session_replication_role = replica; logical
-- replication's apply worker fires no statement triggers but TRUNCATE's,
-- hence the row-level twin.
ALTER TABLE geoshard.geoip_networks ENABLE ALWAYS TRIGGER geoip_networks_changed;
CREATE TRIGGER geoip_networks_changed_row
	AFTER INSERT OR UPDATE OR DELETE ON geoshard.geoip_networks
	FOR EACH ROW EXECUTE FUNCTION geoshard.geoip_networks_changed();
ALTER TABLE geoshard.geoip_networks ENABLE REPLICA TRIGGER geoip_networks_changed_row;
COMMENT ON FUNCTION geoshard.geoip_networks_changed() IS
	'trigger on geoshard.geoip_networks: makes every backend reload its copy of the table';
REVOKE ALL ON FUNCTION geoshard.geoip_networks_changed() FROM PUBLIC;

-- ===== routing =====

-- Two columns for the health worker's http(s) probe, appended last as in
-- routing.sql's CREATE TABLE.
ALTER TABLE geoshard.regions
	ADD COLUMN probe_status int4,
	ADD COLUMN probe_body text,
	ADD CONSTRAINT regions_probe_status CHECK (probe_status BETWEEN 100 AND 599),
	ADD CONSTRAINT regions_probe_body CHECK (octet_length(probe_body) BETWEEN 1 AND 1024),
	ADD CONSTRAINT regions_probe_http CHECK ((probe_status IS NULL AND probe_body IS NULL)
											 OR coalesce(endpoint, '') = ''
											 OR endpoint ~* '^https?://');
COMMENT ON TABLE geoshard.regions IS
	'regions route_region chooses from: location, endpoint, cost, capacity, load, enabled, drained, and what their health probe expects';

-- add_region and update_region gain probe_status and probe_body: new
-- signatures, so the old functions go (administrative functions, which no
-- view or column uses).
DROP FUNCTION geoshard.add_region(text, float8, float8, text, text, float8, float8, float8, boolean);
DROP FUNCTION geoshard.update_region(text, text, float8, float8, text, float8, float8, float8, boolean);

-- Refuse what the health worker's http(s) probe could not check, with
-- errors naming the value (the CHECK constraints would only name themselves).
-- Takes the values the row would have; endpoint may hold a password, so it
-- is never shown.
CREATE FUNCTION geoshard.check_region_probe(id text, endpoint text, probe_status int4, probe_body text)
	RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF probe_status IS NOT NULL AND NOT (probe_status BETWEEN 100 AND 599) THEN
		RAISE EXCEPTION 'expected HTTP status % is out of range', probe_status
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = 'An HTTP status is between 100 and 599.',
				  HINT = 'Give 0 to clear it: then any 2xx status is up.';
	END IF;
	IF octet_length(probe_body) > 1024 THEN
		RAISE EXCEPTION 'expected response body text is too long'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('It has %s bytes; at most 1024 are allowed.', octet_length(probe_body));
	END IF;
	IF (probe_status IS NOT NULL OR probe_body IS NOT NULL)
	   AND coalesce(endpoint, '') <> '' AND endpoint !~* '^https?://' THEN
		RAISE EXCEPTION 'an expected probe status or body needs an http:// or https:// endpoint'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('Region "%s" has a tcp://, postgres:// or other endpoint, whose probe reads no HTTP status or body.', id),
				  HINT = 'Leave probe_status and probe_body null; update_region clears them with probe_status => 0 and probe_body => ''''.';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.check_region_probe(text, text, int4, text) IS
	'raise an error for an expected probe status or body the region''s endpoint cannot be checked against (used by add_region and update_region)';

-- The administrative functions are SECURITY DEFINER so that EXECUTE alone
-- lets a role manage regions; none is executable by PUBLIC.  probe_status 0
-- and probe_body '' mean none, as NULL does (update_region clears with them).
CREATE FUNCTION geoshard.add_region(id text, lat float8, lon float8,
									name text DEFAULT NULL,
									endpoint text DEFAULT NULL,
									cost float8 DEFAULT 1,
									capacity float8 DEFAULT 1,
									load float8 DEFAULT 0,
									enabled boolean DEFAULT true,
									probe_status int4 DEFAULT NULL,
									probe_body text DEFAULT NULL)
	RETURNS geoshard.regions
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result geoshard.regions;
	new_status int4 := nullif(add_region.probe_status, 0);
	new_body text := nullif(add_region.probe_body, '');
BEGIN
	IF add_region.id IS NULL OR add_region.lat IS NULL OR add_region.lon IS NULL THEN
		RAISE EXCEPTION 'region id, latitude and longitude must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF add_region.id !~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid region id: "%"', add_region.id
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A region id has 1 to 63 letters, digits, ".", "_", ":" or "-", and starts with a letter or digit.';
	END IF;
	PERFORM geoshard.check_region_location(add_region.lat, add_region.lon);
	PERFORM geoshard.check_region_probe(add_region.id, add_region.endpoint, new_status, new_body);
	IF EXISTS (SELECT FROM geoshard.regions r WHERE r.id = add_region.id) THEN
		RAISE EXCEPTION 'region "%" already exists', add_region.id
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Change it with geoshard.update_region().';
	END IF;
	INSERT INTO geoshard.regions AS r (id, name, lat, lon, endpoint, cost, capacity, load, enabled,
									   probe_status, probe_body)
	VALUES (add_region.id, add_region.name, add_region.lat, add_region.lon, add_region.endpoint,
			coalesce(add_region.cost, 1), coalesce(add_region.capacity, 1),
			coalesce(add_region.load, 0), coalesce(add_region.enabled, true),
			new_status, new_body)
	RETURNING r.* INTO result;
	RETURN result;
END
$$;
COMMENT ON FUNCTION geoshard.add_region(text, float8, float8, text, text, float8, float8, float8, boolean, int4, text) IS
	'add a region to the routing catalogue; returns the new row';

-- Arguments left NULL keep their current value.
CREATE FUNCTION geoshard.update_region(id text,
									   name text DEFAULT NULL,
									   lat float8 DEFAULT NULL,
									   lon float8 DEFAULT NULL,
									   endpoint text DEFAULT NULL,
									   cost float8 DEFAULT NULL,
									   capacity float8 DEFAULT NULL,
									   load float8 DEFAULT NULL,
									   enabled boolean DEFAULT NULL,
									   probe_status int4 DEFAULT NULL,
									   probe_body text DEFAULT NULL)
	RETURNS geoshard.regions
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result geoshard.regions;
	cur geoshard.regions;
	new_status int4;
	new_body text;
BEGIN
	PERFORM geoshard.check_region_location(update_region.lat, update_region.lon);
	SELECT r.* INTO cur FROM geoshard.regions r WHERE r.id = update_region.id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(update_region.id);
	END IF;
	new_status := CASE WHEN update_region.probe_status IS NULL THEN cur.probe_status
					   ELSE nullif(update_region.probe_status, 0) END;
	new_body := CASE WHEN update_region.probe_body IS NULL THEN cur.probe_body
					 ELSE nullif(update_region.probe_body, '') END;
	PERFORM geoshard.check_region_probe(update_region.id,
										coalesce(update_region.endpoint, cur.endpoint),
										new_status, new_body);
	UPDATE geoshard.regions r SET
		name = coalesce(update_region.name, r.name),
		lat = coalesce(update_region.lat, r.lat),
		lon = coalesce(update_region.lon, r.lon),
		endpoint = coalesce(update_region.endpoint, r.endpoint),
		cost = coalesce(update_region.cost, r.cost),
		capacity = coalesce(update_region.capacity, r.capacity),
		load = coalesce(update_region.load, r.load),
		enabled = coalesce(update_region.enabled, r.enabled),
		probe_status = new_status,
		probe_body = new_body
	WHERE r.id = update_region.id
	RETURNING r.* INTO result;
	RETURN result;
END
$$;
COMMENT ON FUNCTION geoshard.update_region(text, text, float8, float8, text, float8, float8, float8, boolean, int4, text) IS
	'change a region; arguments left NULL keep their value (probe_status 0 and probe_body '''' clear theirs); returns the row';
REVOKE ALL ON FUNCTION geoshard.check_region_probe(text, text, int4, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.add_region(text, float8, float8, text, text, float8, float8, float8, boolean, int4, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.update_region(text, text, float8, float8, text, float8, float8, float8, boolean, int4, text) FROM PUBLIC;

-- ===== health =====

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

-- The breakers as the health worker keeps them in shared memory; endpoints
-- with their passwords masked.
CREATE FUNCTION geoshard.region_health_state(OUT region text, OUT endpoint text, OUT state text,
											 OUT degraded boolean, OUT forced boolean, OUT probed boolean,
											 OUT consecutive_failures int4, OUT consecutive_successes int4,
											 OUT last_rtt_ms float8, OUT smoothed_rtt_ms float8,
											 OUT last_error text, OUT last_probe timestamptz,
											 OUT since timestamptz, OUT cooldown_ms int4, OUT panic boolean)
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
