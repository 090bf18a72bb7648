# Proves what CREATE EXTENSION geoshard promises about schemas, comments and
# privileges: the types and query functions can live in a schema of the
# user's choice (the catalogue stays in schema geoshard), the schemas that
# cannot work are refused with a clear error, every function, type, operator
# and view explains itself in \df+ and \dT+, and nothing administrative is
# executable by PUBLIC.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('install');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'geoshard'\ngeoshard.node_id = 1\njit = off\n");
$node->start;

sub fails_with
{
	my ($db, $sql, $expect, $name) = @_;
	my ($ret, $out, $err) = $node->psql($db, "\\set VERBOSITY verbose\n$sql");
	isnt($ret, 0, "$name: refused");
	like($err, $expect, "$name: says why");
}

# 1. Another schema for the types and query functions.
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE SCHEMA geo; CREATE EXTENSION geoshard SCHEMA geo');
is( $node->safe_psql(
		'other', q{
		SELECT n.nspname, count(*) FROM pg_depend d
		JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
		JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'geoshard')
		  AND n.nspname NOT IN ('geo', 'geoshard')
		GROUP BY 1}),
	'', 'every function is in schema geo or geoshard');
is( $node->safe_psql(
		'other', q{
		CREATE TABLE pins (id int PRIMARY KEY, lat float8, lon float8,
						   qk geo.quadkey GENERATED ALWAYS AS (geo.quadkey(lat, lon, 20)) STORED);
		CREATE INDEX ON pins USING gist (qk);
		INSERT INTO pins SELECT g, 47 + g / 1000.0, -122 FROM generate_series(1, 1000) g;
		INSERT INTO geoshard.shards VALUES ('0', 'a');
		CREATE TEMP TABLE s AS SELECT * FROM geoshard.split_shard('0');
		SELECT geoshard.add_region('r1', 47, -122);
		SET enable_seqscan = off;
		SELECT count(*) || ' ' || min(geo.shard_for(qk)) || ' ' || geo.route_region(47.1, -122.1)
		FROM pins WHERE geo.quadkey_dwithin(qk, 47.5, -122, 1000)}),
	"(r1,,47,-122,,1,1,0,t,f,,)\n19 a r1",
	'types, index, shard map and routing work from schema geo');

# 2. Schemas that cannot work are refused before anything is created.
$node->safe_psql('postgres', 'CREATE DATABASE refused');
$node->safe_psql('refused', 'CREATE SCHEMA geoshard');
fails_with('refused', 'CREATE EXTENSION geoshard SCHEMA geoshard',
	qr/0A000: geoshard cannot be installed into schema "geoshard".*HINT:  Install the types/s,
	'SCHEMA geoshard');
fails_with('refused', 'CREATE EXTENSION geoshard',
	qr/42P06: schema "geoshard" already exists.*HINT:  Rename or drop the existing schema/s,
	'a schema geoshard made beforehand');
is($node->safe_psql('refused', q{SELECT count(*) FROM pg_extension WHERE extname = 'geoshard'}),
	'0', 'nothing left behind');

# 3. Comments and privileges of a fresh install.
$node->safe_psql('postgres', 'CREATE EXTENSION geoshard');
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(pg_describe_object(classid, objid, 0), E'\n' ORDER BY 1)
		FROM pg_depend d
		WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
		  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'geoshard')
		  AND classid IN ('pg_proc'::regclass, 'pg_type'::regclass, 'pg_operator'::regclass, 'pg_class'::regclass)
		  AND obj_description(objid, classid::regclass::text) IS NULL
		  -- array types and table row types describe themselves
		  AND NOT (classid = 'pg_type'::regclass AND EXISTS (
				SELECT FROM pg_type t WHERE t.oid = objid AND (t.typelem <> 0 OR t.typrelid <> 0)))
		  -- tables are documented (and commented), indexes and sequences need not be
		  AND NOT (classid = 'pg_class'::regclass AND EXISTS (
				SELECT FROM pg_class c WHERE c.oid = objid AND c.relkind NOT IN ('v', 'm', 'r')))}),
	'', 'every function, type, operator, table and view has a comment');
like($node->safe_psql('postgres', q{SELECT obj_description(oid, 'pg_extension') FROM pg_extension WHERE extname = 'geoshard'}),
	qr/quadkey.*CRDT.*routing/, 'the extension comment describes the whole extension');

is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid::regprocedure::text)
		FROM pg_proc p
		WHERE p.pronamespace = 'geoshard'::regnamespace
		  AND has_function_privilege('public', p.oid, 'EXECUTE')}),
	# metrics_values() (behind the view metrics) shows counts, breaker
	# states and region ids, which route_region shows anyone: no endpoint,
	# address or password
	'geoshard.cdc_status_state(), geoshard.is_preloaded(), geoshard.metrics_values(), geoshard.region_health_state()',
	'of schema geoshard, only is_preloaded(), cdc_status_state(), metrics_values() and region_health_state() (behind the views cdc_status, metrics and region_health: no passwords) are executable by PUBLIC');
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY 1)
		FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
		WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'geoshard')
		  AND p.prosecdef
		  AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')}),
	'',
	'every SECURITY DEFINER function pins its search_path');

done_testing();
