-- test/bench/metrics_setup.sql: data and the timed rounds of the metrics
-- overhead benchmark, loaded by test/bench/metrics.sh into its throwaway
-- cluster, whose geoshard.geoip_database names the generated .mmdb file.
--
-- psql variables: tsv (the networks make-bench-mmdb.pl wrote), ips (how
-- many client addresses).  The same query, SELECT count(route_region(ip))
-- over the clients, runs with geoshard.metrics_enabled on and off, and a
-- plain scan gives the baseline that the marginal cost per call subtracts.

\set ON_ERROR_STOP 1
\o /dev/null

CREATE EXTENSION geoshard;
CREATE SCHEMA bench;

-- the twenty regions of the routing benchmark
SELECT geoshard.add_region(id, lat, lon)
FROM (VALUES
	('af-south-1', -33.92, 18.42), ('ap-east-1', 22.32, 114.17),
	('ap-northeast-1', 35.68, 139.69), ('ap-northeast-2', 37.57, 126.98),
	('ap-south-1', 19.08, 72.88), ('ap-southeast-1', 1.35, 103.82),
	('ap-southeast-2', -33.87, 151.21), ('ca-central-1', 45.50, -73.57),
	('eu-central-1', 50.11, 8.68), ('eu-north-1', 59.33, 18.07),
	('eu-south-1', 45.46, 9.19), ('eu-west-1', 53.35, -6.26),
	('eu-west-2', 51.51, -0.13), ('eu-west-3', 48.86, 2.35),
	('me-south-1', 26.07, 50.56), ('sa-east-1', -23.55, -46.63),
	('us-east-1', 39.04, -77.49), ('us-east-2', 39.96, -83.00),
	('us-west-1', 37.35, -121.96), ('us-west-2', 45.84, -119.70)
) v(id, lat, lon);

CREATE TABLE bench.networks (network cidr, lat float8, lon float8, country text);
COPY bench.networks FROM :'tsv';

-- clients inside the file's IPv4 networks, so every lookup is a hit
SELECT setseed(0.5);
CREATE TABLE bench.clients AS
	SELECT set_masklen(network, 32)::inet
		   + (random() * (2 ^ (32 - masklen(network)) - 1))::bigint AS ip
	FROM bench.networks, generate_series(1, ceil(:ips::float8 / 100000)::int)
	WHERE family(network) = 4
	ORDER BY random()
	LIMIT :ips;
VACUUM ANALYZE bench.clients;

-- wall time varies 2-3x on a shared machine; the backend's own CPU time
-- (ns on the CPU, from the kernel's scheduler statistics) much less
CREATE TABLE bench.timings (round int, variant text, ms float8, cpu_ms float8);

CREATE FUNCTION bench.cpu_ns() RETURNS bigint
LANGUAGE sql AS $$
	SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint
$$;

-- One round: counting on, counting off, counting on again (the A/A
-- control: how far two runs of the same code differ) and the plain scan,
-- in an order that reverses every other round.
CREATE FUNCTION bench.run_round(round int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	variants text[] := CASE WHEN round % 2 = 0 THEN ARRAY['on', 'off', 'on_again', 'scan']
						   ELSE ARRAY['scan', 'on_again', 'off', 'on'] END;
	variant text;
	started timestamptz;
	cpu_started bigint;
	n bigint;
BEGIN
	FOREACH variant IN ARRAY variants LOOP
		PERFORM set_config('geoshard.metrics_enabled', CASE WHEN variant = 'off' THEN 'off' ELSE 'on' END, false);
		started := clock_timestamp();
		cpu_started := bench.cpu_ns();
		IF variant = 'scan' THEN
			SELECT count(ip) INTO n FROM bench.clients;
		ELSE
			SELECT count(route_region(ip)) INTO n FROM bench.clients;
		END IF;
		IF round > 0 THEN		-- round 0 warms up
			INSERT INTO bench.timings
				VALUES (round, variant, extract(epoch FROM clock_timestamp() - started) * 1000,
						(bench.cpu_ns() - cpu_started) / 1e6);
		END IF;
	END LOOP;
	PERFORM set_config('geoshard.metrics_enabled', 'on', false);
END
$$;

-- The concurrent phase (metrics.sh, after the rounds above): pgbench
-- clients each run batches of route_region over the first :batch clients,
-- each batch with counting on, off, on again, or the plain scan of the same
-- rows (variant 1, 0, 2, 3) drawn at random, so that every variant meets
-- the same machine at the same moments; each batch records its wall time
-- and the backend's CPU time at its start.  The kernel updates a running
-- task's CPU time (/proc/self/schedstat) only at ticks and switches, so a
-- batch of a few ms cannot be timed from its own start and end; the report
-- takes the distance between the starts of a backend's consecutive batches
-- instead, which holds the whole transaction (the backend blocks on the
-- next query in between, and that switch brings the figure up to date).
CREATE TABLE bench.batch AS SELECT ip FROM bench.clients LIMIT :batch;
VACUUM ANALYZE bench.batch;
CREATE UNLOGGED TABLE bench.batch_timings (
	id bigserial, round int, clients int, variant text, pid int, ms float8, cpu_start_ns bigint);

-- One batch of the given variant.
CREATE FUNCTION bench.run_batch(round int, clients int, variant int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	cpu_started bigint;
	started timestamptz;
	n bigint;
BEGIN
	PERFORM set_config('geoshard.metrics_enabled', CASE WHEN variant = 0 THEN 'off' ELSE 'on' END, false);
	cpu_started := bench.cpu_ns();
	started := clock_timestamp();
	IF variant = 3 THEN
		SELECT count(ip) INTO n FROM bench.batch;
	ELSE
		SELECT count(route_region(ip)) INTO n FROM bench.batch;
	END IF;
	INSERT INTO bench.batch_timings (round, clients, variant, pid, ms, cpu_start_ns)
		VALUES (round, clients, (ARRAY['off', 'on', 'on_again', 'scan'])[variant + 1], pg_backend_pid(),
				extract(epoch FROM clock_timestamp() - started) * 1000, cpu_started);
END
$$;
