# Proves that every supported release upgrades to the current version without
# losing data: for each release in test/upgrade/releases, a server running
# that release's own library (built from its commit) is filled through its API
# (test/upgrade/fill.sql), then the same data directory is started with the
# current library, as a user who installs new binaries does.  What users read
# back must not change, neither before nor after ALTER EXTENSION geoshard
# UPDATE, B-tree indexes must stay valid and index scans give the same rows,
# and the upgraded extension must have exactly the objects of a fresh install
# of the current version.
use strict;
use warnings FATAL => 'all';

use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $src = $ENV{GEOSHARD_SRC}
  or BAIL_OUT('GEOSHARD_SRC must name the source tree (test/run-tests.sh sets it)');

my ($current) = slurp_file("$src/geoshard.control") =~ /^default_version\s*=\s*'([^']+)'/m
  or BAIL_OUT('no default_version in geoshard.control');
my @releases = map { (split ' ')[0] } grep { /^\s*[^#\s]/ } split /\n/,
  slurp_file("$src/test/upgrade/releases");
ok(scalar @releases, 'at least one supported release to upgrade from');

my $fill = slurp_file("$src/test/upgrade/fill.sql");
my $preload = "shared_preload_libraries = 'geoshard'\ngeoshard.node_id = 1\njit = off\n";

# Rows of app.upgrade_observe that differ from app.upgrade_before, both ways.
my $diff_query = q{
	SELECT count(*) FROM (
		(SELECT * FROM app.upgrade_observe EXCEPT ALL SELECT * FROM app.upgrade_before)
		UNION ALL
		(SELECT * FROM app.upgrade_before EXCEPT ALL SELECT * FROM app.upgrade_observe)) d};
my $diff_sample = q{
	SELECT what, stored, derived FROM (
		(SELECT * FROM app.upgrade_observe EXCEPT ALL SELECT * FROM app.upgrade_before)
		UNION ALL
		(SELECT * FROM app.upgrade_before EXCEPT ALL SELECT * FROM app.upgrade_observe)) d
	ORDER BY what LIMIT 6};
my $index_scans = 'SET enable_seqscan = off; SET enable_bitmapscan = off;';

sub same_as_before
{
	my ($node, $what) = @_;
	my $n = $node->safe_psql('postgres', $diff_query);
	is($n, '0', "$what: every value reads back as before");
	diag($node->safe_psql('postgres', $diff_sample)) if $n ne '0';
	is( $node->safe_psql('postgres', $index_scans . $diff_query),
		'0', "$what: index scans give the same answers");
}

# The extension's objects as pg_dump describes them in binary-upgrade mode
# (which, unlike a plain dump, lists every member of an extension), minus
# object ids, the user's own schema, and the values of sequences dumped as
# configuration (health_events_id_seq): data, which the old server's health
# worker may have moved.
sub extension_objects
{
	my ($node, $db) = @_;
	my ($out, $err);
	my $ok = IPC::Run::run(
		[
			'pg_dump', '--schema-only', '--binary-upgrade', '--exclude-schema=app', '-d', $node->connstr($db)
		],
		'>', \$out, '2>', \$err);
	die "pg_dump failed: $err" unless $ok;
	# (sequence positions are data: the workers of the upgraded server may
	# have written rows, e.g. health_events, before the dump)
	my @lines = grep {
		!/binary_upgrade_|frozenxid|minmxid|^WHERE oid = '\d+'|^\\(un)?restrict |^-- Dumped (from|by)|^-- PostgreSQL database dump complete|^SET |^SELECT pg_catalog\.set_config|^SELECT pg_catalog\.setval\(/
	} split /\n/, $out;

	# Sorted entry by entry: pg_dump orders objects by dependencies, and the
	# filled database's own views (schema app, not dumped) pull the tables
	# they read ahead of others, which a fresh install has no reason to do.
	my ($head, @entries) = split /^(?=-- Name: )/m, join("\n", @lines) . "\n";
	s/(?:\n--\s*)+\z/\n/ for @entries;
	return join('', $head, sort @entries);
}

foreach my $release (@releases)
{
	next if $release eq $current;
	my $dir = "$PostgreSQL::Test::Utils::tmp_check/release-$release";
	my ($install, $err);
	IPC::Run::run([ "$src/test/upgrade/build-release.sh", $release, $dir ],
		'>', \$install, '2>', \$err)
	  or BAIL_OUT("could not build release $release: $err");
	chomp $install;

	# 1. A server of the release, filled through the release's API.
	my $old = PostgreSQL::Test::Cluster->new("v$release", install_path => $install);
	$old->init;
	$old->append_conf('postgresql.conf', $preload);
	$old->start;
	$old->safe_psql('postgres', 'CREATE EXTENSION geoshard');
	is($old->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'geoshard'}),
		$release, "release $release installed from its own files");
	$old->safe_psql('postgres', $fill);
	$old->safe_psql('postgres',
		'CREATE TABLE app.upgrade_before AS SELECT * FROM app.upgrade_observe');
	cmp_ok($old->safe_psql('postgres', 'SELECT count(*) FROM app.upgrade_before'),
		'>', 3000, "release $release: data in place");
	is($old->safe_psql('postgres', $index_scans . $diff_query),
		'0', "release $release: its index scans agree with its sequential scans");
	$old->stop;

	# 2. The same data directory under the current library.
	my $new = PostgreSQL::Test::Cluster->new("v${release}_upgraded");
	rename($old->data_dir, $new->data_dir)
	  or BAIL_OUT("could not move the data directory: $!");
	$new->append_conf('postgresql.conf', 'port = ' . $new->port);
	$new->start;
	same_as_before($new, "$release data under the new library");

	$new->safe_psql('postgres', 'ALTER EXTENSION geoshard UPDATE');
	is($new->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'geoshard'}),
		$current, "$release updated to $current");
	same_as_before($new, "$release updated to $current");

	$new->safe_psql('postgres', 'CREATE EXTENSION amcheck');
	# (bt_index_parent_check raises an error on the first broken index)
	cmp_ok(
		$new->safe_psql(
			'postgres', q{
			SELECT count(*) FROM (
				SELECT bt_index_parent_check(c.oid, true)
				FROM pg_class c JOIN pg_am a ON a.oid = c.relam
				WHERE c.relkind = 'i' AND a.amname = 'btree'
				  AND c.relnamespace IN ('app'::regnamespace, 'geoshard'::regnamespace)) s}),
		'>=', 7, "$release: B-tree indexes on geoshard types and catalogues verify");
	$new->safe_psql('postgres', 'DROP EXTENSION amcheck');

	# Old rows keep working with the new code: mutators, merges, catalogue edits.
	is( $new->safe_psql(
			'postgres', q{
			UPDATE app.pins SET likes = g_counter_inc(likes, 5), tags = or_set_add(tags, 'upgraded')
			WHERE id = 2;
			CREATE TEMP TABLE split AS SELECT * FROM geoshard.split_shard('1');
			SELECT crdt_value(likes) || ' ' || crdt_value(tags)::text || ' ' || shard_for(qk)
			FROM app.pins WHERE id = 2}),
		$new->safe_psql(
			'postgres', q{
			SELECT (crdt_value(b.likes) + 5) || ' '
				   || (SELECT array_agg(e ORDER BY e COLLATE "C")
					   FROM unnest(crdt_value(b.tags) || '{upgraded}'::text[]) e)::text
				   || ' ' || shard_for(b.qk)
			FROM (SELECT (string_to_array(stored, ' | '))[1]::quadkey AS qk,
						 (string_to_array(stored, ' | '))[4]::g_counter AS likes,
						 (string_to_array(stored, ' | '))[7]::or_set AS tags
				  FROM app.upgrade_before WHERE what = 'pin 2') b}),
		"$release: old values take new writes");

	# A remove made now (kept in the new causal context) wins over the old
	# state it came from, and an element added now survives a merge with it.
	is( $new->safe_psql(
			'postgres', q{
			SELECT crdt_value(crdt_merge(or_set_add(or_set_remove(tags, 'tag3'), 'new'), tags))
			FROM app.pins WHERE id = 3}),
		$new->safe_psql(
			'postgres', q{
			SELECT array_agg(e ORDER BY e COLLATE "C")
			FROM app.pins, unnest(crdt_value(tags) || '{new}'::text[]) e
			WHERE id = 3 AND e <> 'tag3'}),
		"$release: a new remove is not undone by the old state");

	# 3. The upgraded extension has exactly the objects of a fresh install.
	$new->safe_psql('postgres', 'CREATE DATABASE fresh');
	$new->safe_psql('fresh', 'CREATE EXTENSION geoshard');
	my $upgraded = extension_objects($new, 'postgres');
	my $fresh = extension_objects($new, 'fresh');
	like($fresh, qr/ALTER EXTENSION geoshard ADD FUNCTION/, 'the dump lists extension members');
	my $same = $upgraded eq $fresh;
	ok($same, "$release updated to $current has the objects of a fresh $current install");
	if (!$same)
	{
		my ($a, $b) = ("$dir/upgraded.sql", "$dir/fresh.sql");
		PostgreSQL::Test::Utils::append_to_file($a, $upgraded);
		PostgreSQL::Test::Utils::append_to_file($b, $fresh);
		my ($d) = ('');
		IPC::Run::run([ 'diff', '-u', $a, $b ], '>', \$d);
		diag(substr($d, 0, 6000));
	}
	$new->stop;
}

done_testing();
