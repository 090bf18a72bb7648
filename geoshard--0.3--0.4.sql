/* geoshard upgrade script: 0.3 to 0.4 (ALTER EXTENSION geoshard UPDATE TO '0.4') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION geoshard UPDATE TO '0.4'" to load this file. \quit

-- Every change to the objects since 0.3, area by area, in the order of the
-- install script.  A fresh 0.4 install and an upgraded 0.1, 0.2 or 0.3 install
-- must end up with the same objects: test/t/008_release_upgrade.pl compares them.

-- ===== health =====

-- ===== cdc =====

-- output plugin: the geoshard output plugin reads the shard map under the
-- historic snapshot of logical decoding, which only catalog and
-- user_catalog_table tables may be read with (src/cdc/geo_enrich.c).
ALTER TABLE geoshard.shards SET (user_catalog_table = true);

-- ===== raft =====
