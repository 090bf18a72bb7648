-- routing: the regions catalogue, geo-fences, route_region, route_regions,
-- route_region_explain, breakers and measured latencies (server preloaded,
-- geoshard.database = contrib_regression: the routing table is shared)

SELECT geoshard.is_preloaded(), current_setting('geoshard.database') = current_database() AS shared_table;
SHOW geoshard.route_base_latency_ms;
SHOW geoshard.route_cost_weight;
SHOW geoshard.route_load_weight;
SHOW geoshard.observed_latency_max_age;

-- no regions: no answer, and the explanation says why
SELECT route_region(47.6, -122.3) IS NULL AS no_answer;
SELECT route_region_explain(47.6, -122.3) ->> 'reason' AS reason;

-- a plain INSERT works, the admin functions too; defaults fill the rest
INSERT INTO geoshard.regions (id, name, lat, lon, endpoint)
VALUES ('us-west-2', 'Oregon', 45.52, -122.68, 'http://127.0.0.1:9/health');
SELECT * FROM geoshard.add_region('us-east-1', 38.9, -77.0, name => 'Virginia');
SELECT * FROM geoshard.add_region('eu-central-1', 50.11, 8.68, cost => 1);
SELECT * FROM geoshard.add_region('eu-west-1', 53.35, -6.26);
SELECT * FROM geoshard.add_region('ap-southeast-1', 1.29, 103.85);
SELECT * FROM geoshard.regions ORDER BY id;

-- bad requests
SELECT geoshard.add_region('us-east-1', 1, 1);
SELECT geoshard.add_region('x', 91, 0);
SELECT geoshard.add_region('x', 0, -180.5);
SELECT geoshard.add_region('x', 'NaN', 0);
SELECT geoshard.add_region(NULL, 0, 0);
SELECT geoshard.add_region('no spaces', 0, 0);
SELECT geoshard.add_region(repeat('x', 64), 0, 0);
SELECT geoshard.add_region('x', 0, 0, cost => -1);
SELECT geoshard.add_region('x', 0, 0, capacity => 0);
SELECT geoshard.update_region('nowhere', cost => 2);
SELECT geoshard.update_region('us-east-1', lat => 100);
SELECT geoshard.remove_region('nowhere');
SELECT geoshard.drain_region('nowhere');
SELECT geoshard.undrain_region(NULL);
INSERT INTO geoshard.regions (id, lat, lon) VALUES ('x', 0, 'Infinity');

-- nearest by great-circle distance: latency = 5 ms + distance / 100 km
SELECT ip_city, route_region(lat, lon)
FROM (VALUES ('Seattle', 47.6, -122.3), ('New York', 40.7, -74.0), ('Berlin', 52.52, 13.40),
             ('London', 51.5, -0.13), ('Singapore', 1.35, 103.8), ('Sydney', -33.87, 151.21),
             ('Honolulu', 21.3, -157.8)) v(ip_city, lat, lon);

-- the ranked list: failover order with the figures behind it
SELECT rank, region, round(score::numeric, 3) AS score, round(latency_ms::numeric, 3) AS latency_ms,
       latency_source, round(distance_km::numeric, 1) AS distance_km, cost, load_fraction,
       over_capacity, breaker
FROM route_regions('192.0.2.1', 10);
INSERT INTO geoshard.geoip_networks VALUES
    ('192.0.2.0/24', 'US', 47.6, -122.3, 20),
    ('198.51.100.0/24', 'DE', 52.52, 13.40, 50),
    ('203.0.113.0/24', 'SG', 1.29, 103.85, 10),
    ('2001:db8::/32', 'JP', 35.68, 139.69, 100),
    ('100.64.0.0/10', 'ch', NULL, NULL, NULL);
SELECT rank, region, round(score::numeric, 3) AS score, round(latency_ms::numeric, 3) AS latency_ms,
       latency_source, round(distance_km::numeric, 1) AS distance_km, cost, load_fraction,
       over_capacity, breaker
FROM route_regions('192.0.2.1', 10);
SELECT count(*) FROM route_regions('192.0.2.1', 0);
SELECT count(*) FROM route_regions('192.0.2.1', 2);
SELECT * FROM route_regions('192.0.2.1', -1);
SELECT ip, route_region(ip), route_region_explain(ip) ->> 'reason' AS reason
FROM (VALUES ('192.0.2.1'::inet), ('198.51.100.7'), ('203.0.113.9'), ('2001:db8::1'),
             ('100.64.0.1'), ('10.0.0.1')) v(ip);

-- NULL in, NULL out; invalid locations and countries are errors
SELECT route_region(NULL::inet) IS NULL AS a, route_region(NULL, 1) IS NULL AS b,
       route_region(1, NULL) IS NULL AS c, route_region_explain(NULL::inet) IS NULL AS d,
       route_region_explain(NULL, 1) IS NULL AS e;
SELECT route_region(91, 0);
SELECT route_region(0, 'NaN');
SELECT route_region(0, 0, 'D-E');
SELECT route_region(0, 0, '');
SELECT route_region(0, 0, 'ABCDEFGHI');
SELECT route_region(52.52, 13.40, NULL);

-- ties: equal scores go to the smallest id (byte order)
SELECT geoshard.add_region('eu-central-1b', 50.11, 8.68);
SELECT geoshard.add_region('eu-central-1B', 50.11, 8.68);
SELECT route_region(50.11, 8.68);
SELECT route_region_explain(50.11, 8.68) -> 'alternatives' -> 0 ->> 'region' AS runner_up;
SELECT geoshard.remove_region('eu-central-1b');
SELECT geoshard.remove_region('eu-central-1B');

-- cost: a cheaper region a little further away wins
SELECT geoshard.update_region('eu-central-1', cost => 3);
SELECT route_region(51.5, 3.0), route_region_explain(51.5, 3.0) ->> 'reason' AS reason;
SET geoshard.route_cost_weight = 0;
SELECT route_region(51.5, 3.0), route_region_explain(51.5, 3.0) ->> 'reason' AS reason;
RESET geoshard.route_cost_weight;
SELECT geoshard.update_region('eu-central-1', cost => 1);

-- load: a busy region loses to a quieter one nearby ...
SELECT geoshard.update_region('eu-central-1', capacity => 100, load => 90);
SELECT route_region(51.5, 3.0), route_region_explain(51.5, 3.0) ->> 'reason' AS reason;
-- ... and one over capacity is a last resort
SELECT geoshard.update_region('eu-central-1', load => 100);
SELECT route_region(50.11, 8.68), route_region_explain(50.11, 8.68) ->> 'reason' AS reason;
SELECT geoshard.update_region('us-west-2', capacity => 10, load => 12);
SELECT geoshard.update_region('us-east-1', capacity => 10, load => 11);
SELECT geoshard.update_region('eu-west-1', capacity => 10, load => 10);
SELECT geoshard.update_region('ap-southeast-1', capacity => 10, load => 30);
SELECT route_region(47.6, -122.3), route_region_explain(47.6, -122.3) ->> 'reason' AS reason;
UPDATE geoshard.regions SET load = 0, capacity = 1;

-- drain and undrain; disabled regions
SELECT geoshard.drain_region('us-west-2');
SELECT route_region(47.6, -122.3), route_region_explain(47.6, -122.3) ->> 'reason' AS reason;
SELECT geoshard.undrain_region('us-west-2');
SELECT route_region(47.6, -122.3);
SELECT geoshard.update_region('us-west-2', enabled => false);
SELECT route_region(47.6, -122.3), route_region_explain(47.6, -122.3) -> 'excluded' AS excluded;
SELECT geoshard.update_region('us-west-2', enabled => true);

-- breakers: open takes a region out, half_open ranks it after healthy ones
SELECT geoshard.set_region_breaker('us-west-2', 'open');
SELECT route_region(47.6, -122.3), route_region_explain(47.6, -122.3) ->> 'reason' AS reason;
SELECT geoshard.set_region_breaker('us-west-2', 'half_open');
SELECT route_region(47.6, -122.3), route_region_explain(47.6, -122.3) ->> 'reason' AS reason;
SELECT region, breaker, routable FROM geoshard.routing_regions() ORDER BY region;
-- breaker states survive catalogue changes of other regions
SELECT geoshard.update_region('ap-southeast-1', cost => 2);
SELECT region, breaker FROM geoshard.routing_regions() WHERE region = 'us-west-2';
SELECT geoshard.set_region_breaker('us-west-2', 'closed');
SELECT geoshard.update_region('ap-southeast-1', cost => 1);
SELECT geoshard.set_region_breaker('us-west-2', 'ajar');
SELECT geoshard.set_region_breaker('nowhere', 'open');

-- geo-fences: clients in DE and FR only to EU regions
SELECT * FROM geoshard.add_geo_fence('eu-residency', ARRAY['de', 'FR', 'de'], ARRAY['eu-west-1', 'eu-central-1']);
SELECT route_region(52.52, 13.40, 'DE'), route_region(52.52, 13.40, 'de'), route_region(40.7, -74.0, 'FR');
SELECT route_region_explain(40.7, -74.0, 'FR') -> 'fence' AS fence,
       route_region_explain(40.7, -74.0, 'FR') ->> 'reason' AS reason;
-- unfenced countries, and no country, are unaffected
SELECT route_region(40.7, -74.0, 'US'), route_region(40.7, -74.0);
-- every fence naming a country applies: the allowed set is their intersection
SELECT geoshard.add_geo_fence('germany-only', ARRAY['DE'], ARRAY['eu-central-1']);
SELECT route_region(53.35, -6.26, 'DE'), route_region(53.35, -6.26, 'FR');
-- no allowed region available: NULL, never a region outside the fence
SELECT geoshard.drain_region('eu-central-1');
SELECT route_region(52.52, 13.40, 'DE') IS NULL AS no_answer,
       route_region_explain(52.52, 13.40, 'DE') ->> 'reason' AS reason;
SELECT geoshard.undrain_region('eu-central-1');
SELECT geoshard.remove_geo_fence('germany-only');
-- fences by address: 198.51.100.0/24 is in DE
SELECT route_region('198.51.100.7');
SELECT geoshard.add_geo_fence('eu-residency', ARRAY['IT'], ARRAY['eu-west-1']);
SELECT geoshard.add_geo_fence('x', ARRAY['IT'], ARRAY['eu-west-1', 'mars-1']);
SELECT geoshard.add_geo_fence('x', NULL, ARRAY['eu-west-1']);
SELECT geoshard.add_geo_fence('x', '{}', ARRAY['eu-west-1']);
SELECT geoshard.remove_geo_fence('nowhere');
-- rows the routing table cannot hold are refused when written
INSERT INTO geoshard.geo_fences VALUES ('lower', ARRAY['it'], ARRAY['eu-west-1']);
INSERT INTO geoshard.geo_fences VALUES ('long', ARRAY['ABCDEFGHI'], ARRAY['eu-west-1']);
INSERT INTO geoshard.geo_fences VALUES ('nulls', ARRAY[NULL], ARRAY['eu-west-1']);
INSERT INTO geoshard.regions (id, lat, lon) SELECT 'r' || g, 0, 0 FROM generate_series(1, 300) g;
SELECT count(*) FROM geoshard.regions;
-- a fence keeps its word when a region it names is deleted: it allows less
BEGIN;
DELETE FROM geoshard.regions WHERE id = 'eu-west-1';
SELECT route_region(53.35, -6.26, 'FR');
ROLLBACK;

-- changes are seen by the changing transaction at once, and by nobody
-- after a rollback
BEGIN;
SELECT geoshard.drain_region('us-west-2');
SELECT route_region(47.6, -122.3);
ROLLBACK;
SELECT route_region(47.6, -122.3);
BEGIN;
SELECT geoshard.remove_region('us-west-2');
PREPARE TRANSACTION 'routing';

-- measured latency beats the estimate for the client's /24 (or /48)
SELECT geoshard.observe_latency('192.0.2.200', 'us-east-1', 4);
SELECT route_region('192.0.2.1'), route_region_explain('192.0.2.1') ->> 'latency_source' AS source,
       route_region_explain('192.0.2.1') -> 'client' ->> 'measured_regions' AS measured;
-- smoothed: 4, then 0.7 * 4 + 0.3 * 104 = 34
SELECT geoshard.observe_latency('192.0.2.9', 'us-east-1', 104);
SELECT round(latency_ms::numeric, 3) FROM route_regions('192.0.2.1', 5) WHERE region = 'us-east-1';
SELECT route_region('192.0.2.1');
-- another network is unaffected
SELECT route_region_explain('192.0.3.1') -> 'client' ->> 'measured_regions' AS measured;
SELECT geoshard.observe_latency('2001:db8:0:ffff::1', 'ap-southeast-1', 1);
SELECT route_region_explain('2001:db8::1') -> 'client' ->> 'measured_regions' AS same_48,
       route_region_explain('2001:db8:1::1') -> 'client' ->> 'measured_regions' AS other_48;
SELECT geoshard.observe_latency('192.0.2.1', 'nowhere', 1);
SELECT geoshard.observe_latency('192.0.2.1', 'us-east-1', -1);
SELECT geoshard.observe_latency('192.0.2.1', 'us-east-1', 'NaN');
SELECT geoshard.observe_latency('192.0.2.1', 'us-east-1', 1e9);
-- stale measurements are ignored
SET geoshard.observed_latency_max_age = 1;
SELECT pg_sleep(1.5);
SELECT route_region('192.0.2.1'), route_region_explain('192.0.2.1') ->> 'latency_source' AS source;
RESET geoshard.observed_latency_max_age;

-- the explanation's shape
SELECT jsonb_pretty(route_region_explain('192.0.2.1'));
SELECT jsonb_object_keys(route_region_explain('10.0.0.1')) AS key ORDER BY 1;
SELECT route_region_explain('10.0.0.1') -> 'client' AS client;

-- privileges: routing for everyone, administration for nobody by default
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname IN ('route_region', 'route_regions', 'route_region_explain', 'geoip_lookup',
                    'add_region', 'update_region', 'remove_region', 'drain_region',
                    'undrain_region', 'add_geo_fence', 'remove_geo_fence', 'set_region_breaker',
                    'observe_latency', 'routing_regions', 'routing_changed')
ORDER BY p.oid::regprocedure::text;
SELECT p.proname, p.provolatile, p.proparallel, p.prosecdef
FROM pg_proc p WHERE p.proname LIKE 'route_region%' ORDER BY 1, 2;
CREATE ROLE routing_app;
-- the routing table is read as the catalogue's owner, whoever loads it
SELECT geoshard.update_region('us-west-2', cost => 1.5);
SET ROLE routing_app;
SELECT route_region(47.6, -122.3);
SELECT route_region('198.51.100.7');
SELECT geoshard.drain_region('us-west-2');
SELECT geoshard.observe_latency('192.0.2.1', 'us-east-1', 1);
SELECT * FROM geoshard.regions;
RESET ROLE;
DROP ROLE routing_app;

-- parallel workers route as the leader does (force_parallel_mode runs the
-- calls in a worker; the catalogue changed, so the worker loads the table)
SELECT geoshard.update_region('us-west-2', cost => 1);
SET force_parallel_mode = on;
SELECT route_region('192.0.2.1') AS by_address, route_region(47.6, -122.3) AS by_location,
       (SELECT string_agg(region, ',' ORDER BY rank) FROM route_regions('192.0.2.1', 3)) AS failover,
       route_region_explain('192.0.2.1') ->> 'region' AS explained;
RESET force_parallel_mode;
SELECT route_region('192.0.2.1') AS by_address, route_region(47.6, -122.3) AS by_location,
       (SELECT string_agg(region, ',' ORDER BY rank) FROM route_regions('192.0.2.1', 3)) AS failover,
       route_region_explain('192.0.2.1') ->> 'region' AS explained;

-- scores stay finite: load / capacity overflows (and load_weight 0 times it
-- was NaN), cost_weight * cost overflows
SELECT (geoshard.add_region('huge', 47.6, -122.3, load => 1e308, capacity => 1e-308)).id AS added;
SET geoshard.route_load_weight = 0;
SELECT region, score, load_fraction, over_capacity
FROM route_regions('192.0.2.1', 100) WHERE region = 'huge';
SET geoshard.route_cost_weight = 1000000;
SELECT (geoshard.update_region('huge', cost => 1e308, load => 0)).cost AS updated_cost;
SELECT region, score, load_fraction, over_capacity
FROM route_regions('192.0.2.1', 100) WHERE region = 'huge';
SELECT count(*) FILTER (WHERE score = 'NaN' OR score = 'Infinity') AS not_finite,
       bool_and(region = route_region('192.0.2.1')) FILTER (WHERE rank = 1) AS route_region_agrees,
       bool_and(region = route_region_explain('192.0.2.1') ->> 'region') FILTER (WHERE rank = 1) AS explain_agrees
FROM route_regions('192.0.2.1', 100);
SELECT c->>'region' AS region, (c->>'score')::float8 AS score, (c->>'cost_penalty_ms')::float8 AS cost_penalty_ms
FROM jsonb_array_elements(route_region_explain('192.0.2.1') -> 'alternatives') c
WHERE c->>'region' = 'huge';
RESET geoshard.route_load_weight;
RESET geoshard.route_cost_weight;
SELECT geoshard.remove_region('huge');

-- swapped coordinates: a latitude that would be a valid longitude gets a hint
\set VERBOSITY default
SELECT geoshard.add_region('swapped', -122.3, 47.6);
SELECT geoshard.update_region('us-west-2', lat => 122.3);
-- a latitude that is no longitude either gets none
SELECT geoshard.add_region('swapped', 200, 47.6);
SELECT geoshard.add_region('swapped', 47.6, 200);
\set VERBOSITY terse

-- the triggers keeping the routing table current fire in every
-- session_replication_role (the row-level ones are for logical replication's
-- apply worker, which fires no statement triggers)
SELECT tgrelid::regclass AS "table", tgname, tgenabled, tgtype FROM pg_trigger
WHERE tgrelid IN ('geoshard.regions'::regclass, 'geoshard.geo_fences'::regclass) AND NOT tgisinternal
ORDER BY 1, 2;
SET session_replication_role = replica;
SELECT geoshard.drain_region('us-west-2');
RESET session_replication_role;
SELECT route_region(47.6, -122.3) AS after_replica_drain;
SELECT geoshard.undrain_region('us-west-2');

-- countries given to route_region(lat, lon, country) must be ISO 3166-1
-- alpha-2 codes: anything else would slip past the geo-fences.  Letters are
-- upper-cased, as add_geo_fence does; NULL is an unknown country.
SELECT route_region(40.7, -74.0, 'DE') AS "DE", route_region(40.7, -74.0, 'de') AS de,
       route_region(40.7, -74.0, 'fR') AS "fR", route_region(40.7, -74.0, 'GB') AS "GB",
       route_region(40.7, -74.0, 'XK') AS "XK", route_region(40.7, -74.0, NULL) AS "null";
SELECT route_region_explain(40.7, -74.0, 'de') -> 'client' ->> 'country' AS country;
\set VERBOSITY default
SELECT route_region(40.7, -74.0, 'Germany');
SELECT route_region(40.7, -74.0, 'DEU');
SELECT route_region(40.7, -74.0, 'QQ');
SELECT route_region(40.7, -74.0, 'UK');
SELECT route_region_explain(40.7, -74.0, 'D1');
SELECT route_region_explain(40.7, -74.0, ' DE');
\set VERBOSITY sqlstate
SELECT route_region(40.7, -74.0, 'DEU');
SELECT route_region_explain(40.7, -74.0, 'Germany');
\set VERBOSITY terse

-- a client GeoIP places only in a country is at its country's point (the
-- first zone tzdata lists for it), with a country-sized radius; codes
-- without a point (BV: no time zone; ZZ: no country) leave it unlocated
INSERT INTO geoshard.geoip_networks VALUES
    ('100.65.0.0/16', 'US', NULL, NULL, NULL),
    ('100.66.0.0/16', 'ZZ', NULL, NULL, NULL),
    ('100.67.0.0/16', 'BV', NULL, NULL, NULL),
    ('100.68.0.0/16', 'de', NULL, NULL, NULL);
SELECT ip, route_region(ip), e ->> 'reason' AS reason, e ->> 'latency_source' AS latency_source,
       e -> 'client' ->> 'country' AS country, e -> 'client' ->> 'latitude' AS lat,
       e -> 'client' ->> 'longitude' AS lon, e -> 'client' ->> 'accuracy_radius_km' AS radius,
       e -> 'client' ->> 'source' AS source, e -> 'client' ->> 'location_source' AS location_source
FROM (VALUES ('100.64.0.1'::inet), ('100.65.0.1'), ('100.66.0.1'), ('100.67.0.1'),
             ('100.68.0.1'), ('192.0.2.1')) v(ip), route_region_explain(ip) e;
SELECT rank, region, latency_source, round(distance_km::numeric, 1) AS distance_km
FROM route_regions('100.65.0.1', 2);
SELECT e -> 'fence' AS fence FROM route_region_explain('100.68.0.1') e;

-- geoshard.default_region: where clients with no location at all go
SHOW geoshard.default_region;
SELECT route_region('10.0.0.1'), e ->> 'reason' AS reason, e ->> 'default_region' AS default_region
FROM route_region_explain('10.0.0.1') e;
SET geoshard.default_region = 'us-east-1';
SELECT route_region('10.0.0.1'), e ->> 'reason' AS reason, e ->> 'default_region' AS default_region
FROM route_region_explain('10.0.0.1') e;
SELECT string_agg(region, ',' ORDER BY rank) AS failover FROM route_regions('10.0.0.1', 3);
-- located clients, by address, by country or by argument, are unaffected
SELECT route_region('198.51.100.7') AS by_address, route_region('100.64.0.1') AS by_country,
       route_region(1.3, 103.8) AS by_argument,
       route_region_explain('198.51.100.7') ->> 'default_region' AS default_region;
-- a default region that cannot serve is passed over: drained, breaker open
-- or half-open (failover), over capacity, disabled
SELECT geoshard.drain_region('us-east-1');
SELECT route_region('10.0.0.1'), route_region_explain('10.0.0.1') ->> 'reason' AS reason;
SELECT geoshard.undrain_region('us-east-1');
SELECT geoshard.set_region_breaker('us-east-1', 'open');
SELECT route_region('10.0.0.1'), route_region_explain('10.0.0.1') ->> 'reason' AS reason;
SELECT geoshard.set_region_breaker('us-east-1', 'half_open');
SELECT route_region('10.0.0.1'), route_region_explain('10.0.0.1') ->> 'reason' AS reason;
SELECT geoshard.set_region_breaker('us-east-1', 'closed');
SELECT (geoshard.update_region('us-east-1', load => 1)).load;
SELECT route_region('10.0.0.1'), route_region_explain('10.0.0.1') ->> 'reason' AS reason;
SELECT (geoshard.update_region('us-east-1', load => 0, enabled => false)).enabled;
SELECT route_region('10.0.0.1'), route_region_explain('10.0.0.1') ->> 'reason' AS reason;
SELECT (geoshard.update_region('us-east-1', enabled => true)).enabled;
SELECT route_region('10.0.0.1'), route_region_explain('10.0.0.1') ->> 'reason' AS reason;
-- fences still apply: BV (a code without a point) may only use eu-west-1
SELECT geoshard.add_geo_fence('bv', ARRAY['BV'], ARRAY['eu-west-1']);
SELECT route_region('100.67.0.1'), route_region_explain('100.67.0.1') ->> 'reason' AS reason;
SELECT geoshard.remove_geo_fence('bv');
-- a fence names countries by the codes GeoIP answers carry: one that no
-- answer carries would never apply, so it is refused when written
SELECT geoshard.add_geo_fence('uk', ARRAY['UK'], ARRAY['eu-west-1']);
SELECT geoshard.add_geo_fence('deu', ARRAY['DEU'], ARRAY['eu-west-1']);
INSERT INTO geoshard.geo_fences VALUES ('zz', ARRAY['ZZ'], ARRAY['eu-west-1']);
-- a fence written before the check (the trigger disabled here to make one)
-- still routes, and does not block changes to regions, only to the fences
ALTER TABLE geoshard.geo_fences DISABLE TRIGGER geo_fences_changed;
INSERT INTO geoshard.geo_fences VALUES ('old-uk', ARRAY['UK', 'IT'], ARRAY['eu-west-1']);
ALTER TABLE geoshard.geo_fences ENABLE ALWAYS TRIGGER geo_fences_changed;
SELECT geoshard.drain_region('us-east-1');
SELECT drained FROM geoshard.regions WHERE id = 'us-east-1';
SELECT geoshard.undrain_region('us-east-1');
SELECT route_region(41.9, 12.5, 'IT') AS italy_fenced;
UPDATE geoshard.geo_fences SET regions = ARRAY['eu-west-1'] WHERE name = 'old-uk';
SELECT geoshard.remove_geo_fence('old-uk');
-- a measured network is not unknown: measurements decide
SELECT geoshard.observe_latency('10.0.0.7', 'eu-west-1', 50);
SELECT route_region('10.0.0.1'), e ->> 'reason' AS reason, e ->> 'default_region' AS default_region
FROM route_region_explain('10.0.0.1') e;
-- a region that does not exist (yet) changes nothing
SET geoshard.default_region = 'mars-1';
SELECT route_region('10.1.0.1'), e ->> 'reason' AS reason, e ->> 'default_region' AS default_region
FROM route_region_explain('10.1.0.1') e;
\set VERBOSITY default
SET geoshard.default_region = 'no spaces';
SET geoshard.default_region = '-x';
SET geoshard.default_region = '';
SELECT route_region('10.1.0.1');
RESET geoshard.default_region;
CREATE ROLE routing_app;
SET ROLE routing_app;
SET geoshard.default_region = 'us-east-1';
RESET ROLE;
DROP ROLE routing_app;
\set VERBOSITY terse
