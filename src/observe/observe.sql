
-- ===== observe: metrics (docs/observe.md) =====

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
