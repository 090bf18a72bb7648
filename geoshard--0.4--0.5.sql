/* geoshard upgrade script: 0.4 to 0.5 (ALTER EXTENSION geoshard UPDATE TO '0.5') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION geoshard UPDATE TO '0.5'" to load this file. \quit

-- Every change to the objects since 0.4, area by area, in the order of the
-- install script.  A fresh 0.5 install and an upgraded 0.1 to 0.4 install
-- must end up with the same objects: test/t/008_release_upgrade.pl compares them.

-- ===== geo =====

-- ===== routing =====

-- ===== health =====

-- ===== cdc =====

-- ===== ratelimit =====

-- ===== redisview =====

-- ===== raft =====

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
