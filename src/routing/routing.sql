-- ---------------------------------------------------------------------------
-- routing: GeoIP lookups (route_region and the regions catalogue come next)
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
