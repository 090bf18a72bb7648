-- the shard map: geoshard.shards, shard_for, split_shard, merge_shard

SELECT shard_for('0231') IS NULL AS empty_map_has_no_owner;
INSERT INTO geoshard.shards (prefix, node) VALUES ('02', 'node-a'), ('03', 'node-b'), ('1', 'node-c');
SELECT q, shard_for(q::quadkey) FROM (VALUES ('0231'), ('02'), ('0'), ('03333'), ('1'), ('12'), ('2'), ('')) v(q);
SELECT shard_for(quadkey(47.6, -122.3, 23)) AS seattle, quadkey(47.6, -122.3, 2);

-- overlapping and malformed entries are refused
INSERT INTO geoshard.shards (prefix, node) VALUES ('0', 'node-x');
INSERT INTO geoshard.shards (prefix, node) VALUES ('0231', 'node-x');
INSERT INTO geoshard.shards (prefix, node) VALUES ('02', 'node-x');
INSERT INTO geoshard.shards (prefix, node) VALUES ('2', '');
INSERT INTO geoshard.shards (prefix, node) VALUES ('2', NULL);
INSERT INTO geoshard.shards (prefix, node) VALUES ('25', 'node-x');

-- split a hotspot into its four children, on the same node
SELECT geoshard.split_shard('02');
SELECT prefix, node FROM geoshard.shards ORDER BY prefix;
SELECT shard_for('0231'), shard_for('020'), shard_for('02') IS NULL AS parent_itself_unowned;
-- move one child, then merging must refuse
UPDATE geoshard.shards SET node = 'node-b' WHERE prefix = '023';
SELECT shard_for('0231');
SELECT geoshard.merge_shard('02');
UPDATE geoshard.shards SET node = 'node-a' WHERE prefix = '023';
SELECT geoshard.merge_shard('02');
SELECT prefix, node FROM geoshard.shards ORDER BY prefix;
SELECT shard_for('0231');
-- errors
SELECT geoshard.split_shard('2');
SELECT geoshard.merge_shard('1');
SELECT count(*) AS null_splits_nothing FROM geoshard.split_shard(NULL);
INSERT INTO geoshard.shards (prefix, node) VALUES ('01230123012301230123012301230', 'node-d');
SELECT geoshard.split_shard('01230123012301230123012301230');
SELECT geoshard.merge_shard('01230123012301230123012301230');

-- a split is undone with the transaction that made it
BEGIN;
SELECT count(*) FROM geoshard.split_shard('1');
INSERT INTO geoshard.shards (prefix, node) VALUES ('10', 'node-x');
ROLLBACK;
SELECT prefix, node FROM geoshard.shards ORDER BY prefix;

-- changes are seen by the next statement, in this and other transactions
CREATE TABLE lookups AS SELECT quadkey(lat, 10, 12) AS q FROM generate_series(-80, 80, 10) lat;
SELECT shard_for(q), count(*) FROM lookups GROUP BY 1 ORDER BY 1;
BEGIN;
DELETE FROM geoshard.shards WHERE prefix = '1';
INSERT INTO geoshard.shards (prefix, node) VALUES ('12', 'node-e'), ('3', 'node-f');
SELECT shard_for(q), count(*) FROM lookups GROUP BY 1 ORDER BY 1;
ROLLBACK;
SELECT shard_for(q), count(*) FROM lookups GROUP BY 1 ORDER BY 1;
TRUNCATE geoshard.shards;
SELECT shard_for(q), count(*) FROM lookups GROUP BY 1 ORDER BY 1;

-- administrative functions are not for PUBLIC; reading the map is
CREATE ROLE regress_geoshard_app;
SET ROLE regress_geoshard_app;
SELECT shard_for('0231') IS NULL AS readable;
SELECT count(*) FROM geoshard.shards;
SELECT geoshard.split_shard('1');
SELECT geoshard.merge_shard('1');
INSERT INTO geoshard.shards (prefix, node) VALUES ('1', 'node-x');
RESET ROLE;
-- EXECUTE is enough to split and merge: they write as the extension owner
INSERT INTO geoshard.shards (prefix, node) VALUES ('1', 'node-x');
GRANT EXECUTE ON FUNCTION geoshard.split_shard(quadkey), geoshard.merge_shard(quadkey) TO regress_geoshard_app;
SET ROLE regress_geoshard_app;
SELECT count(*) FROM geoshard.split_shard('1');
SELECT geoshard.merge_shard('1');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION geoshard.split_shard(quadkey), geoshard.merge_shard(quadkey) FROM regress_geoshard_app;
DELETE FROM geoshard.shards;
DROP ROLE regress_geoshard_app;
SELECT geoshard.is_preloaded();
DROP TABLE lookups;

-- parallel workers load the map too (force_parallel_mode runs shard_for in one)
INSERT INTO geoshard.shards (prefix, node) VALUES ('0', 'node-a'), ('1', 'node-b');
SET force_parallel_mode = on;
SELECT shard_for('0123') AS in_worker, shard_for('1') AS also, shard_for('2') IS NULL AS unowned;
RESET force_parallel_mode;

-- the triggers keeping caches current fire in every session_replication_role
-- (the row-level one is for logical replication's apply worker)
SELECT tgname, tgenabled, tgtype FROM pg_trigger
WHERE tgrelid = 'geoshard.shards'::regclass AND NOT tgisinternal ORDER BY 1;
SET session_replication_role = replica;
UPDATE geoshard.shards SET node = 'node-c' WHERE prefix = '1';
RESET session_replication_role;
SELECT shard_for('1') AS after_replica_write;
DELETE FROM geoshard.shards;
