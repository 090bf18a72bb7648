-- routing: geoip_lookup from the geoshard.geoip_networks table, errors, privileges
-- (lookups in a MaxMind DB file are in test/t/006_routing_geoip.pl)

SHOW geoshard.geoip_database;
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel,
       pg_catalog.pg_get_function_arguments(p.oid) AS arguments
FROM pg_proc p WHERE p.proname = 'geoip_lookup';

-- an empty table knows nothing: every field NULL, source NULL
SELECT * FROM geoip_lookup('192.0.2.1');
-- NULL in, NULL out
SELECT geoip_lookup(NULL) IS NULL AS null_input;

INSERT INTO geoshard.geoip_networks VALUES
    ('192.0.2.0/24', 'US', 47.6, -122.3, 20),
    ('192.0.2.128/25', 'CA', 49.28, -123.12, 5),
    ('198.51.100.0/24', 'DE', 52.52, 13.40, NULL),
    ('203.0.113.0/24', 'SG', NULL, NULL, NULL),
    ('10.0.0.0/8', NULL, 0, 0, 1000),
    ('2001:db8::/32', 'JP', 35.68, 139.69, 100),
    ('2001:db8:1::/48', 'KR', 37.57, 126.98, 10);

-- IPv4 and IPv6; the most specific network wins
SELECT ip, (geoip_lookup(ip)).*
FROM (VALUES ('192.0.2.1'::inet), ('192.0.2.200'), ('198.51.100.7'), ('203.0.113.9'),
             ('10.20.30.40'), ('2001:db8::1'), ('2001:db8:1::1'), ('2001:db8:2::1'),
             ('192.0.2.1/24'), ('192.0.3.1'), ('::1'), ('2001:db9::1')) v(ip)
ORDER BY ip;

-- an IPv4-mapped address is looked up as its IPv4 address
SELECT * FROM geoip_lookup('::ffff:192.0.2.200');

-- each backend's copy of the table follows changes, its own at once, and rollbacks
BEGIN;
UPDATE geoshard.geoip_networks SET country = 'MX' WHERE network = '192.0.2.128/25';
SELECT country, source FROM geoip_lookup('192.0.2.200');
ROLLBACK;
SELECT country, source FROM geoip_lookup('192.0.2.200');
-- the triggers that keep the copies current fire in every replication role
SELECT tgname, tgenabled, tgtype FROM pg_trigger
WHERE tgrelid = 'geoshard.geoip_networks'::regclass ORDER BY tgname;

-- rows the table refuses
INSERT INTO geoshard.geoip_networks VALUES ('192.0.2.0/24', 'XX', 0, 0, 0);
INSERT INTO geoshard.geoip_networks VALUES ('192.0.2.1/24', 'XX', 0, 0, 0);
INSERT INTO geoshard.geoip_networks VALUES ('100.64.0.0/10', 'XX', 91, 0, 0);
INSERT INTO geoshard.geoip_networks VALUES ('100.64.0.0/10', 'XX', 0, -180.5, 0);
INSERT INTO geoshard.geoip_networks VALUES ('100.64.0.0/10', 'XX', 'NaN', 0, 0);
INSERT INTO geoshard.geoip_networks VALUES ('100.64.0.0/10', 'XX', 10, NULL, 0);
INSERT INTO geoshard.geoip_networks VALUES ('100.64.0.0/10', 'XX', 10, 10, -1);

-- rows that slipped past the constraints are an error, not a silent skip
BEGIN;
ALTER TABLE geoshard.geoip_networks
    DROP CONSTRAINT geoip_networks_latitude,
    DROP CONSTRAINT geoip_networks_longitude,
    DROP CONSTRAINT geoip_networks_location,
    DROP CONSTRAINT geoip_networks_accuracy_radius;
INSERT INTO geoshard.geoip_networks VALUES
    ('100.64.0.0/24', 'XX', 91, 0, 0),
    ('100.64.1.0/24', 'XX', 0, 'Infinity', 0),
    ('100.64.2.0/24', 'XX', 'NaN', 0, 0),
    ('100.64.3.0/24', 'XX', 10, NULL, 0),
    ('100.64.4.0/24', 'XX', 10, 10, -1);
SAVEPOINT s;
SELECT * FROM geoip_lookup('100.64.0.1');
ROLLBACK TO s;
SELECT * FROM geoip_lookup('100.64.1.1');
ROLLBACK TO s;
SELECT * FROM geoip_lookup('100.64.2.1');
ROLLBACK TO s;
SELECT * FROM geoip_lookup('100.64.3.1');
ROLLBACK TO s;
SELECT * FROM geoip_lookup('100.64.4.1');
ROLLBACK;

-- a file that does not exist: a warning when set, an error naming it when used
SET geoshard.geoip_database = '/nonexistent/geoshard-test.mmdb';
SELECT * FROM geoip_lookup('192.0.2.1');
-- a file that is not a MaxMind DB, and a directory
SET geoshard.geoip_database = 'postgresql.conf';
SELECT * FROM geoip_lookup('192.0.2.1');
SET geoshard.geoip_database = 'base';
SELECT * FROM geoip_lookup('192.0.2.1');
-- with no file, the table answers again
RESET geoshard.geoip_database;
SELECT * FROM geoip_lookup('192.0.2.1');

-- privileges: anyone may look up and read the table; only the owner writes it
CREATE ROLE regress_geoip_user;
SET ROLE regress_geoip_user;
SELECT * FROM geoip_lookup('2001:db8:1::1');
SELECT count(*) FROM geoshard.geoip_networks;
INSERT INTO geoshard.geoip_networks VALUES ('100.64.0.0/10', 'XX', 0, 0, 0);
UPDATE geoshard.geoip_networks SET country = 'XX';
DELETE FROM geoshard.geoip_networks;
SET geoshard.geoip_database = '/tmp/other.mmdb';
RESET ROLE;
DROP ROLE regress_geoip_user;

-- the table is dumped with the extension
SELECT c.relname, e.extconfig IS NOT NULL AS dumped
FROM pg_extension e JOIN pg_class c ON c.oid = ANY (e.extconfig)
WHERE e.extname = 'geoshard' AND c.relname = 'geoip_networks';

DELETE FROM geoshard.geoip_networks;
