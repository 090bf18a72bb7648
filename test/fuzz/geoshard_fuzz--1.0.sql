\echo Use "CREATE EXTENSION geoshard_fuzz" to load this file. \quit

CREATE FUNCTION geoshard_fuzz_recv(typ regtype, seeds bytea[], iterations int, seed int8,
								   OUT accepted int8, OUT rejected int8)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION geoshard_fuzz_recv(regtype, bytea[], int, int8) FROM PUBLIC;

CREATE FUNCTION geoshard_fuzz_raft(seeds bytea[], iterations int, seed int8,
								   OUT accepted int8, OUT rejected int8)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION geoshard_fuzz_raft(bytea[], int, int8) FROM PUBLIC;
