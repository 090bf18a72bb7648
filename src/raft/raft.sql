
-- ===== raft: the consensus group's membership, durable state, log and replicated settings (docs/raft.md) =====

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

-- Peers call this on each other over libpq; only the role the operator grants
-- it to (docs/raft.md: geoshard_raft) may.
CREATE FUNCTION geoshard.raft_receive(messages bytea)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'raft_receive'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_receive(bytea) IS
	'validate a batch of Raft messages from a peer and queue it for the local raft worker; false when the queue is full (docs/raft.md)';
REVOKE ALL ON FUNCTION geoshard.raft_receive(bytea) FROM PUBLIC;

-- raft_receive that also returns this node's answer to the batch, so that a
-- round trip takes one call (docs/raft.md); granted like raft_receive.
CREATE FUNCTION geoshard.raft_exchange(messages bytea)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'raft_exchange'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_exchange(bytea) IS
	'as raft_receive, then wait (up to 50 ms) for the local raft worker''s answer to the batch and return it; NULL when the queue is full (docs/raft.md)';
REVOKE ALL ON FUNCTION geoshard.raft_exchange(bytea) FROM PUBLIC;

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
	'add a node through the log (forwarded to the leader) as a standby, then promote it to voter once caught up; returns the index of the promotion';
REVOKE ALL ON FUNCTION geoshard.raft_add_node(bigint, text, text) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_remove_node(id bigint)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'raft_remove_node'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_remove_node(bigint) IS
	'remove a member from the group through the log (forwarded to the leader); returns the index of the committed change';
REVOKE ALL ON FUNCTION geoshard.raft_remove_node(bigint) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_transfer_leadership(id bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'raft_transfer_leadership'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_transfer_leadership(bigint) IS
	'hand the leadership to another voter (forwarded to the leader); returns once this node sees it lead';
REVOKE ALL ON FUNCTION geoshard.raft_transfer_leadership(bigint) FROM PUBLIC;

CREATE FUNCTION geoshard.raft_set_setting(key text, value text)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'raft_set_setting'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION geoshard.raft_set_setting(text, text) IS
	'set (value NULL: delete) a replicated setting through the log (forwarded to the leader); returns once committed and applied here, with the entry''s index';
REVOKE ALL ON FUNCTION geoshard.raft_set_setting(text, text) FROM PUBLIC;

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
