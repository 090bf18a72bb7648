
-- ===== cdc: change data capture =====

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
