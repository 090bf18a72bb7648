/* geoshard upgrade script: 0.4 to 0.5 (ALTER EXTENSION geoshard UPDATE TO '0.5') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION geoshard UPDATE TO '0.5'" to load this file. \quit

-- Every change to the objects since 0.4, area by area, in the order of the
-- install script.  A fresh 0.5 install and an upgraded 0.1 to 0.4 install
-- must end up with the same objects: test/t/008_release_upgrade.pl compares them.

-- ===== geo =====

-- on a node in a raft group, the shard functions propose their call through
-- the log (docs/raft.md)
CREATE OR REPLACE FUNCTION geoshard.split_shard(prefix quadkey) RETURNS SETOF quadkey
	LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	owner text;
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('split_shard', ARRAY[$1::text]); RETURN QUERY SELECT @extschema@.quadkey_children($1); RETURN; END IF;
	LOCK TABLE geoshard.shards IN SHARE ROW EXCLUSIVE MODE;
	DELETE FROM geoshard.shards s WHERE s.prefix OPERATOR(@extschema@.=) split_shard.prefix
		RETURNING s.node INTO owner;
	IF owner IS NULL THEN
		RAISE EXCEPTION 'shard "%" does not exist', split_shard.prefix
			USING ERRCODE = 'undefined_object',
				  HINT = 'List shards with: SELECT * FROM geoshard.shards.';
	END IF;
	IF @extschema@.quadkey_level(split_shard.prefix) >= 29 THEN
		RAISE EXCEPTION 'cannot split shard "%" at the maximum level 29', split_shard.prefix
			USING ERRCODE = 'program_limit_exceeded';
	END IF;
	RETURN QUERY
		INSERT INTO geoshard.shards (prefix, node)
		SELECT c, owner FROM @extschema@.quadkey_children(split_shard.prefix) AS c
		RETURNING shards.prefix;
END
$$;

CREATE OR REPLACE FUNCTION geoshard.merge_shard(prefix quadkey) RETURNS quadkey
	LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	children int;
	owners text[];
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('merge_shard', ARRAY[$1::text]); RETURN $1; END IF;
	LOCK TABLE geoshard.shards IN SHARE ROW EXCLUSIVE MODE;
	IF @extschema@.quadkey_level(merge_shard.prefix) >= 29 THEN
		RAISE EXCEPTION 'shard "%" at the maximum level 29 has no children to merge', merge_shard.prefix
			USING ERRCODE = 'program_limit_exceeded';
	END IF;
	SELECT count(*), array_agg(DISTINCT s.node ORDER BY s.node) INTO children, owners
	FROM geoshard.shards s
	WHERE s.prefix OPERATOR(@extschema@.=) ANY (ARRAY(SELECT @extschema@.quadkey_children(merge_shard.prefix)));
	IF children <> 4 THEN
		RAISE EXCEPTION 'cannot merge shard "%"', merge_shard.prefix
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('Only %s of its 4 children are shards.', children),
				  HINT = 'Merge or create the children first.';
	END IF;
	IF cardinality(owners) <> 1 THEN
		RAISE EXCEPTION 'cannot merge shard "%"', merge_shard.prefix
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('Its children live on different nodes: %s.', array_to_string(owners, ', ')),
				  HINT = 'Move the children to one node first.';
	END IF;
	DELETE FROM geoshard.shards s
	WHERE s.prefix OPERATOR(@extschema@.<@) merge_shard.prefix;
	INSERT INTO geoshard.shards (prefix, node) VALUES (merge_shard.prefix, owners[1]);
	RETURN merge_shard.prefix;
END
$$;

-- One shard more: a prefix that overlaps no other shard, on a node.
CREATE FUNCTION geoshard.add_shard(prefix quadkey, node text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	other @extschema@.quadkey;
BEGIN
	IF add_shard.prefix IS NULL OR add_shard.node IS NULL THEN
		RAISE EXCEPTION 'shard prefix and node must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF add_shard.node = '' THEN
		RAISE EXCEPTION 'shard "%" needs a node name', add_shard.prefix
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF geoshard.raft_proposing() THEN
		PERFORM geoshard.raft_propose_call('add_shard', ARRAY[add_shard.prefix::text, add_shard.node]);
		RETURN;
	END IF;
	LOCK TABLE geoshard.shards IN SHARE ROW EXCLUSIVE MODE;
	SELECT s.prefix INTO other FROM geoshard.shards s
	WHERE s.prefix OPERATOR(@extschema@.&&) add_shard.prefix
	ORDER BY s.prefix LIMIT 1;
	IF other OPERATOR(@extschema@.=) add_shard.prefix THEN
		RAISE EXCEPTION 'shard "%" already exists', add_shard.prefix
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Remove it first with geoshard.remove_shard().';
	END IF;
	IF other IS NOT NULL THEN
		RAISE EXCEPTION 'shard "%" overlaps shard "%"', add_shard.prefix, other
			USING ERRCODE = 'exclusion_violation',
				  DETAIL = 'Shard prefixes never overlap.',
				  HINT = 'Split, merge or remove the other shard first.';
	END IF;
	INSERT INTO geoshard.shards (prefix, node) VALUES (add_shard.prefix, add_shard.node);
END
$$;
COMMENT ON FUNCTION geoshard.add_shard(quadkey, text) IS
	'add a shard: a quadkey prefix overlapping no other, owned by node';

CREATE FUNCTION geoshard.remove_shard(prefix quadkey) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF remove_shard.prefix IS NULL THEN
		RAISE EXCEPTION 'shard prefix must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF geoshard.raft_proposing() THEN
		PERFORM geoshard.raft_propose_call('remove_shard', ARRAY[remove_shard.prefix::text]);
		RETURN;
	END IF;
	DELETE FROM geoshard.shards s WHERE s.prefix OPERATOR(@extschema@.=) remove_shard.prefix;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'shard "%" does not exist', remove_shard.prefix
			USING ERRCODE = 'undefined_object',
				  HINT = 'List shards with: SELECT * FROM geoshard.shards.';
	END IF;
END
$$;
COMMENT ON FUNCTION geoshard.remove_shard(quadkey) IS
	'remove a shard from the shard map';

REVOKE ALL ON FUNCTION geoshard.add_shard(quadkey, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION geoshard.remove_shard(quadkey) FROM PUBLIC;

-- ===== routing =====

-- on a node in a raft group, the catalogue functions propose their call
-- through the log (docs/raft.md)
CREATE OR REPLACE FUNCTION geoshard.add_region(id text, lat float8, lon float8,
									name text DEFAULT NULL,
									endpoint text DEFAULT NULL,
									cost float8 DEFAULT 1,
									capacity float8 DEFAULT 1,
									load float8 DEFAULT 0,
									enabled boolean DEFAULT true,
									probe_status int4 DEFAULT NULL,
									probe_body text DEFAULT NULL)
	RETURNS geoshard.regions
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET extra_float_digits = 3
AS $$
DECLARE
	result geoshard.regions;
	new_status int4 := nullif(add_region.probe_status, 0);
	new_body text := nullif(add_region.probe_body, '');
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('add_region', ARRAY[$1, $2::text, $3::text, $4, $5, $6::text, $7::text, $8::text, $9::text, $10::text, $11]); SELECT r.* INTO result FROM geoshard.regions r WHERE r.id = $1; RETURN result; END IF;
	IF add_region.id IS NULL OR add_region.lat IS NULL OR add_region.lon IS NULL THEN
		RAISE EXCEPTION 'region id, latitude and longitude must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF add_region.id !~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid region id: "%"', add_region.id
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A region id has 1 to 63 letters, digits, ".", "_", ":" or "-", and starts with a letter or digit.';
	END IF;
	PERFORM geoshard.check_region_location(add_region.lat, add_region.lon);
	PERFORM geoshard.check_region_probe(add_region.id, add_region.endpoint, new_status, new_body);
	IF EXISTS (SELECT FROM geoshard.regions r WHERE r.id = add_region.id) THEN
		RAISE EXCEPTION 'region "%" already exists', add_region.id
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Change it with geoshard.update_region().';
	END IF;
	INSERT INTO geoshard.regions AS r (id, name, lat, lon, endpoint, cost, capacity, load, enabled,
									   probe_status, probe_body)
	VALUES (add_region.id, add_region.name, add_region.lat, add_region.lon, add_region.endpoint,
			coalesce(add_region.cost, 1), coalesce(add_region.capacity, 1),
			coalesce(add_region.load, 0), coalesce(add_region.enabled, true),
			new_status, new_body)
	RETURNING r.* INTO result;
	RETURN result;
END
$$;

CREATE OR REPLACE FUNCTION geoshard.update_region(id text,
									   name text DEFAULT NULL,
									   lat float8 DEFAULT NULL,
									   lon float8 DEFAULT NULL,
									   endpoint text DEFAULT NULL,
									   cost float8 DEFAULT NULL,
									   capacity float8 DEFAULT NULL,
									   load float8 DEFAULT NULL,
									   enabled boolean DEFAULT NULL,
									   probe_status int4 DEFAULT NULL,
									   probe_body text DEFAULT NULL)
	RETURNS geoshard.regions
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET extra_float_digits = 3
AS $$
DECLARE
	result geoshard.regions;
	cur geoshard.regions;
	new_status int4;
	new_body text;
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('update_region', ARRAY[$1, $2, $3::text, $4::text, $5, $6::text, $7::text, $8::text, $9::text, $10::text, $11]); SELECT r.* INTO result FROM geoshard.regions r WHERE r.id = $1; RETURN result; END IF;
	PERFORM geoshard.check_region_location(update_region.lat, update_region.lon);
	SELECT r.* INTO cur FROM geoshard.regions r WHERE r.id = update_region.id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(update_region.id);
	END IF;
	new_status := CASE WHEN update_region.probe_status IS NULL THEN cur.probe_status
					   ELSE nullif(update_region.probe_status, 0) END;
	new_body := CASE WHEN update_region.probe_body IS NULL THEN cur.probe_body
					 ELSE nullif(update_region.probe_body, '') END;
	PERFORM geoshard.check_region_probe(update_region.id,
										coalesce(update_region.endpoint, cur.endpoint),
										new_status, new_body);
	UPDATE geoshard.regions r SET
		name = coalesce(update_region.name, r.name),
		lat = coalesce(update_region.lat, r.lat),
		lon = coalesce(update_region.lon, r.lon),
		endpoint = coalesce(update_region.endpoint, r.endpoint),
		cost = coalesce(update_region.cost, r.cost),
		capacity = coalesce(update_region.capacity, r.capacity),
		load = coalesce(update_region.load, r.load),
		enabled = coalesce(update_region.enabled, r.enabled),
		probe_status = new_status,
		probe_body = new_body
	WHERE r.id = update_region.id
	RETURNING r.* INTO result;
	RETURN result;
END
$$;

CREATE OR REPLACE FUNCTION geoshard.remove_region(id text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('remove_region', ARRAY[$1]); RETURN; END IF;
	DELETE FROM geoshard.regions r WHERE r.id = remove_region.id;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(remove_region.id);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION geoshard.drain_region(id text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('drain_region', ARRAY[$1]); RETURN; END IF;
	UPDATE geoshard.regions r SET drained = true WHERE r.id = drain_region.id;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(drain_region.id);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION geoshard.undrain_region(id text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('undrain_region', ARRAY[$1]); RETURN; END IF;
	UPDATE geoshard.regions r SET drained = false WHERE r.id = undrain_region.id;
	IF NOT FOUND THEN
		PERFORM geoshard.raise_unknown_region(undrain_region.id);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION geoshard.add_geo_fence(name text, countries text[], regions text[])
	RETURNS geoshard.geo_fences
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result geoshard.geo_fences;
	unknown text[];
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('add_geo_fence', ARRAY[$1, $2::text, $3::text]); SELECT f.* INTO result FROM geoshard.geo_fences f WHERE f.name = $1; RETURN result; END IF;
	IF add_geo_fence.name IS NULL OR add_geo_fence.countries IS NULL OR add_geo_fence.regions IS NULL THEN
		RAISE EXCEPTION 'geo-fence name, countries and regions must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF cardinality(add_geo_fence.countries) = 0 OR cardinality(add_geo_fence.regions) = 0 THEN
		RAISE EXCEPTION 'geo-fence "%" needs at least one country and one region', add_geo_fence.name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT FROM geoshard.geo_fences f WHERE f.name = add_geo_fence.name) THEN
		RAISE EXCEPTION 'geo-fence "%" already exists', add_geo_fence.name
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Remove it first with geoshard.remove_geo_fence().';
	END IF;
	SELECT array_agg(r ORDER BY r) INTO unknown
	FROM unnest(add_geo_fence.regions) r
	WHERE NOT EXISTS (SELECT FROM geoshard.regions g WHERE g.id = r);
	IF unknown IS NOT NULL THEN
		RAISE EXCEPTION 'geo-fence "%" names regions that do not exist: %',
				add_geo_fence.name, array_to_string(unknown, ', ', 'NULL')
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add the regions first with geoshard.add_region().';
	END IF;
	INSERT INTO geoshard.geo_fences AS f (name, countries, regions)
	VALUES (add_geo_fence.name,
			(SELECT array_agg(DISTINCT upper(c) ORDER BY upper(c)) FROM unnest(add_geo_fence.countries) c),
			(SELECT array_agg(DISTINCT r ORDER BY r) FROM unnest(add_geo_fence.regions) r))
	RETURNING f.* INTO result;
	RETURN result;
END
$$;

CREATE OR REPLACE FUNCTION geoshard.remove_geo_fence(name text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN IF geoshard.raft_proposing() THEN PERFORM geoshard.raft_propose_call('remove_geo_fence', ARRAY[$1]); RETURN; END IF;
	DELETE FROM geoshard.geo_fences f WHERE f.name = remove_geo_fence.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'geo-fence "%" does not exist', coalesce(remove_geo_fence.name, 'NULL')
			USING ERRCODE = 'undefined_object',
				  HINT = 'List geo-fences with: SELECT * FROM geoshard.geo_fences.';
	END IF;
END
$$;


-- ===== health =====

-- ===== cdc =====

-- ===== ratelimit =====

-- ===== redisview =====

-- redisview_status gains retained_wal_bytes (a view's columns change: drop and create)
DROP VIEW geoshard.redisview_status;
CREATE VIEW geoshard.redisview_status AS
	SELECT s.*,
		   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.restart_lsn)::int8 AS retained_wal_bytes
	FROM geoshard.redisview_state() s
	LEFT JOIN pg_catalog.pg_replication_slots r ON r.slot_name = 'geoshard_redisview';
COMMENT ON VIEW geoshard.redisview_status IS
	'one row per Redis view: state, live generation, lag (bytes, ms), rows/s, rows held, build progress, last error, retained WAL';
REVOKE ALL ON geoshard.redisview_status FROM PUBLIC;

-- ===== raft =====

-- The catalogue is replicated too: on a node in a group, its functions
-- (add_region, split_shard, add_shard, ...) propose calls through the log and
-- the raft worker applies them by running the same functions.
CREATE TRIGGER raft_guard
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.regions
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.raft_guard_dml();
ALTER TABLE geoshard.regions ENABLE ALWAYS TRIGGER raft_guard;
CREATE TRIGGER raft_guard
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.geo_fences
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.raft_guard_dml();
ALTER TABLE geoshard.geo_fences ENABLE ALWAYS TRIGGER raft_guard;
CREATE TRIGGER raft_guard
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON geoshard.shards
	FOR EACH STATEMENT EXECUTE FUNCTION geoshard.raft_guard_dml();
ALTER TABLE geoshard.shards ENABLE ALWAYS TRIGGER raft_guard;

CREATE FUNCTION geoshard.raft_proposing()
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'raft_proposing'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_proposing() IS
	'true when a catalogue function must propose its change through the raft log (a node in a group, outside the raft worker''s apply)';
REVOKE ALL ON FUNCTION geoshard.raft_proposing() FROM PUBLIC;

CREATE FUNCTION geoshard.raft_propose_call(call text, args text[])
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'raft_propose_call'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_propose_call(text, text[]) IS
	'propose a call of a catalogue function through the raft log; returns its index once applied here, or raises the error its apply raised';
REVOKE ALL ON FUNCTION geoshard.raft_propose_call(text, text[]) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_barrier()
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'geoshard_raft_barrier'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_barrier() IS
	'wait until this node applied everything the raft leader had committed when called (an empty entry through the log); returns its index';
REVOKE ALL ON FUNCTION geoshard.raft_barrier() FROM PUBLIC;

-- Followers call this on the leader to forward proposals; only the role of
-- the connection strings in geoshard.nodes (docs/raft.md: geoshard_raft) may.
CREATE FUNCTION geoshard.raft_forward(request bytea, OUT status text, OUT index bigint,
									  OUT leader bigint, OUT sqlstate text, OUT message text,
									  OUT detail text, OUT hint text)
	RETURNS record
	AS 'MODULE_PATHNAME', 'raft_forward'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_forward(bytea) IS
	'make a follower''s proposal on this node, the leader; answers ok or error (refused alike on every node) with the index, or not_leader (docs/raft.md)';
REVOKE ALL ON FUNCTION geoshard.raft_forward(bytea) FROM PUBLIC;

COMMENT ON FUNCTION geoshard.raft_add_node(bigint, text, text) IS
	'add a node through the log (forwarded to the leader) as a standby, then promote it to voter once caught up; returns the index of the promotion';
COMMENT ON FUNCTION geoshard.raft_remove_node(bigint) IS
	'remove a member from the group through the log (forwarded to the leader); returns the index of the committed change';
COMMENT ON FUNCTION geoshard.raft_set_setting(text, text) IS
	'set (value NULL: delete) a replicated setting through the log (forwarded to the leader); returns once committed and applied here, with the entry''s index';
COMMENT ON FUNCTION geoshard.raft_transfer_leadership(bigint) IS
	'hand the leadership to another voter (forwarded to the leader); returns once this node sees it lead';

-- raft snapshots (issue 13): raft_status shows the last snapshot's index and term
DROP VIEW geoshard.raft_status;
DROP FUNCTION geoshard.raft_status_state();
CREATE FUNCTION geoshard.raft_status_state(OUT node bigint, OUT role text, OUT term bigint,
										   OUT leader bigint, OUT commit_index bigint,
										   OUT applied_index bigint, OUT last_index bigint,
										   OUT cluster_id uuid, OUT last_contact timestamptz,
										   OUT snapshot_index bigint, OUT snapshot_term bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'raft_status_state'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_status_state() IS
	'this node''s Raft state as the raft worker publishes it in shared memory (behind the view raft_status)';
REVOKE ALL ON FUNCTION geoshard.raft_status_state() FROM PUBLIC;

CREATE VIEW geoshard.raft_status AS
	SELECT * FROM geoshard.raft_status_state();
COMMENT ON VIEW geoshard.raft_status IS
	'one row when this node is in a Raft group: node, role (leader, follower, candidate), term, leader, commit and applied index, last contact, last snapshot''s index and term';

-- ===== observe =====
