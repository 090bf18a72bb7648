-- ---------------------------------------------------------------------------
-- routing: GeoIP lookups
-- ---------------------------------------------------------------------------

-- Networks with their location, for servers without a MaxMind DB file and for
-- addresses the file does not know.  The most specific network wins.
CREATE TABLE geoshard.geoip_networks (
	network cidr PRIMARY KEY,
	country text,
	latitude float8,
	longitude float8,
	accuracy_radius_km int4,
	CONSTRAINT geoip_networks_latitude CHECK (latitude BETWEEN -90 AND 90),
	CONSTRAINT geoip_networks_longitude CHECK (longitude BETWEEN -180 AND 180),
	CONSTRAINT geoip_networks_location CHECK ((latitude IS NULL) = (longitude IS NULL)),
	CONSTRAINT geoip_networks_accuracy_radius CHECK (accuracy_radius_km >= 0)
);
CREATE INDEX geoip_networks_network_gist ON geoshard.geoip_networks USING gist (network inet_ops);
COMMENT ON TABLE geoshard.geoip_networks IS
	'network -> location, used by geoip_lookup when geoshard.geoip_database has no answer';
SELECT pg_catalog.pg_extension_config_dump('geoshard.geoip_networks', '');
-- geoip_lookup reads the table as the calling user
GRANT SELECT ON geoshard.geoip_networks TO PUBLIC;

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

CREATE FUNCTION geoip_lookup(ip inet,
							 OUT country text,
							 OUT latitude float8,
							 OUT longitude float8,
							 OUT accuracy_radius_km int4,
							 OUT source text)
	RETURNS record
	AS 'MODULE_PATHNAME', 'geoip_lookup'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION geoip_lookup(inet) IS
	'location of an address from geoshard.geoip_database, else geoshard.geoip_networks; source is mmdb, table or NULL';

-- ---------------------------------------------------------------------------
-- routing: the regions catalogue, geo-fences and route_region
-- ---------------------------------------------------------------------------

-- The regions clients can be routed to.  Every column but id, lat and lon has
-- a default, so INSERT (id, name, lat, lon, endpoint) is enough.  The routing
-- code copies the table into memory (shared when preloaded) and refuses rows
-- it could not hold: see geoshard.routing_changed() below.
CREATE TABLE geoshard.regions (
	id text PRIMARY KEY,
	name text,
	lat float8 NOT NULL,
	lon float8 NOT NULL,
	endpoint text,
	cost float8 NOT NULL DEFAULT 1,
	capacity float8 NOT NULL DEFAULT 1,
	load float8 NOT NULL DEFAULT 0,
	enabled boolean NOT NULL DEFAULT true,
	drained boolean NOT NULL DEFAULT false,
	CONSTRAINT regions_id CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$'),
	CONSTRAINT regions_lat CHECK (lat BETWEEN -90 AND 90),
	CONSTRAINT regions_lon CHECK (lon BETWEEN -180 AND 180),
	CONSTRAINT regions_cost CHECK (cost >= 0 AND cost < 'Infinity'),
	CONSTRAINT regions_capacity CHECK (capacity > 0 AND capacity < 'Infinity'),
	CONSTRAINT regions_load CHECK (load >= 0 AND load < 'Infinity'),
	-- what the health worker's http(s) probe expects: this status (NULL: any
	-- 2xx) and a body containing this text (NULL: any body); appended last, as
	-- the 0.2 to 0.3 upgrade adds them, so both installs have one column order
	probe_status int4,
	probe_body text,
	CONSTRAINT regions_probe_status CHECK (probe_status BETWEEN 100 AND 599),
	CONSTRAINT regions_probe_body CHECK (octet_length(probe_body) BETWEEN 1 AND 1024),
	CONSTRAINT regions_probe_http CHECK ((probe_status IS NULL AND probe_body IS NULL)
										 OR coalesce(endpoint, '') = ''
										 OR endpoint ~* '^https?://')
);
COMMENT ON TABLE geoshard.regions IS
	'regions route_region chooses from: location, endpoint, cost, capacity, load, enabled, drained, and what their health probe expects';
SELECT pg_catalog.pg_extension_config_dump('geoshard.regions', '');

-- Data residency: clients located in one of countries may only be routed to
-- one of regions.  When several fences name a country, all of them apply.
CREATE TABLE geoshard.geo_fences (
	name text PRIMARY KEY,
	countries text[] NOT NULL,
	regions text[] NOT NULL,
	CONSTRAINT geo_fences_name CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$'),
	CONSTRAINT geo_fences_countries CHECK (cardinality(countries) > 0),
	CONSTRAINT geo_fences_regions CHECK (cardinality(regions) > 0)
);
COMMENT ON TABLE geoshard.geo_fences IS
	'clients located in countries may only be routed to regions';
SELECT pg_catalog.pg_extension_config_dump('geoshard.geo_fences', '');

-- Validates the changed catalogue as the routing table will read it, and
-- tells every backend to reload it when the transaction commits.
CREATE FUNCTION geoshard.routing_changed() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE TRIGGER regions_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.regions
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.routing_changed();
CREATE TRIGGER geo_fences_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.geo_fences
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.routing_changed();
-- Caches must follow every write, including those made with
-- session_replication_role = replica; logical replication's apply worker
-- fires no statement triggers but TRUNCATE's, hence the row-level twins,
-- which publish the change without validating it.
ALTER TABLE geoshard.regions ENABLE ALWAYS TRIGGER regions_changed;
ALTER TABLE geoshard.geo_fences ENABLE ALWAYS TRIGGER geo_fences_changed;
CREATE TRIGGER regions_changed_row
	AFTER INSERT OR UPDATE OR DELETE ON geoshard.regions
	FOR EACH ROW EXECUTE FUNCTION geoshard.routing_changed();
CREATE TRIGGER geo_fences_changed_row
	AFTER INSERT OR UPDATE OR DELETE ON geoshard.geo_fences
	FOR EACH ROW EXECUTE FUNCTION geoshard.routing_changed();
ALTER TABLE geoshard.regions ENABLE REPLICA TRIGGER regions_changed_row;
ALTER TABLE geoshard.geo_fences ENABLE REPLICA TRIGGER geo_fences_changed_row;
COMMENT ON FUNCTION geoshard.routing_changed() IS
	'trigger on geoshard.regions and geo_fences: validates a change and makes every backend reload the routing table';

-- Refuse coordinates with an error naming the value (the CHECK constraints
-- would only name themselves).
CREATE FUNCTION geoshard.check_region_location(lat float8, lon float8) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF lat IS NOT NULL AND lat BETWEEN -180 AND 180 AND NOT (lat BETWEEN -90 AND 90) THEN
		RAISE EXCEPTION 'latitude % is out of range', lat
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = 'Latitude must be between -90 and 90 degrees.',
				  HINT = format('Arguments are (lat, lon), latitude first; %s looks like a longitude.', lat);
	END IF;
	IF lat IS NOT NULL AND NOT (lat BETWEEN -90 AND 90) THEN
		RAISE EXCEPTION 'latitude % is out of range', lat
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = 'Latitude must be between -90 and 90 degrees.';
	END IF;
	IF lon IS NOT NULL AND NOT (lon BETWEEN -180 AND 180) THEN
		RAISE EXCEPTION 'longitude % is out of range', lon
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = 'Longitude must be between -180 and 180 degrees.';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.check_region_location(float8, float8) IS
	'raise an error naming a latitude or longitude out of range (used by add_region and update_region)';

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
-- lets a role manage regions; none is executable by PUBLIC.  On a node in a
-- raft group each one proposes its call through the log (the IF on its BEGIN
-- line, kept on that line so that error line numbers stay as they were) and
-- returns once this node applied it: the raft worker runs the same function,
-- which then writes (docs/raft.md).  Floats travel as text written with
-- extra_float_digits = 3, so they are applied exactly.  probe_status 0
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
	SET extra_float_digits = 3
AS $$
DECLARE
	result geoshard.regions;
	new_status int4 := nullif(add_region.probe_status, 0);
	new_body text := nullif(add_region.probe_body, '');
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('add_region', ARRAY[$1, $2::text, $3::text, $4, $5, $6::text, $7::text, $8::text, $9::text, $10::text, $11]); SELECT r.* INTO result FROM geoshard.regions r WHERE r.id = $1; RETURN result; END IF;
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
	SET extra_float_digits = 3
AS $$
DECLARE
	result geoshard.regions;
	cur geoshard.regions;
	new_status int4;
	new_body text;
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('update_region', ARRAY[$1, $2, $3::text, $4::text, $5, $6::text, $7::text, $8::text, $9::text, $10::text, $11]); SELECT r.* INTO result FROM geoshard.regions r WHERE r.id = $1; RETURN result; END IF;
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

CREATE FUNCTION geoshard.raise_unknown_region(id text) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'region "%" does not exist', coalesce(id, 'NULL')
		USING ERRCODE = 'undefined_object',
			  HINT = 'List regions with: SELECT * FROM geoshard.regions.';
END
$$;
COMMENT ON FUNCTION geoshard.raise_unknown_region(text) IS
	'raise the error for a region id that is not in geoshard.regions';

CREATE FUNCTION geoshard.remove_region(id text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('remove_region', ARRAY[$1]); RETURN; END IF;
	DELETE FROM geoshard.regions r WHERE r.id = remove_region.id;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(remove_region.id);
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.remove_region(text) IS
	'delete a region from the routing catalogue (drain it first to keep the row)';

-- Draining keeps the row but takes the region out of routing.
CREATE FUNCTION geoshard.drain_region(id text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('drain_region', ARRAY[$1]); RETURN; END IF;
	UPDATE geoshard.regions r SET drained = true WHERE r.id = drain_region.id;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(drain_region.id);
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.drain_region(text) IS
	'take a region out of routing without deleting it';

CREATE FUNCTION geoshard.undrain_region(id text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('undrain_region', ARRAY[$1]); RETURN; END IF;
	UPDATE geoshard.regions r SET drained = false WHERE r.id = undrain_region.id;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(undrain_region.id);
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.undrain_region(text) IS
	'put a drained region back into routing';

-- Country codes are stored upper-case, as GeoIP files spell them.
CREATE FUNCTION geoshard.add_geo_fence(name text, countries text[], regions text[])
	RETURNS geoshard.geo_fences
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result geoshard.geo_fences;
	unknown text[];
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('add_geo_fence', ARRAY[$1, $2::text, $3::text]); SELECT f.* INTO result FROM geoshard.geo_fences f WHERE f.name = $1; RETURN result; END IF;
	IF add_geo_fence.name IS NULL OR add_geo_fence.countries IS NULL OR add_geo_fence.regions IS NULL THEN
		RAISE EXCEPTION 'geo-fence name, countries and regions must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF cardinality(add_geo_fence.countries) = 0 OR cardinality(add_geo_fence.regions) = 0 THEN
		RAISE EXCEPTION 'geo-fence "%" needs at least one country and one region', add_geo_fence.name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT FROM geoshard.geo_fences f WHERE f.name = add_geo_fence.name) THEN
		RAISE EXCEPTION 'geo-fence "%" already exists', add_geo_fence.name
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Remove it first with geoshard.remove_geo_fence().';
	END IF;
	SELECT array_agg(r ORDER BY r) INTO unknown
	FROM unnest(add_geo_fence.regions) r
	WHERE NOT EXISTS (SELECT FROM geoshard.regions g WHERE g.id = r);
	IF unknown IS NOT NULL THEN
		RAISE EXCEPTION 'geo-fence "%" names regions that do not exist: %',
				add_geo_fence.name, array_to_string(unknown, ', ', 'NULL')
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add the regions first with geoshard.add_region().';
	END IF;
	INSERT INTO geoshard.geo_fences AS f (name, countries, regions)
	VALUES (add_geo_fence.name,
			(SELECT array_agg(DISTINCT upper(c) ORDER BY upper(c)) FROM unnest(add_geo_fence.countries) c),
			(SELECT array_agg(DISTINCT r ORDER BY r) FROM unnest(add_geo_fence.regions) r))
	RETURNING f.* INTO result;
	RETURN result;
END
$$;
COMMENT ON FUNCTION geoshard.add_geo_fence(text, text[], text[]) IS
	'route clients located in countries only to regions (data residency)';

CREATE FUNCTION geoshard.remove_geo_fence(name text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('remove_geo_fence', ARRAY[$1]); RETURN; END IF;
	DELETE FROM geoshard.geo_fences f WHERE f.name = remove_geo_fence.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'geo-fence "%" does not exist', coalesce(remove_geo_fence.name, 'NULL')
			USING ERRCODE = 'undefined_object',
				  HINT = 'List geo-fences with: SELECT * FROM geoshard.geo_fences.';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.remove_geo_fence(text) IS 'delete a geo-fence';

-- Breaker state, normally written by the health worker; an operator may
-- force a region open (out of routing) or closed.
CREATE FUNCTION geoshard.set_region_breaker(region text, state text) RETURNS void
	AS 'MODULE_PATHNAME', 'set_region_breaker'
	LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION geoshard.set_region_breaker(text, text) IS
	'set a region''s circuit breaker: closed, half_open or open (open takes it out of routing)';

-- A measured round trip from a client to a region; routing prefers smoothed
-- measurements for the client's network over the distance estimate.
CREATE FUNCTION geoshard.observe_latency(client inet, region text, rtt_ms float8) RETURNS void
	AS 'MODULE_PATHNAME', 'observe_latency'
	LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION geoshard.observe_latency(inet, text, float8) IS
	'record a measured round trip (ms) from a client''s network (/24, /48) to a region';

-- What routing sees now: the catalogue as loaded, with breaker states.
CREATE FUNCTION geoshard.routing_regions(OUT region text, OUT lat float8, OUT lon float8,
										 OUT cost float8, OUT load_fraction float8,
										 OUT enabled boolean, OUT drained boolean,
										 OUT breaker text, OUT routable boolean)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'routing_regions'
	LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION geoshard.routing_regions() IS
	'the routing table as route_region sees it, with circuit breaker states';

CREATE FUNCTION route_region(ip inet) RETURNS text
	AS 'MODULE_PATHNAME', 'route_region'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION route_region(inet) IS
	'the best region for a client address, or NULL when no region may serve it';

CREATE FUNCTION route_region(lat float8, lon float8, country text DEFAULT NULL) RETURNS text
	AS 'MODULE_PATHNAME', 'route_region_at'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION route_region(float8, float8, text) IS
	'the best region for a client at a location (and in a country, for geo-fences), or NULL';

CREATE FUNCTION route_regions(ip inet, n int4 DEFAULT 3,
							  OUT rank int4, OUT region text, OUT score float8,
							  OUT latency_ms float8, OUT latency_source text,
							  OUT distance_km float8, OUT cost float8,
							  OUT load_fraction float8, OUT over_capacity boolean,
							  OUT breaker text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'route_regions'
	LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 3;
COMMENT ON FUNCTION route_regions(inet, int4) IS
	'the n best regions for a client address, best first: the failover order';

CREATE FUNCTION route_region_explain(ip inet) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'route_region_explain'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION route_region_explain(inet) IS
	'route_region''s decision for a client address, with the client location, every candidate and why';

CREATE FUNCTION route_region_explain(lat float8, lon float8, country text DEFAULT NULL) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'route_region_explain_at'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION route_region_explain(float8, float8, text) IS
	'route_region''s decision for a client location, with every candidate and why';

REVOKE ALL ON FUNCTION geoshard.routing_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.check_region_location(float8, float8) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.raise_unknown_region(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.check_region_probe(text, text, int4, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.add_region(text, float8, float8, text, text, float8, float8, float8, boolean, int4, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.update_region(text, text, float8, float8, text, float8, float8, float8, boolean, int4, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.remove_region(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.drain_region(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.undrain_region(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.add_geo_fence(text, text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.remove_geo_fence(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.set_region_breaker(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.observe_latency(inet, text, float8) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.routing_regions() FROM PUBLIC;
