/* geoshard upgrade script: 0.5 to 0.6 (ALTER EXTENSION geoshard UPDATE TO '0.6') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION geoshard UPDATE TO '0.6'" to load this file. \quit

-- Every change to the objects since 0.5, area by area, in the order of the
-- install script.  A fresh 0.6 install and an upgraded 0.1 to 0.5 install
-- must end up with the same objects: test/t/008_release_upgrade.pl compares them.

-- ===== geo =====

-- ===== routing =====

-- ===== health =====

-- ===== cdc =====

-- ===== ratelimit =====

-- ===== redisview =====

-- ===== raft =====

-- raft_receive that also returns this node's answer to the batch, so that a
-- round trip takes one call (docs/raft.md); granted like raft_receive.
CREATE FUNCTION geoshard.raft_exchange(messages bytea)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'raft_exchange'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION geoshard.raft_exchange(bytea) IS
	'as raft_receive, then wait (up to 50 ms) for the local raft worker''s answer to the batch and return it; NULL when the queue is full (docs/raft.md)';
REVOKE ALL ON FUNCTION geoshard.raft_exchange(bytea) FROM PUBLIC;

-- The roles that peers connect as may call it at once: each role that may
-- call raft_receive gets EXECUTE on raft_exchange too.  Until it has, its
-- peers go on calling raft_receive alone, one call each way.
DO $$
DECLARE
	grantee name;
BEGIN
	FOR grantee IN
		SELECT r.rolname
		FROM pg_catalog.pg_proc p, LATERAL pg_catalog.aclexplode(p.proacl) a,
			 pg_catalog.pg_roles r
		WHERE p.oid = 'geoshard.raft_receive(bytea)'::pg_catalog.regprocedure
		  AND a.privilege_type = 'EXECUTE' AND a.grantee = r.oid AND a.grantee <> p.proowner
	LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION geoshard.raft_exchange(bytea) TO %I',
								  grantee);
	END LOOP;
END
$$;

-- ===== observe =====
