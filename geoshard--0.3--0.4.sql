/* geoshard upgrade script: 0.3 to 0.4 (ALTER EXTENSION geoshard UPDATE TO '0.4') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION geoshard UPDATE TO '0.4'" to load this file. \quit

-- Every change to the objects since 0.3, area by area, in the order of the
-- install script.  A fresh 0.4 install and an upgraded 0.1, 0.2 or 0.3 install
-- must end up with the same objects: test/t/008_release_upgrade.pl compares them.

-- ===== health =====

-- pg_dump keeps the breakers' history (and what restores them after a restart)
SELECT pg_catalog.pg_extension_config_dump('geoshard.health_events', '');
SELECT pg_catalog.pg_extension_config_dump('geoshard.health_events_id_seq', '');

-- region_health gains baseline_rtt_ms, the region's own normal round trip
DROP VIEW geoshard.region_health;
DROP FUNCTION geoshard.region_health_state();
CREATE FUNCTION geoshard.region_health_state(OUT region text, OUT endpoint text, OUT state text,
											 OUT degraded boolean, OUT forced boolean, OUT probed boolean,
											 OUT consecutive_failures int4, OUT consecutive_successes int4,
											 OUT last_rtt_ms float8, OUT smoothed_rtt_ms float8,
											 OUT last_error text, OUT last_probe timestamptz,
											 OUT since timestamptz, OUT cooldown_ms int4, OUT panic boolean,
											 OUT baseline_rtt_ms float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'region_health_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.region_health_state() IS
	'the circuit breakers as the health worker keeps them in shared memory, one row per region it knows, passwords in endpoints masked';
CREATE VIEW geoshard.region_health AS
	SELECT * FROM geoshard.region_health_state();
COMMENT ON VIEW geoshard.region_health IS
	'one row per region: circuit breaker state, probe figures and panic mode, endpoints without passwords';
GRANT SELECT ON geoshard.region_health TO PUBLIC;

-- ===== cdc =====

-- output plugin: the geoshard output plugin reads the shard map under the
-- historic snapshot of logical decoding, which only catalog and
-- user_catalog_table tables may be read with (src/cdc/geo_enrich.c).
ALTER TABLE geoshard.shards SET (user_catalog_table = true);

-- publisher: the sinks, their checks and their status (docs/cdc.md)

-- One row per sink: a logical replication slot of the geoshard output plugin
-- whose events the "geoshard cdc" worker publishes into Redis Streams.  The
-- worker reads the table again when a write to it commits, so that changes
-- take effect without a restart.  redis_url may hold a password: the table is not
-- readable by PUBLIC (geoshard.cdc_status shows the URL masked).
CREATE TABLE geoshard.cdc_sinks (
	name text PRIMARY KEY,
	slot_name name NOT NULL UNIQUE,
	stream_key text NOT NULL DEFAULT 'geoshard:{table}',
	options jsonb NOT NULL DEFAULT '{}',
	redis_url text,
	maxlen int8,
	enabled boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE geoshard.cdc_sinks IS
	'CDC sinks: the slots whose events the geoshard cdc worker publishes into Redis Streams (docs/cdc.md)';
SELECT pg_catalog.pg_extension_config_dump('geoshard.cdc_sinks', '');

-- Every write is checked here, so that the worker never meets a sink it
-- cannot read: the functions below and direct INSERTs and UPDATEs alike.
CREATE FUNCTION geoshard.cdc_sinks_check() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	known text[] := ARRAY['include-tables', 'exclude-tables', 'actions',
						  'include-message-prefixes', 'exclude-message-prefixes',
						  'include-old', 'numeric-as-string', 'include-xids',
						  'include-timestamp', 'pretty', 'format-version'];
	option_name text;
	option_value jsonb;
	rest text;
BEGIN
	IF NEW.name IS NULL OR NEW.name !~ '^[a-z0-9_]{1,50}$' THEN
		RAISE EXCEPTION 'invalid cdc sink name: "%"', NEW.name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A sink name has 1 to 50 lower-case letters, digits or "_" (it names the sink''s replication slot).';
	END IF;
	IF TG_OP = 'UPDATE' AND NEW.name <> OLD.name THEN
		RAISE EXCEPTION 'cannot rename cdc sink "%"', OLD.name
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Drop the sink and add it again under the new name.';
	END IF;
	IF TG_OP = 'UPDATE' AND NEW.slot_name <> OLD.slot_name THEN
		RAISE EXCEPTION 'cannot change the slot of cdc sink "%"', NEW.name
			USING ERRCODE = 'feature_not_supported';
	END IF;
	IF NEW.slot_name IS NULL OR NEW.slot_name !~ '^[a-z0-9_]{1,63}$' THEN
		RAISE EXCEPTION 'invalid slot name for cdc sink "%": "%"', NEW.name, NEW.slot_name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A replication slot name has 1 to 63 lower-case letters, digits or "_".';
	END IF;

	IF NEW.stream_key IS NULL OR length(NEW.stream_key) = 0 OR octet_length(NEW.stream_key) > 256 THEN
		RAISE EXCEPTION 'invalid stream key template for cdc sink "%": "%"', NEW.name, NEW.stream_key
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A stream key template has 1 to 256 bytes.';
	END IF;
	rest := replace(replace(replace(NEW.stream_key, '{table}', ''), '{schema}', ''), '{shard}', '');
	IF strpos(rest, '{') > 0 OR strpos(rest, '}') > 0 THEN
		RAISE EXCEPTION 'invalid stream key template for cdc sink "%": "%"', NEW.name, NEW.stream_key
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The placeholders are {table}, {schema} and {shard}; other braces are not allowed.';
	END IF;

	IF NEW.options IS NULL OR jsonb_typeof(NEW.options) <> 'object' THEN
		RAISE EXCEPTION 'invalid options for cdc sink "%": %', NEW.name, NEW.options
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The options are a JSON object of output plugin options, such as {"include-tables": "public.pins"}.';
	END IF;
	FOR option_name, option_value IN SELECT key, value FROM jsonb_each(NEW.options) LOOP
		IF option_name = 'include-begin-commit' THEN
			RAISE EXCEPTION 'option "include-begin-commit" cannot be set for cdc sink "%"', NEW.name
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'The publisher always reads begin and commit records, to know where transactions end; they are not published.';
		END IF;
		IF NOT option_name = ANY (known) THEN
			RAISE EXCEPTION 'unrecognized option "%" for cdc sink "%"', option_name, NEW.name
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'The options are ' || array_to_string(known, ', ') || ' (docs/cdc.md).';
		END IF;
		IF jsonb_typeof(option_value) NOT IN ('string', 'boolean', 'number') THEN
			RAISE EXCEPTION 'invalid value for option "%" of cdc sink "%": %', option_name, NEW.name, option_value
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'An option''s value is a string, a number or a boolean.';
		END IF;
	END LOOP;

	IF NEW.redis_url IS NOT NULL
	   AND NEW.redis_url !~ '^redis://(([^@/?#:]*:[^@/?#]*@))?(\[[0-9A-Fa-f:.]+\]|[^@/?#:\[\]]+)(:[0-9]{1,5})?(/[0-9]{0,7})?$'
	   AND NEW.redis_url !~ '^unix:/[^?]+(\?(db=[0-9]{1,7}|password=[^&]*)(&(db=[0-9]{1,7}|password=[^&]*))*)?$' THEN
		RAISE EXCEPTION 'invalid Redis URL for cdc sink "%"', NEW.name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A Redis URL is redis://[[user]:password@]host[:port][/db] or unix:/path[?db=N][&password=P].';
	END IF;
	IF NEW.maxlen IS NOT NULL AND NEW.maxlen < 1 THEN
		RAISE EXCEPTION 'invalid maxlen for cdc sink "%": %', NEW.name, NEW.maxlen
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'maxlen is the approximate length streams are trimmed to, at least 1, or NULL for no trimming.';
	END IF;
	IF TG_OP = 'INSERT' AND (SELECT count(*) FROM geoshard.cdc_sinks) >= 64 THEN
		RAISE EXCEPTION 'cannot add cdc sink "%": there are already 64 sinks', NEW.name
			USING ERRCODE = 'program_limit_exceeded';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION geoshard.cdc_sinks_check() IS
	'trigger on geoshard.cdc_sinks: refuses malformed sinks (names, stream key templates, options, Redis URLs)';
REVOKE ALL ON FUNCTION geoshard.cdc_sinks_check() FROM PUBLIC;
CREATE TRIGGER cdc_sinks_check
	BEFORE INSERT OR UPDATE ON geoshard.cdc_sinks
	FOR EACH ROW EXECUTE FUNCTION geoshard.cdc_sinks_check();

-- Wakes the cdc worker when the write commits, so that it reads the sinks at
-- once rather than at its next look (about a second).
CREATE FUNCTION geoshard.cdc_sinks_changed() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION geoshard.cdc_sinks_changed() IS
	'trigger on geoshard.cdc_sinks: wakes the cdc worker when the write commits';
REVOKE ALL ON FUNCTION geoshard.cdc_sinks_changed() FROM PUBLIC;
CREATE TRIGGER cdc_sinks_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.cdc_sinks
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.cdc_sinks_changed();

CREATE FUNCTION geoshard.add_cdc_sink(name text,
									  stream_key text DEFAULT 'geoshard:{table}',
									  options jsonb DEFAULT '{}',
									  redis_url text DEFAULT NULL,
									  maxlen int8 DEFAULT NULL)
	RETURNS name
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	slot name;
BEGIN
	IF EXISTS (SELECT FROM geoshard.cdc_sinks s WHERE s.name = add_cdc_sink.name) THEN
		RAISE EXCEPTION 'cdc sink "%" already exists', add_cdc_sink.name
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO geoshard.cdc_sinks (name, slot_name, stream_key, options, redis_url, maxlen)
		VALUES (add_cdc_sink.name, ('geoshard_cdc_' || add_cdc_sink.name)::name,
				add_cdc_sink.stream_key, add_cdc_sink.options, add_cdc_sink.redis_url,
				add_cdc_sink.maxlen)
		RETURNING slot_name INTO slot;
	RETURN slot;
END
$$;
COMMENT ON FUNCTION geoshard.add_cdc_sink(text, text, jsonb, text, int8) IS
	'add a CDC sink publishing into Redis Streams; the cdc worker creates its slot geoshard_cdc_<name>, whose name is returned';
REVOKE ALL ON FUNCTION geoshard.add_cdc_sink(text, text, jsonb, text, int8) FROM PUBLIC;

-- The slot goes with the sink unless a process holds it at that moment; the
-- worker then drops it on its next pass (slots named geoshard_cdc_* of the
-- geoshard plugin whose sink is gone).  Dropping a slot is not transactional:
-- a rollback brings the row back, not the slot, and the worker creates a new
-- one from the current position.
CREATE FUNCTION geoshard.drop_cdc_sink(name text)
	RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	slot name;
BEGIN
	DELETE FROM geoshard.cdc_sinks s WHERE s.name = drop_cdc_sink.name RETURNING s.slot_name INTO slot;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'cdc sink "%" does not exist', drop_cdc_sink.name
			USING ERRCODE = 'undefined_object';
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_replication_slots r WHERE r.slot_name = slot) THEN
		BEGIN
			PERFORM pg_catalog.pg_drop_replication_slot(slot);
		EXCEPTION WHEN object_in_use THEN
			RAISE NOTICE 'replication slot "%" is in use; the cdc worker drops it', slot;
		END;
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.drop_cdc_sink(text) IS
	'drop a CDC sink and its replication slot (the Redis streams and position key stay)';
REVOKE ALL ON FUNCTION geoshard.drop_cdc_sink(text) FROM PUBLIC;

CREATE FUNCTION geoshard.enable_cdc_sink(name text)
	RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE geoshard.cdc_sinks s SET enabled = true WHERE s.name = enable_cdc_sink.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'cdc sink "%" does not exist', enable_cdc_sink.name
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.enable_cdc_sink(text) IS
	'resume publishing a CDC sink from where its slot stands';
REVOKE ALL ON FUNCTION geoshard.enable_cdc_sink(text) FROM PUBLIC;

-- A disabled sink keeps its slot, which keeps retaining WAL for it.
CREATE FUNCTION geoshard.disable_cdc_sink(name text)
	RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE geoshard.cdc_sinks s SET enabled = false WHERE s.name = disable_cdc_sink.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'cdc sink "%" does not exist', disable_cdc_sink.name
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.disable_cdc_sink(text) IS
	'pause publishing a CDC sink; its slot stays and retains WAL until the sink is enabled or dropped';
REVOKE ALL ON FUNCTION geoshard.disable_cdc_sink(text) FROM PUBLIC;

-- The worker's figures per sink, from shared memory (no passwords).
CREATE FUNCTION geoshard.cdc_status_state(OUT sink text, OUT state text, OUT redis_url text,
										  OUT last_id text, OUT last_lsn pg_lsn,
										  OUT behind_since timestamptz, OUT events_per_s float8,
										  OUT redis_rtt_ms float8, OUT published int8, OUT skipped int8,
										  OUT last_error text, OUT last_error_at timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cdc_status_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.cdc_status_state() IS
	'the cdc worker''s figures per sink as it keeps them in shared memory, Redis passwords masked';

-- Readable by PUBLIC: no password, no options (they may name tables).  The
-- state is the worker's: a sink just enabled or disabled changes state when
-- the worker has read the change (at once, see cdc_sinks_changed).
CREATE VIEW geoshard.cdc_status AS
	SELECT s.name AS sink, s.slot_name AS slot, s.enabled,
		   coalesce(w.state, CASE WHEN s.enabled THEN 'starting' ELSE 'disabled' END) AS state,
		   w.redis_url, s.stream_key, w.last_id, w.last_lsn,
		   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.confirmed_flush_lsn)::int8 AS lag_bytes,
		   coalesce(extract(epoch FROM pg_catalog.now() - w.behind_since), 0)::float8 AS lag_seconds,
		   w.events_per_s, w.redis_rtt_ms, w.published, w.skipped, w.last_error, w.last_error_at,
		   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.restart_lsn)::int8 AS retained_wal_bytes
	FROM geoshard.cdc_sinks s
	LEFT JOIN geoshard.cdc_status_state() w ON w.sink = s.name
	LEFT JOIN pg_catalog.pg_replication_slots r ON r.slot_name = s.slot_name;
COMMENT ON VIEW geoshard.cdc_status IS
	'one row per CDC sink: state, last published event, lag, throughput, Redis round trip, errors and retained WAL';
GRANT SELECT ON geoshard.cdc_status TO PUBLIC;

-- ===== ratelimit =====

-- Application-facing, so executable by PUBLIC like route_region: keys are
-- shared by every role of a database.  A role that may call it can also fill
-- the table and evict other keys (docs/ratelimit.md#who-may-call-it); where
-- untrusted roles log in, REVOKE EXECUTE ... FROM PUBLIC and GRANT it to the
-- application's roles.
CREATE FUNCTION rate_limit(key text, per_second float8, burst int4, cost int4 DEFAULT 1)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'rate_limit'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION rate_limit(text, float8, int4, int4) IS
	'may a request of this cost on this key pass now, at per_second with up to burst at once (GCRA in shared memory); true consumes it';

CREATE FUNCTION rate_limit_info(key text, per_second float8, burst int4, cost int4 DEFAULT 1,
								OUT allowed boolean, OUT remaining int4,
								OUT retry_after float8, OUT reset_after float8)
	RETURNS record
	AS 'MODULE_PATHNAME', 'rate_limit_info'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION rate_limit_info(text, float8, int4, int4) IS
	'rate_limit''s decision with remaining requests, seconds until a retry may pass (infinity when cost > burst) and until the key is full again';

-- Counts only, but of every database's traffic: for pg_monitor, not PUBLIC.
CREATE FUNCTION geoshard.rate_limit_usage_state(OUT capacity int8, OUT entries int8,
												OUT active_keys int8, OUT evictions int8,
												OUT recycled int8, OUT allowed int8, OUT denied int8)
	RETURNS record
	AS 'MODULE_PATHNAME', 'rate_limit_usage_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.rate_limit_usage_state() IS
	'the shared table of rate-limited keys: capacity, entries taken, keys not full, evictions and decisions since start';
REVOKE ALL ON FUNCTION geoshard.rate_limit_usage_state() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION geoshard.rate_limit_usage_state() TO pg_monitor;

CREATE VIEW geoshard.rate_limit_usage AS
	SELECT * FROM geoshard.rate_limit_usage_state();
COMMENT ON VIEW geoshard.rate_limit_usage IS
	'one row on the shared table of rate-limited keys, for operators: a growing evictions count means geoshard.rate_limit_keys is too small';
REVOKE ALL ON geoshard.rate_limit_usage FROM PUBLIC;
GRANT SELECT ON geoshard.rate_limit_usage TO pg_monitor;

-- ===== redisview =====

-- redisview: Redis views kept in step with committed rows (docs/redisview.md)

-- One row per view: which table, which kind, and how its rows map to Redis
-- keys, resolved from the options by geoshard.add_redis_view.  The source is
-- kept by schema and table name, not by oid: names survive pg_dump and
-- restore, oids do not.  The "geoshard redisview" worker reads the table
-- about once a second, so that changes take effect without a restart.
CREATE TABLE geoshard.redis_views (
	name text PRIMARY KEY,
	source_schema name NOT NULL,
	source_table name NOT NULL,
	kind text NOT NULL CHECK (kind IN ('geo', 'hash', 'presence', 'counter')),
	member_columns text[] NOT NULL,
	lat_column text,
	lon_column text,
	quadkey_column text,
	shard_level int4,
	field_columns text[],
	group_column text,
	value_column text,
	ttl_ms int8,
	enabled boolean NOT NULL DEFAULT true,
	options jsonb NOT NULL DEFAULT '{}',
	rebuild_requested_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE geoshard.redis_views IS
	'Redis views: tables whose rows the geoshard redisview worker keeps in Redis GEO sets, hashes, presence keys or counters (docs/redisview.md)';
SELECT pg_catalog.pg_extension_config_dump('geoshard.redis_views', '');

CREATE FUNCTION geoshard.add_redis_view(name text, source regclass, kind text, options jsonb DEFAULT '{}')
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	known text[];
	opt text;
	nsp name;
	rel name;
	relkind "char";
	pk text[];
	cols text[];
	members text[];
	v_lat text;
	v_lon text;
	v_qk text;
	v_level int4;
	v_fields text[];
	v_group text;
	v_value text;
	v_ttl int8;
	c text;

BEGIN
	IF name IS NULL OR name !~ '^[a-z0-9_]{1,50}$' THEN
		RAISE EXCEPTION 'invalid redis view name: "%"', name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A view name has 1 to 50 lower-case letters, digits or "_" (it is part of the view''s Redis keys).';
	END IF;
	IF source IS NULL THEN
		RAISE EXCEPTION 'redis view "%" needs a source table', name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF kind IS NULL OR kind NOT IN ('geo', 'hash', 'presence', 'counter') THEN
		RAISE EXCEPTION 'unrecognized redis view kind: "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The kinds are geo, hash, presence and counter.';
	END IF;
	IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
		RAISE EXCEPTION 'invalid options for redis view "%": %', name, options
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The options are a JSON object, such as {"member": "id"}.';
	END IF;
	known := CASE kind
		WHEN 'geo' THEN ARRAY['member', 'lat', 'lon', 'quadkey', 'shard_level']
		WHEN 'hash' THEN ARRAY['member', 'columns']
		WHEN 'presence' THEN ARRAY['member', 'ttl_ms', 'value']
		ELSE ARRAY['member', 'group', 'value'] END;
	FOR opt IN SELECT k FROM jsonb_object_keys(options) k LOOP
		IF NOT opt = ANY (known) THEN
			RAISE EXCEPTION 'unrecognized option for a % redis view: "%"', kind, opt
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('The options of a %s view are %s.', kind, array_to_string(known, ', '));
		END IF;
	END LOOP;

	SELECT n.nspname, c.relname, c.relkind INTO nsp, rel, relkind
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source;
	IF relkind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION 'cannot make a redis view of "%.%"', nsp, rel
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = 'The source of a redis view must be a table.';
	END IF;
	SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO cols
		FROM pg_attribute a WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped;
	SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum)) INTO pk
		FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
		WHERE i.indrelid = source AND i.indisprimary;
	IF pk IS NULL THEN
		RAISE EXCEPTION 'table "%.%" has no primary key', nsp, rel
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'A redis view names each row by primary key columns, which every change event carries.',
				  HINT = 'Add a primary key to the table.';
	END IF;

	-- member: the primary key, or some of its columns
	IF options ? 'member' THEN
		IF jsonb_typeof(options->'member') = 'string' THEN
			members := ARRAY[options->>'member'];
		ELSIF jsonb_typeof(options->'member') = 'array' THEN
			SELECT array_agg(x) INTO members FROM jsonb_array_elements_text(options->'member') x;
		END IF;
		IF members IS NULL OR cardinality(members) = 0 THEN
			RAISE EXCEPTION 'invalid option "member" for redis view "%": %', name, options->'member'
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'The member is a column name or an array of column names.';
		END IF;
		FOREACH c IN ARRAY members LOOP
			IF NOT c = ANY (cols) THEN
				RAISE EXCEPTION 'column "%" of option "member" does not exist in table "%.%"', c, nsp, rel
					USING ERRCODE = 'undefined_column';
			END IF;
			IF NOT c = ANY (pk) THEN
				RAISE EXCEPTION 'column "%" of option "member" is not part of the primary key of "%.%"', c, nsp, rel
					USING ERRCODE = 'invalid_parameter_value',
						  DETAIL = 'A delete event carries only the primary key, so the member must be made of its columns.';
			END IF;
		END LOOP;
	ELSE
		members := pk;
	END IF;

	IF kind = 'geo' THEN
		v_lat := coalesce(options->>'lat', CASE WHEN 'lat' = ANY (cols) AND NOT options ? 'quadkey' THEN 'lat' END);
		v_lon := coalesce(options->>'lon', CASE WHEN 'lon' = ANY (cols) AND NOT options ? 'quadkey' THEN 'lon' END);
		IF v_lat IS NULL OR v_lon IS NULL THEN
			v_lat := NULL;
			v_lon := NULL;
			v_qk := coalesce(options->>'quadkey', CASE WHEN 'quadkey' = ANY (cols) THEN 'quadkey' END);
			IF v_qk IS NULL THEN
				RAISE EXCEPTION 'table "%.%" has no lat/lon or quadkey columns for geo view "%"', nsp, rel, name
					USING ERRCODE = 'undefined_column',
						  HINT = 'Name them with the options "lat" and "lon", or "quadkey".';
			END IF;
		END IF;
		FOREACH c IN ARRAY array_remove(ARRAY[v_lat, v_lon, v_qk], NULL) LOOP
			IF NOT c = ANY (cols) THEN
				RAISE EXCEPTION 'column "%" does not exist in table "%.%"', c, nsp, rel
					USING ERRCODE = 'undefined_column';
			END IF;
		END LOOP;
		IF v_qk IS NOT NULL AND (SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
								 WHERE a.attrelid = source AND a.attname = v_qk) NOT LIKE '%quadkey' THEN
			RAISE EXCEPTION 'column "%" of table "%.%" is not of type quadkey', v_qk, nsp, rel
				USING ERRCODE = 'datatype_mismatch';
		END IF;
		IF options ? 'shard_level' THEN
			IF jsonb_typeof(options->'shard_level') <> 'number' OR (options->>'shard_level')::numeric NOT BETWEEN 1 AND 16
			   OR (options->>'shard_level')::numeric <> trunc((options->>'shard_level')::numeric) THEN
				RAISE EXCEPTION 'invalid option "shard_level" for redis view "%": %', name, options->'shard_level'
					USING ERRCODE = 'invalid_parameter_value',
						  DETAIL = 'The shard level is an integer from 1 to 16.';
			END IF;
			v_level := (options->>'shard_level')::int4;
		ELSE
			v_level := 10;
		END IF;
	ELSIF kind = 'hash' THEN
		IF options ? 'columns' THEN
			IF jsonb_typeof(options->'columns') = 'array' THEN
				SELECT array_agg(x) INTO v_fields FROM jsonb_array_elements_text(options->'columns') x;
			END IF;
			IF v_fields IS NULL OR cardinality(v_fields) = 0 THEN
				RAISE EXCEPTION 'invalid option "columns" for redis view "%": %', name, options->'columns'
					USING ERRCODE = 'invalid_parameter_value',
						  DETAIL = 'The columns are an array of column names.';
			END IF;
			FOREACH c IN ARRAY v_fields LOOP
				IF NOT c = ANY (cols) THEN
					RAISE EXCEPTION 'column "%" of option "columns" does not exist in table "%.%"', c, nsp, rel
						USING ERRCODE = 'undefined_column';
				END IF;
			END LOOP;
		ELSE
			v_fields := cols;
		END IF;
	ELSIF kind = 'presence' THEN
		IF NOT options ? 'ttl_ms' OR jsonb_typeof(options->'ttl_ms') <> 'number'
		   OR (options->>'ttl_ms')::numeric NOT BETWEEN 1 AND 2592000000
		   OR (options->>'ttl_ms')::numeric <> trunc((options->>'ttl_ms')::numeric) THEN
			RAISE EXCEPTION 'invalid option "ttl_ms" for redis view "%": %', name, coalesce(options->'ttl_ms', 'null')
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'A presence view needs "ttl_ms", an integer number of milliseconds from 1 to 2592000000 (30 days).';
		END IF;
		v_ttl := (options->>'ttl_ms')::int8;
		v_value := options->>'value';
	ELSE
		v_group := options->>'group';
		v_value := options->>'value';
		IF v_group IS NOT NULL AND NOT v_group = ANY (cols) THEN
			RAISE EXCEPTION 'column "%" of option "group" does not exist in table "%.%"', v_group, nsp, rel
				USING ERRCODE = 'undefined_column';
		END IF;
		IF v_value IS NOT NULL AND NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = source
											   AND a.attname = v_value AND a.atttypid IN (21, 23, 20)) THEN
			RAISE EXCEPTION 'column "%" of option "value" is not an integer column of table "%.%"', v_value, nsp, rel
				USING ERRCODE = CASE WHEN v_value = ANY (cols) THEN 'datatype_mismatch' ELSE 'undefined_column' END,
					  DETAIL = 'A counter adds up a smallint, integer or bigint column.';
		END IF;
	END IF;
	IF kind = 'presence' AND v_value IS NOT NULL AND NOT v_value = ANY (cols) THEN
		RAISE EXCEPTION 'column "%" of option "value" does not exist in table "%.%"', v_value, nsp, rel
			USING ERRCODE = 'undefined_column';
	END IF;

	IF EXISTS (SELECT FROM geoshard.redis_views v WHERE v.name = add_redis_view.name) THEN
		RAISE EXCEPTION 'redis view "%" already exists', name
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Drop it first with geoshard.drop_redis_view().';
	END IF;
	INSERT INTO geoshard.redis_views (name, source_schema, source_table, kind, member_columns,
									  lat_column, lon_column, quadkey_column, shard_level,
									  field_columns, group_column, value_column, ttl_ms, options)
	VALUES (name, nsp, rel, kind, members, v_lat, v_lon, v_qk, v_level, v_fields, v_group,
			v_value, v_ttl, options);
END;
$$;
COMMENT ON FUNCTION geoshard.add_redis_view(text, regclass, text, jsonb) IS
	'add a Redis view of a table (kind geo, hash, presence or counter), checked against the table; the redisview worker builds it';
REVOKE ALL ON FUNCTION geoshard.add_redis_view(text, regclass, text, jsonb) FROM PUBLIC;

CREATE FUNCTION geoshard.drop_redis_view(name text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM geoshard.redis_views v WHERE v.name = drop_redis_view.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'redis view "%" does not exist', name
			USING ERRCODE = 'undefined_object';
	END IF;
END;
$$;
COMMENT ON FUNCTION geoshard.drop_redis_view(text) IS
	'drop a Redis view; the redisview worker deletes its keys';
REVOKE ALL ON FUNCTION geoshard.drop_redis_view(text) FROM PUBLIC;

CREATE FUNCTION geoshard.rebuild_redis_view(name text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE geoshard.redis_views v SET rebuild_requested_at = clock_timestamp()
		WHERE v.name = rebuild_redis_view.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'redis view "%" does not exist', name
			USING ERRCODE = 'undefined_object';
	END IF;
END;
$$;
COMMENT ON FUNCTION geoshard.rebuild_redis_view(text) IS
	'ask the redisview worker to build a Redis view again from a snapshot, in a new key generation';
REVOKE ALL ON FUNCTION geoshard.rebuild_redis_view(text) FROM PUBLIC;

CREATE FUNCTION geoshard.redisview_state(OUT view text, OUT state text, OUT generation int8,
										 OUT lag_bytes int8, OUT lag_ms float8, OUT rows_per_s float8,
										 OUT keys int8, OUT applied int8, OUT skipped int8,
										 OUT build_rows int8, OUT build_total int8, OUT built_at timestamptz,
										 OUT last_error text, OUT last_error_at timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'redisview_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.redisview_state() IS
	'the redisview worker''s figures per Redis view, from shared memory';
REVOKE ALL ON FUNCTION geoshard.redisview_state() FROM PUBLIC;

CREATE VIEW geoshard.redisview_status AS
	SELECT * FROM geoshard.redisview_state();
COMMENT ON VIEW geoshard.redisview_status IS
	'one row per Redis view: state, live generation, lag (bytes, ms), rows/s, rows held, build progress, last error';
REVOKE ALL ON geoshard.redisview_status FROM PUBLIC;

-- The GEOSEARCH commands that answer "what is within radius_m of (lat, lon)"
-- on a geo view: one per GEO key (quadkey prefix at the view's shard level)
-- that the circle's cover touches, in the live generation.
CREATE FUNCTION geoshard.redis_view_search(view text, lat float8, lon float8, radius_m float8,
										   OUT key text, OUT command text)
	RETURNS SETOF record
	LANGUAGE plpgsql STABLE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v geoshard.redis_views;
	g int8;
BEGIN
	SELECT * INTO v FROM geoshard.redis_views r WHERE r.name = redis_view_search.view;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'redis view "%" does not exist', view
			USING ERRCODE = 'undefined_object';
	END IF;
	IF v.kind <> 'geo' THEN
		RAISE EXCEPTION 'redis view "%" is not a geo view', view
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = format('Its kind is %s.', v.kind);
	END IF;
	IF NOT radius_m > 0 OR radius_m > 1000000 THEN
		RAISE EXCEPTION 'radius % m is out of range', radius_m
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = 'The radius is from 0 (excluded) to 1000000 m.';
	END IF;
	SELECT s.generation INTO g FROM geoshard.redisview_status s WHERE s.view = v.name;
	IF g IS NULL THEN
		RAISE EXCEPTION 'redis view "%" is not built yet', view
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'See geoshard.redisview_status for its state.';
	END IF;
	RETURN QUERY
		SELECT k, format('GEOSEARCH %s FROMLONLAT %s %s BYRADIUS %s m ASC WITHCOORD WITHDIST', k, lon, lat, radius_m)
		FROM (SELECT format('geoshard:rv:%s:%s:%s', v.name, g, c::text) AS k
			  FROM @extschema@.quadkey_cover(lat, lon, radius_m, v.shard_level) c) keys
		ORDER BY k;
END;
$$;
COMMENT ON FUNCTION geoshard.redis_view_search(text, float8, float8, float8) IS
	'the Redis GEO keys of a geo view that a circle touches, and the GEOSEARCH command to run on each';
REVOKE ALL ON FUNCTION geoshard.redis_view_search(text, float8, float8, float8) FROM PUBLIC;

-- ===== raft =====

-- The members of the group as its committed configuration names them; written
-- only by the raft worker when it applies log entries, identical on every node.
CREATE TABLE geoshard.nodes (
	id bigint PRIMARY KEY CHECK (id > 0),
	name text NOT NULL UNIQUE CHECK (name <> ''),
	conninfo text NOT NULL,
	role text NOT NULL CHECK (role IN ('voter', 'standby', 'spare'))
);
COMMENT ON TABLE geoshard.nodes IS
	'members of the Raft group (id = geoshard.node_id), written by the raft worker from committed log entries (docs/raft.md)';

-- This node's durable Raft state: one row once the node bootstraps or joins a
-- group.  term and voted_for are made durable (synchronous commit) before any
-- message that depends on them is sent; applied_index moves in the same
-- transaction as the change it applies.
CREATE TABLE geoshard.raft_state (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	cluster_id uuid NOT NULL,
	node_id bigint NOT NULL CHECK (node_id > 0),
	term bigint NOT NULL DEFAULT 0 CHECK (term >= 0),
	voted_for bigint NOT NULL DEFAULT 0 CHECK (voted_for >= 0),
	applied_index bigint NOT NULL DEFAULT 0 CHECK (applied_index >= 0),
	snapshot_index bigint NOT NULL DEFAULT 0 CHECK (snapshot_index >= 0),
	snapshot_term bigint NOT NULL DEFAULT 0 CHECK (snapshot_term >= 0),
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE geoshard.raft_state IS
	'this node''s durable Raft state: cluster id, current term, vote, applied index and the last snapshot''s index (docs/raft.md)';

-- The Raft log from the entry after the last snapshot.  type: 'command'
-- (payload: a replicated command), 'barrier' (empty), 'change' (payload:
-- libraft's encoding of a membership configuration).
CREATE TABLE geoshard.raft_log (
	index bigint PRIMARY KEY CHECK (index > 0),
	term bigint NOT NULL CHECK (term > 0),
	type text NOT NULL CHECK (type IN ('command', 'barrier', 'change')),
	payload bytea NOT NULL
);
COMMENT ON TABLE geoshard.raft_log IS
	'this node''s Raft log entries: index, term, type and payload (docs/raft.md)';

-- Snapshots of the replicated tables at an applied index, kept or received in
-- chunks; complete once every chunk is stored.  The log is truncated behind
-- the newest complete one.
CREATE TABLE geoshard.raft_snapshots (
	index bigint PRIMARY KEY CHECK (index > 0),
	term bigint NOT NULL CHECK (term > 0),
	configuration bytea NOT NULL,
	configuration_index bigint NOT NULL CHECK (configuration_index > 0),
	size bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
	complete boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE geoshard.raft_snapshots IS
	'snapshots of the replicated tables: last included index and term, membership configuration, completeness (docs/raft.md)';

CREATE TABLE geoshard.raft_snapshot_chunks (
	index bigint NOT NULL REFERENCES geoshard.raft_snapshots ON DELETE CASCADE,
	"offset" bigint NOT NULL CHECK ("offset" >= 0),
	data bytea NOT NULL,
	PRIMARY KEY (index, "offset")
);
COMMENT ON TABLE geoshard.raft_snapshot_chunks IS
	'the data of geoshard.raft_snapshots, chunk by chunk at byte offsets (docs/raft.md)';

-- Replicated key/values that other areas read; on a node in a group they
-- change only through geoshard.raft_set_setting (the log), identically on
-- every node.
CREATE TABLE geoshard.settings (
	key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]{0,62}$'),
	value text NOT NULL,
	raft_index bigint NOT NULL DEFAULT 0 CHECK (raft_index >= 0)
);
COMMENT ON TABLE geoshard.settings IS
	'replicated settings (key, value, index of the log entry that last set it), written through geoshard.raft_set_setting (docs/raft.md)';
SELECT pg_catalog.pg_extension_config_dump('geoshard.settings', '');

-- On a node in a group, only the raft worker writes the replicated tables.
CREATE FUNCTION geoshard.raft_guard_dml() RETURNS trigger
	AS 'MODULE_PATHNAME', 'raft_guard_dml' LANGUAGE C;
COMMENT ON FUNCTION geoshard.raft_guard_dml() IS
	'trigger: refuses direct writes to a replicated table on a node in a raft group (the raft worker applies the log)';
REVOKE ALL ON FUNCTION geoshard.raft_guard_dml() FROM PUBLIC;
CREATE TRIGGER raft_guard
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.settings
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.raft_guard_dml();
ALTER TABLE geoshard.settings ENABLE ALWAYS TRIGGER raft_guard;
CREATE TRIGGER raft_guard
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.nodes
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.raft_guard_dml();
ALTER TABLE geoshard.nodes ENABLE ALWAYS TRIGGER raft_guard;

-- Peers call this on each other over libpq; only the role the operator grants
-- it to (docs/raft.md: geoshard_raft) may.
CREATE FUNCTION geoshard.raft_receive(messages bytea)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'raft_receive'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_receive(bytea) IS
	'validate a batch of Raft messages from a peer and queue it for the local raft worker; false when the queue is full (docs/raft.md)';
REVOKE ALL ON FUNCTION geoshard.raft_receive(bytea) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_bootstrap(name text, conninfo text)
	RETURNS uuid
	AS 'MODULE_PATHNAME', 'geoshard_raft_bootstrap'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_bootstrap(text, text) IS
	'create a Raft group with this node (geoshard.node_id) as its only voter, reachable at conninfo; returns the new cluster id';
REVOKE ALL ON FUNCTION geoshard.raft_bootstrap(text, text) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_join(cluster_id uuid)
	RETURNS void
	AS 'MODULE_PATHNAME', 'raft_join'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_join(uuid) IS
	'prepare this node to join the Raft group with the given cluster id; then call raft_add_node on its leader';
REVOKE ALL ON FUNCTION geoshard.raft_join(uuid) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_add_node(id bigint, name text, conninfo text)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'raft_add_node'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_add_node(bigint, text, text) IS
	'on the leader: add a node through the log as a standby, then promote it to voter once caught up; returns the index of the promotion';
REVOKE ALL ON FUNCTION geoshard.raft_add_node(bigint, text, text) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_remove_node(id bigint)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'raft_remove_node'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_remove_node(bigint) IS
	'on the leader: remove a member from the group through the log; returns the index of the committed change';
REVOKE ALL ON FUNCTION geoshard.raft_remove_node(bigint) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_transfer_leadership(id bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'raft_transfer_leadership'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_transfer_leadership(bigint) IS
	'on the leader: hand the leadership to another voter; returns once this node sees it lead';
REVOKE ALL ON FUNCTION geoshard.raft_transfer_leadership(bigint) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_set_setting(key text, value text)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'raft_set_setting'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_set_setting(text, text) IS
	'on the leader: set (value NULL: delete) a replicated setting through the log; returns once committed and applied here, with the entry''s index';
REVOKE ALL ON FUNCTION geoshard.raft_set_setting(text, text) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_status_state(OUT node bigint, OUT role text, OUT term bigint,
										   OUT leader bigint, OUT commit_index bigint,
										   OUT applied_index bigint, OUT last_index bigint,
										   OUT cluster_id uuid, OUT last_contact timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'raft_status_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_status_state() IS
	'this node''s Raft state as the raft worker publishes it in shared memory (behind the view raft_status)';
REVOKE ALL ON FUNCTION geoshard.raft_status_state() FROM PUBLIC;

CREATE VIEW geoshard.raft_status AS
	SELECT * FROM geoshard.raft_status_state();
COMMENT ON VIEW geoshard.raft_status IS
	'one row when this node is in a Raft group: node, role (leader, follower, candidate), term, leader, commit and applied index, last contact';

CREATE FUNCTION geoshard.raft_peers_state(OUT node bigint, OUT connected boolean,
										  OUT match_index bigint, OUT lag bigint,
										  OUT last_rtt_ms float8, OUT last_contact timestamptz,
										  OUT last_error text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'raft_peers_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_peers_state() IS
	'the raft worker''s connections to its peers, from shared memory (behind the view raft_peers)';
REVOKE ALL ON FUNCTION geoshard.raft_peers_state() FROM PUBLIC;

CREATE VIEW geoshard.raft_peers AS
	SELECT p.node, n.name, p.connected, p.match_index, p.lag, p.last_rtt_ms, p.last_contact, p.last_error
	FROM geoshard.raft_peers_state() p LEFT JOIN geoshard.nodes n ON n.id = p.node;
COMMENT ON VIEW geoshard.raft_peers IS
	'one row per peer of this node: connected, match index and lag (known on the leader), last round trip, last contact, last error';

-- ===== observe =====

-- Every metric of every area, from shared memory: the figures /metrics serves.
-- Executable by PUBLIC (behind the view): counts, breaker states and region
-- ids, which route_region shows to anyone; no endpoint, password or address.
CREATE FUNCTION geoshard.metrics_values(OUT name text, OUT labels jsonb, OUT type text,
										OUT value float8, OUT help text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'metrics_values'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.metrics_values() IS
	'every geoshard metric sample from shared memory (name, labels, type, value, help), as /metrics serves them';

CREATE VIEW geoshard.metrics AS
	SELECT * FROM geoshard.metrics_values();
COMMENT ON VIEW geoshard.metrics IS
	'geoshard''s metrics in SQL: one row per sample, named as on the Prometheus endpoint (docs/observe.md)';
GRANT SELECT ON geoshard.metrics TO PUBLIC;
