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

-- ===== observe =====
