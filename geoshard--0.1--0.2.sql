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

-- ===== crdt =====

-- ===== routing =====
