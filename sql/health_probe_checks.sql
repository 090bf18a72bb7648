-- health: each region's optional expected HTTP status and body substring
-- (geoshard.regions.probe_status, probe_body), refused where the endpoint's
-- probe cannot check them.  Probing itself is in test/t/020_health_checks.pl.
\set VERBOSITY sqlstate
\set SHOW_CONTEXT never

-- http(s) endpoints take both; 0 and '' mean none, like NULL
SELECT id, endpoint, probe_status, probe_body
FROM geoshard.add_region('pc-http', 10, 10, endpoint => 'http://127.0.0.1:9/health',
						 probe_status => 200, probe_body => 'ok');
SELECT id, probe_status, probe_body
FROM geoshard.add_region('pc-https', 10, 11, endpoint => 'HTTPS://example.com/',
						 probe_status => 0, probe_body => '');
SELECT id, probe_status, probe_body
FROM geoshard.add_region('pc-none', 10, 12, probe_status => 204);

-- update_region: NULL keeps, 0 and '' clear
SELECT probe_status, probe_body FROM geoshard.update_region('pc-http', cost => 2);
SELECT probe_status, probe_body FROM geoshard.update_region('pc-http', probe_status => 503);
SELECT probe_status, probe_body FROM geoshard.update_region('pc-http', probe_body => '');
SELECT probe_status, probe_body FROM geoshard.update_region('pc-http', probe_status => 0, probe_body => '"up"');

-- out of range and too long
SELECT geoshard.add_region('pc-bad', 10, 13, endpoint => 'http://127.0.0.1:9/', probe_status => 99);
SELECT geoshard.add_region('pc-bad', 10, 13, endpoint => 'http://127.0.0.1:9/', probe_status => 600);
SELECT geoshard.update_region('pc-http', probe_status => -1);
SELECT geoshard.update_region('pc-http', probe_body => repeat('x', 1025));
SELECT octet_length(probe_body) FROM geoshard.update_region('pc-http', probe_body => repeat('x', 1024));

-- tcp:// and postgres:// endpoints: refused, with the reason (22023)
\set VERBOSITY default
SELECT geoshard.add_region('pc-tcp', 10, 14, endpoint => 'tcp://127.0.0.1:9', probe_status => 200);
\set VERBOSITY sqlstate
SELECT geoshard.add_region('pc-tcp', 10, 14, endpoint => 'tcp://127.0.0.1:9', probe_body => 'ok');
SELECT geoshard.add_region('pc-pg', 10, 15, endpoint => 'postgres://u:secret@127.0.0.1/db', probe_status => 200);
SELECT geoshard.add_region('pc-pg', 10, 15, endpoint => 'host=127.0.0.1 password=secret', probe_body => 'ok');
SELECT count(*) FROM geoshard.regions WHERE id IN ('pc-bad', 'pc-tcp', 'pc-pg');
-- the error shows no endpoint: it may hold a password
\set VERBOSITY default
SELECT geoshard.add_region('pc-pg', 10, 15, endpoint => 'postgres://u:secret@127.0.0.1/db', probe_body => 'ok');
\set VERBOSITY sqlstate
-- changing the endpoint of a checked region, or checking a tcp one
SELECT geoshard.update_region('pc-http', endpoint => 'tcp://127.0.0.1:9');
SELECT geoshard.add_region('pc-tcp', 10, 14, endpoint => 'tcp://127.0.0.1:9');
SELECT geoshard.update_region('pc-tcp', probe_status => 200);
-- clearing the checks and changing the endpoint in one call works
SELECT endpoint, probe_status, probe_body
FROM geoshard.update_region('pc-http', endpoint => 'tcp://127.0.0.1:9', probe_status => 0, probe_body => '');
-- a region without endpoint keeps its checks for the http endpoint it gets later
SELECT endpoint, probe_status FROM geoshard.update_region('pc-none', endpoint => 'http://127.0.0.1:9/');

-- plain DML meets the CHECK constraints
UPDATE geoshard.regions SET probe_status = 200 WHERE id = 'pc-tcp';
UPDATE geoshard.regions SET probe_status = 700 WHERE id = 'pc-https';
UPDATE geoshard.regions SET probe_body = '' WHERE id = 'pc-https';
UPDATE geoshard.regions SET probe_status = 302, probe_body = 'moved' WHERE id = 'pc-https';
SELECT id, probe_status, probe_body FROM geoshard.regions WHERE id LIKE 'pc-%' ORDER BY id;

-- the new columns come last, after the 0.2 ones
SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute
WHERE attrelid = 'geoshard.regions'::regclass AND attnum > 0 AND NOT attisdropped;

-- administrative: not executable by PUBLIC
SELECT p.oid::regprocedure, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p
WHERE p.oid IN ('geoshard.check_region_probe(text, text, int4, text)'::regprocedure,
				'geoshard.add_region(text, float8, float8, text, text, float8, float8, float8, boolean, int4, text)'::regprocedure,
				'geoshard.update_region(text, text, float8, float8, text, float8, float8, float8, boolean, int4, text)'::regprocedure)
ORDER BY 1::text;

DELETE FROM geoshard.regions WHERE id LIKE 'pc-%';
