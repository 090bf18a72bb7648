/* geoshard upgrade script: 0.1 to 0.2 (ALTER EXTENSION geoshard UPDATE TO '0.2') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION geoshard UPDATE TO '0.2'" to load this file. \quit

-- Every change to the objects since 0.1, area by area, in the order of the
-- install script.  A fresh 0.2 install and an upgraded 0.1 install must end up
-- with the same objects: test/t/008_release_upgrade.pl compares them.

-- ===== common =====

COMMENT ON EXTENSION geoshard IS
	'geo-distributed backend for location-based apps: quadkey tiles, radius and nearest-neighbour search, shard map, CRDTs with hybrid logical clocks, GeoIP region routing';

-- ===== geo =====

-- shard map caches
-- The cache trigger fires in every session_replication_role, with a
-- row-level twin for logical replication's apply worker.
ALTER TABLE geoshard.shards ENABLE ALWAYS TRIGGER shards_changed;
CREATE TRIGGER shards_changed_row
	AFTER INSERT OR UPDATE OR DELETE ON geoshard.shards
	FOR EACH ROW EXECUTE FUNCTION geoshard.shards_changed();
ALTER TABLE geoshard.shards ENABLE REPLICA TRIGGER shards_changed_row;
COMMENT ON FUNCTION geoshard.shards_changed() IS
	'trigger on geoshard.shards: makes every backend reload its shard map';

-- ===== crdt =====

-- ===== routing =====

-- Cache triggers fire in every session_replication_role, with row-level
-- twins for logical replication's apply worker.
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

-- A latitude that would be a valid longitude gets a hint on argument order.
CREATE OR REPLACE FUNCTION geoshard.check_region_location(lat float8, lon float8) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF lat IS NOT NULL AND lat BETWEEN -180 AND 180 AND NOT (lat BETWEEN -90 AND 90) THEN
		RAISE EXCEPTION 'latitude % is out of range', lat
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = 'Latitude must be between -90 and 90 degrees.',
				  HINT = 'Arguments are (latitude, longitude): the latitude looks like a longitude.';
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
COMMENT ON FUNCTION geoshard.raise_unknown_region(text) IS
	'raise the error for a region id that is not in geoshard.regions';
