/* geoshard install script, assembled by the Makefile from src/<area>/<area>.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION geoshard" to load this file. \quit

-- Catalogue tables and administrative functions live in schema geoshard, which
-- the extension creates and owns; types and query functions live in the
-- extension's own schema (default public).  Refuse clearly what cannot work,
-- before anything is created.
DO $$
BEGIN
	IF '@extschema@' = 'geoshard' THEN
		RAISE EXCEPTION 'geoshard cannot be installed into schema "geoshard"'
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Schema "geoshard" holds the extension''s catalogue and administrative functions.',
				  HINT = 'Install the types and query functions into another schema, for example CREATE EXTENSION geoshard SCHEMA geo.';
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'geoshard') THEN
		RAISE EXCEPTION 'schema "geoshard" already exists'
			USING ERRCODE = 'duplicate_schema',
				  DETAIL = 'CREATE EXTENSION geoshard creates schema "geoshard" for its catalogue and must own it.',
				  HINT = 'Rename or drop the existing schema "geoshard" first.';
	END IF;
END
$$;

CREATE SCHEMA geoshard;

CREATE FUNCTION geoshard.is_preloaded() RETURNS boolean
	AS 'MODULE_PATHNAME', 'geoshard_is_preloaded'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION geoshard.is_preloaded() IS
	'true when geoshard was loaded through shared_preload_libraries (shared memory and workers available)';
