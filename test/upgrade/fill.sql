-- test/upgrade/fill.sql: what a user of the oldest supported release (0.1) has
-- in a database, written through 0.1's own API and library: a column of every
-- geoshard type (and an array of one), indexes on them, a generated column, a
-- view and a check constraint that call geoshard functions, and rows in every
-- catalogue table.  Only 0.1's API may be used here.
--
-- upgrade_observe lists what users read back; the upgrade test stores its rows
-- under the old library and requires the same rows under the new one, before
-- and after ALTER EXTENSION geoshard UPDATE.

SELECT setseed(0.2026);

CREATE SCHEMA app;

CREATE TABLE app.pins (
	id int PRIMARY KEY,
	lat float8 NOT NULL,
	lon float8 NOT NULL,
	qk quadkey GENERATED ALWAYS AS (quadkey(lat, lon, 20)) STORED,
	coarse quadkey[],
	stamp hlc,
	likes g_counter,
	score pn_counter,
	title lww_register,
	tags or_set,
	seen_by lww_set,
	CONSTRAINT pins_level CHECK (quadkey_level(qk) = 20)
);

-- Points around three campuses; CRDT states built with the mutators, merged
-- across "nodes" by text input, as users' upserts would.
INSERT INTO app.pins (id, lat, lon)
SELECT g,
	   c.lat + (random() - 0.5) * 0.05,
	   c.lon + (random() - 0.5) * 0.05
FROM generate_series(1, 3000) g
JOIN (VALUES (0, 47.6553, -122.3035), (1, 51.7548, -1.2544), (2, -33.8888, 151.1872))
	AS c(k, lat, lon) ON c.k = g % 3;

UPDATE app.pins SET
	coarse = ARRAY[quadkey_parent(qk, 8), quadkey_parent(qk, 12)],
	stamp = hlc(timestamptz '2026-01-01 00:00:00+00' + id * interval '1 ms', id % 7, 1 + id % 3),
	likes = g_counter_inc('{}', id % 50),
	score = pn_counter_add('{}', (id % 21) - 10),
	title = lww_register(jsonb_build_object('title', 'pin ' || id, 'n', id),
						 hlc(timestamptz '2026-02-01 00:00:00+00' + id * interval '1 s', 0, 1 + id % 5)),
	tags = or_set_add(or_set_add('{}', 'tag' || (id % 10)), 'kind' || (id % 4)),
	seen_by = lww_set_add('{}', 'user' || (id % 30),
						  hlc(timestamptz '2026-03-01 00:00:00+00' + id * interval '1 s', 0, 2));

-- states from other nodes merged in (text form carries the other node's ids)
UPDATE app.pins SET
	likes = crdt_merge(likes, ('{"2":' || (id % 9) || ',"3":' || (id % 4) || '}')::g_counter),
	score = crdt_merge(score, ('{"2":[' || (id % 5) || ',0],"3":[0,' || (id % 3) || ']}')::pn_counter),
	tags = or_set_remove(tags, 'kind0'),
	seen_by = lww_set_remove(seen_by, 'user3', hlc(timestamptz '2026-04-01 00:00:00+00', 0, 2))
WHERE id % 2 = 0;

CREATE INDEX pins_qk_gist ON app.pins USING gist (qk) INCLUDE (lat, lon);
CREATE INDEX pins_qk_btree ON app.pins (qk);
CREATE INDEX pins_qk_hash ON app.pins USING hash (qk);
CREATE INDEX pins_stamp_btree ON app.pins (stamp);
CREATE INDEX pins_stamp_hash ON app.pins USING hash (stamp);

CREATE VIEW app.pin_tiles AS
	SELECT id, quadkey_parent(qk, 10) AS tile, crdt_value(likes) AS likes
	FROM app.pins;

-- catalogue rows
INSERT INTO geoshard.shards VALUES ('0', 'node-a'), ('1', 'node-b'), ('2', 'node-c'), ('3', 'node-d');
SELECT geoshard.split_shard('0');
UPDATE geoshard.shards SET node = 'node-hot' WHERE prefix = '02';

SELECT geoshard.add_region('us-west', 47.6, -122.3, name => 'Seattle', endpoint => 'http://127.0.0.1:1/health', cost => 1.5);
SELECT geoshard.add_region('eu-west', 51.5, -0.1, name => 'London', endpoint => 'http://127.0.0.1:2/health');
SELECT geoshard.add_region('ap-south', -33.9, 151.2, name => 'Sydney', capacity => 2, load => 0.5);
SELECT geoshard.add_geo_fence('eu-only', ARRAY['GB', 'FR'], ARRAY['eu-west']);

INSERT INTO geoshard.geoip_networks VALUES
	('198.51.100.0/24', 'US', 47.61, -122.33, 20),
	('203.0.113.0/24', 'GB', 51.51, -0.13, 10),
	('192.0.2.0/25', 'AU', -33.87, 151.21, 50),
	('2001:db8::/32', 'FR', 48.86, 2.35, 100);

-- What users read back.  Every value in its text form and through the
-- functions that interpret it, the catalogue as routing sees it, and answers
-- that depend on indexes and the shared routing table.
CREATE VIEW app.upgrade_observe AS
	SELECT 'pin ' || id AS what,
		   concat_ws(' | ', qk::text, coarse::text, stamp::text, likes::text, score::text,
					 title::text, tags::text, seen_by::text) AS stored,
		   concat_ws(' | ', quadkey_level(qk), hlc_physical(stamp), hlc_logical(stamp), hlc_node(stamp),
					 crdt_value(likes), crdt_value(score), crdt_value(title), lww_register_ts(title),
					 crdt_value(tags)::text, crdt_value(seen_by)::text, shard_for(qk)) AS derived
	FROM app.pins
	UNION ALL
	SELECT 'shard ' || prefix::text, node, NULL FROM geoshard.shards
	UNION ALL
	SELECT 'region ' || id, concat_ws(' | ', name, lat, lon, endpoint, cost, capacity, load, enabled, drained), NULL
	FROM geoshard.regions
	UNION ALL
	SELECT 'fence ' || name, concat_ws(' | ', countries, regions), NULL FROM geoshard.geo_fences
	UNION ALL
	SELECT 'network ' || network, concat_ws(' | ', country, latitude, longitude, accuracy_radius_km), NULL
	FROM geoshard.geoip_networks
	UNION ALL
	SELECT 'route ' || ip, route_region(ip::inet), NULL
	FROM unnest(ARRAY['198.51.100.7', '203.0.113.9', '192.0.2.1', '2001:db8::1']) ip
	UNION ALL
	SELECT 'radius ' || r, (SELECT string_agg(id::text, ',' ORDER BY id) FROM app.pins
						   WHERE quadkey_dwithin(qk, 47.6553, -122.3035, r)
							 AND haversine(lat, lon, 47.6553, -122.3035) <= r), NULL
	FROM unnest(ARRAY[100.0, 500.0, 2000.0]) r
	UNION ALL
	SELECT 'tiles', (SELECT string_agg(tile::text || '=' || n, ',' ORDER BY tile)
					 FROM (SELECT tile, sum(likes) AS n FROM app.pin_tiles GROUP BY tile) t), NULL
	UNION ALL
	-- (set aggregates are left out: 0.1 lost elements merging same-node sets)
	SELECT 'merged', (SELECT concat_ws(' | ', crdt_merge_agg(likes), crdt_merge_agg(score),
									   crdt_merge_agg(title))
					  FROM app.pins), NULL;
