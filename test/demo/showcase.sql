-- test/demo/showcase.sql: the queries `make demo` shows (and 001_geo_demo.pl checks).
\set ON_ERROR_STOP on
\pset footer off
\echo
\echo '== 1. Quadkeys: the tile of a point, its level, an ancestor and its box'
SELECT quadkey(47.6553, -122.3035, 16) AS uw_tile,
	   quadkey_level(quadkey(47.6553, -122.3035, 16)) AS level,
	   quadkey_parent(quadkey(47.6553, -122.3035, 16), 10) AS parent_at_10;
SELECT * FROM quadkey_bbox(quadkey(47.6553, -122.3035, 16));

\echo
\echo '== 2. Pins within 250 m of the UW campus centre (exact, through the GiST index)'
SELECT id, title, round(haversine(lat, lon, 47.6553, -122.3035)) AS metres
FROM pins
WHERE quadkey_dwithin(qk, 47.6553, -122.3035, 250)
  AND haversine(lat, lon, 47.6553, -122.3035) <= 250
ORDER BY metres, id
LIMIT 5;
SELECT count(*) AS pins_within_250m
FROM pins
WHERE quadkey_dwithin(qk, 47.6553, -122.3035, 250)
  AND haversine(lat, lon, 47.6553, -122.3035) <= 250;

\echo
\echo '== 3. The five pins nearest to ETH Zurich (exact k-NN in two index passes)'
SELECT p.id, p.title, round(haversine(p.lat, p.lon, 47.3763, 8.5477)) AS metres
FROM (SELECT max(haversine(lat, lon, 47.3763, 8.5477)) AS r
	  FROM (SELECT lat, lon FROM pins ORDER BY qk <-> point(8.5477, 47.3763) LIMIT 5) seed) bound,
	 LATERAL (SELECT * FROM pins
			  WHERE quadkey_dwithin(qk, 47.3763, 8.5477, bound.r)
				AND haversine(lat, lon, 47.3763, 8.5477) <= bound.r
			  ORDER BY haversine(lat, lon, 47.3763, 8.5477), id
			  LIMIT 5) p;

\echo
\echo '== 4. The shard map: which node owns each campus, and the pins per node'
SELECT name, shard_for(quadkey(lat, lon, 23)) AS node FROM campuses ORDER BY name;
SELECT shard_for(qk) AS node, count(*) AS pins FROM pins GROUP BY 1 ORDER BY 1;

\echo
\echo '== 5. The cover of a 1 km circle at level 15, and the plan of a radius query'
SELECT array_agg(q) AS cover FROM quadkey_cover(1.2966, 103.7764, 1000, 15) q;
EXPLAIN (COSTS OFF)
SELECT id FROM pins
WHERE quadkey_dwithin(qk, 1.2966, 103.7764, 1000)
  AND haversine(lat, lon, 1.2966, 103.7764) <= 1000;

\echo
\echo '== 6. CRDTs: a "going" counter and attendee set edited on two phones, merged in any order'
\set QUIET on
CREATE TEMP TABLE pin_stats (pin int PRIMARY KEY, going g_counter NOT NULL DEFAULT '{}',
							 attendees or_set NOT NULL DEFAULT '{}');
INSERT INTO pin_stats VALUES (1);
-- phone 21 and phone 22 each change their copy while offline
SELECT set_config('geoshard.node_id', '21', false) AS node \gset
SELECT g_counter_inc(going) AS going_21, or_set_add(attendees, 'ana') AS attendees_21 FROM pin_stats \gset
SELECT set_config('geoshard.node_id', '22', false) AS node \gset
SELECT g_counter_inc(going) AS going_22, or_set_remove(or_set_add(attendees, 'ben'), 'ana') AS attendees_22 FROM pin_stats \gset
-- back online: both uploads merge into the server's row, in either order
INSERT INTO pin_stats VALUES (1, :'going_22', :'attendees_22')
	ON CONFLICT (pin) DO UPDATE SET going = crdt_merge(pin_stats.going, EXCLUDED.going),
									attendees = crdt_merge(pin_stats.attendees, EXCLUDED.attendees);
INSERT INTO pin_stats VALUES (1, :'going_21', :'attendees_21')
	ON CONFLICT (pin) DO UPDATE SET going = crdt_merge(pin_stats.going, EXCLUDED.going),
									attendees = crdt_merge(pin_stats.attendees, EXCLUDED.attendees);
SELECT pin, crdt_value(going) AS going, crdt_value(attendees) AS attendees, going AS going_state FROM pin_stats;

\echo
\echo '== 7. Routing: the best region for client addresses, located by a MaxMind DB file'
SELECT ip, route_region(ip) AS region, (geoip_lookup(ip)).country
FROM (VALUES ('192.0.2.10'::inet), ('198.51.100.20'), ('203.0.113.30'), ('2001:db8::1')) v(ip);
-- why: the winner, the client, the fence, every alternative with its figures
SELECT jsonb_pretty(route_region_explain('198.51.100.20') - 'alternatives' - 'excluded') AS explain_berlin;
-- drain Oregon: Seattle clients fail over, and the explanation says so
SELECT geoshard.drain_region('us-west-2');
SELECT route_region('192.0.2.10') AS seattle_now,
	   route_region_explain('192.0.2.10') ->> 'reason' AS reason;
SELECT geoshard.undrain_region('us-west-2');
SELECT rank, region, round(latency_ms::numeric, 1) AS latency_ms, round(distance_km::numeric) AS km
FROM route_regions('192.0.2.10', 3);
