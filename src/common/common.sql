/* geoshard install script, assembled by the Makefile from src/<area>/<area>.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION geoshard" to load this file. \quit

-- Catalogue tables and administrative functions live here; types and query
-- functions live in the extension's own schema (default public).
CREATE SCHEMA geoshard;

CREATE FUNCTION geoshard.is_preloaded() RETURNS boolean
	AS 'MODULE_PATHNAME', 'geoshard_is_preloaded'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION geoshard.is_preloaded() IS
	'true when geoshard was loaded through shared_preload_libraries (shared memory and workers available)';
