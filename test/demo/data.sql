-- test/demo/data.sql: the demo data set, also loaded by test/t/001_geo_demo.pl.
-- Four world regions own the four level-1 quadrants, the busiest campus's
-- tile is split as a hotspot, and 100,000 study pins cluster around five
-- campuses (a deterministic pseudo-random spread of a few kilometres).
\set ON_ERROR_STOP on

CREATE EXTENSION IF NOT EXISTS geoshard;

INSERT INTO geoshard.shards (prefix, node) VALUES
	('0', 'us-west'),			-- north-west quadrant: the Americas north of the equator
	('1', 'eu-central'),		-- north-east: Europe and most of Asia
	('2', 'sa-east'),			-- south-west: South America
	('3', 'ap-southeast');		-- south-east: Africa's south, Oceania
-- Seattle is busy: move its level-1 quadrant's load onto four shards, then
-- give one of them its own node.
SELECT geoshard.split_shard('0');
UPDATE geoshard.shards SET node = 'us-east' WHERE prefix = '03';

CREATE TABLE campuses (
	name text PRIMARY KEY,
	lat float8 NOT NULL,
	lon float8 NOT NULL
);
INSERT INTO campuses VALUES
	('University of Washington', 47.6553, -122.3035),
	('MIT', 42.3601, -71.0942),
	('ETH Zurich', 47.3763, 8.5477),
	('National University of Singapore', 1.2966, 103.7764),
	('University of Sydney', -33.8886, 151.1873);

CREATE TABLE pins (
	id bigserial PRIMARY KEY,
	campus text NOT NULL REFERENCES campuses,
	title text NOT NULL,
	lat float8 NOT NULL,
	lon float8 NOT NULL,
	qk quadkey GENERATED ALWAYS AS (quadkey(lat, lon, 23)) STORED
);

SELECT setseed(0.2026);
INSERT INTO pins (campus, title, lat, lon)
SELECT c.name, 'study pin ' || g,
	   c.lat + (random() + random() + random() - 1.5) * 0.03,
	   c.lon + (random() + random() + random() - 1.5) * 0.03 / cos(radians(c.lat))
FROM campuses c, generate_series(1, 20000) g;

CREATE INDEX pins_qk ON pins USING gist (qk);
ANALYZE campuses, pins;

-- Routing: five cloud regions, and a data-residency fence for German and
-- French clients.  Client locations come from the demo's MaxMind DB file
-- (the documentation ranges, see test/geoip/make-test-mmdb.pl).
SELECT geoshard.add_region('us-west-2', 45.52, -122.68, name => 'Oregon',
						   endpoint => 'https://us-west-2.example.net/health');
SELECT geoshard.add_region('us-east-1', 38.9, -77.0, name => 'Virginia');
SELECT geoshard.add_region('eu-central-1', 50.11, 8.68, name => 'Frankfurt', cost => 1.2);
SELECT geoshard.add_region('ap-southeast-1', 1.29, 103.85, name => 'Singapore');
SELECT geoshard.add_region('ap-northeast-1', 35.68, 139.69, name => 'Tokyo');
SELECT geoshard.add_geo_fence('eu-residency', ARRAY['DE', 'FR'], ARRAY['eu-central-1']);
