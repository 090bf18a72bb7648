
-- ===== ratelimit: GCRA rate limiting in shared memory (docs/ratelimit.md) =====

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
