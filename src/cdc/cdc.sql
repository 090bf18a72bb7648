
-- ===== cdc: change data capture =====

-- output plugin: the geoshard output plugin reads the shard map under the
-- historic snapshot of logical decoding, which only catalog and
-- user_catalog_table tables may be read with (src/cdc/geo_enrich.c).
ALTER TABLE geoshard.shards SET (user_catalog_table = true);
