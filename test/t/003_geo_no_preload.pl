# Proves that geoshard's types and query functions work without
# shared_preload_libraries, and that every session sees shard map changes
# made by another session at its next statement (cache invalidation).
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('plain');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION geoshard');
is($node->safe_psql('postgres', 'SELECT geoshard.is_preloaded()'),
	'f', 'not preloaded');
is($node->safe_psql('postgres', q{SELECT quadkey(47.6, -122.3, 8)}),
	'02123003', 'quadkey works without preload');
is( $node->safe_psql(
		'postgres', q{
		CREATE TABLE p AS SELECT g AS id, 47 + g / 1000.0 AS lat, -122.0 AS lon FROM generate_series(1, 1000) g;
		ALTER TABLE p ADD qk quadkey GENERATED ALWAYS AS (quadkey(lat, lon, 20)) STORED;
		CREATE INDEX ON p USING gist (qk);
		SELECT count(*) FROM p WHERE quadkey_dwithin(qk, 47.5, -122, 1000) AND haversine(lat, lon, 47.5, -122) <= 1000}),
	'17', 'radius query works without preload');

# A session that has the shard map cached sees another session's changes.
$node->safe_psql('postgres', q{INSERT INTO geoshard.shards VALUES ('0', 'a'), ('1', 'b')});
my $reader = $node->background_psql('postgres');
is($reader->query_safe(q{SELECT shard_for('0123')}), 'a', 'reader caches the map');

$node->safe_psql('postgres', q{SELECT geoshard.split_shard('0'); UPDATE geoshard.shards SET node = 'c' WHERE prefix = '01'});
is($reader->query_safe(q{SELECT shard_for('0123')}), 'c', 'reader sees a split and a move');

# An open transaction of the writer stays invisible until commit.
my $writer = $node->background_psql('postgres');
$writer->query_safe(q{BEGIN; DELETE FROM geoshard.shards WHERE prefix = '01'});
is($reader->query_safe(q{SELECT shard_for('0123')}), 'c', 'uncommitted delete not seen');
is($writer->query_safe(q{SELECT coalesce(shard_for('0123'), 'none')}), 'none',
	'writer sees its own change');
$writer->query_safe('COMMIT');
is($reader->query_safe(q{SELECT coalesce(shard_for('0123'), 'none')}), 'none',
	'committed delete seen');

# A repeatable-read transaction does not pin an old map into the cache.
$node->safe_psql('postgres', q{UPDATE geoshard.shards SET node = 'd' WHERE prefix = '02'});
$reader->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$reader->query_safe('SELECT 1');
$node->safe_psql('postgres', q{UPDATE geoshard.shards SET node = 'e' WHERE prefix = '02'});
is($reader->query_safe(q{SELECT shard_for('0213')}), 'e', 'map read with the latest snapshot');
$reader->query_safe('COMMIT');
is($reader->query_safe(q{SELECT shard_for('0213')}), 'e', 'and still right after the transaction');

# Dropping and re-creating the extension does not leave a stale cache behind.
$node->safe_psql('postgres', q{DROP EXTENSION geoshard CASCADE; CREATE EXTENSION geoshard; INSERT INTO geoshard.shards VALUES ('', 'world')});
is($reader->query_safe(q{SELECT shard_for('0123')}), 'world', 'cache follows a re-created extension');

$reader->quit;
$writer->quit;
$node->stop;
done_testing();
