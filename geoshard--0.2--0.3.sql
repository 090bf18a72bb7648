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
