
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

-- retained_wal_bytes: the WAL the views' slot keeps on disk (one slot for
-- every view), what a Redis outage costs the database.
CREATE VIEW geoshard.redisview_status AS
	SELECT s.*,
		   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.restart_lsn)::int8 AS retained_wal_bytes
	FROM geoshard.redisview_state() s
	LEFT JOIN pg_catalog.pg_replication_slots r ON r.slot_name = 'geoshard_redisview';
COMMENT ON VIEW geoshard.redisview_status IS
	'one row per Redis view: state, live generation, lag (bytes, ms), rows/s, rows held, build progress, last error, retained WAL';
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
