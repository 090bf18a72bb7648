-- test/bench/ratelimit_setup.sql: the ratelimit benchmark's database: geoshard
-- and the PL/pgSQL peer, a token bucket per key in an unlogged table (the
-- state is no more durable than geoshard's shared memory or Redis without
-- persistence).
CREATE EXTENSION geoshard;

CREATE UNLOGGED TABLE token_buckets (
	key text PRIMARY KEY,
	tokens float8 NOT NULL,
	updated timestamptz NOT NULL,
	allowed boolean NOT NULL
);

-- One upsert per decision: refill by the time passed, take one token if there is one.
CREATE FUNCTION plpgsql_rate_limit(k text, per_second float8, burst int) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	now timestamptz := clock_timestamp();
	ok boolean;
BEGIN
	INSERT INTO token_buckets AS b VALUES (k, burst - 1, now, true)
	ON CONFLICT (key) DO UPDATE SET
		tokens = least(burst, b.tokens + extract(epoch FROM now - b.updated) * per_second)
				 - CASE WHEN least(burst, b.tokens + extract(epoch FROM now - b.updated) * per_second) >= 1
						THEN 1 ELSE 0 END,
		allowed = least(burst, b.tokens + extract(epoch FROM now - b.updated) * per_second) >= 1,
		updated = now
	RETURNING allowed INTO ok;
	RETURN ok;
END
$$;
