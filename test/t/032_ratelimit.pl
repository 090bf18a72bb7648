# Proves what rate_limit() promises across backends (docs/ratelimit.md): 8
# backends hammering one key for a few seconds get burst + rate x T decisions
# allowed (between 95% and 100% of it, plus one), fractional rates refill in
# real time, a full table evicts the key closest to full first and an evicted
# key starts full, keys are per database, a restart forgets them, and without
# shared_preload_libraries the functions refuse with a hint.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('ratelimit');
$node->init;
# 64 keys: 16 partitions of 4, so that a few thousand keys fill it
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'geoshard'\ngeoshard.rate_limit_keys = 64\n"
	  . "geoshard.health_enabled = off\nmax_connections = 30\njit = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION geoshard');

# allowed decisions since start, over every key
sub allowed
{
	return $node->safe_psql('postgres', 'SELECT allowed FROM geoshard.rate_limit_usage');
}

# Hammer one key from 8 backends for $seconds; returns (allowed, elapsed wall seconds).
sub hammer
{
	my ($key, $rate, $burst, $seconds, $name) = @_;
	my $before = allowed();
	my $start = time();
	$node->pgbench(
		"--no-vacuum --client=8 --jobs=2 --time=$seconds",
		0,
		[qr{number of failed transactions: 0}],
		[qr{^$}],
		"$name: pgbench runs",
		{ "031_$key" => "SELECT rate_limit('$key', $rate, $burst);\n" });
	my $elapsed = time() - $start;
	return (allowed() - $before, $elapsed);
}

# 1. 8 backends, one key, 200/s with a burst of 100, for 5 s: the bound is
# 100 + 200 x 5 = 1100 decisions.  The upper bound uses the wall time around
# pgbench, which is longer than the decisions' window.
my ($allowed, $elapsed) = hammer('hammer', 200, 100, 5, 'one key');
my $bound = 100 + 200 * 5;
cmp_ok($allowed, '>=', 0.95 * $bound, "one key: $allowed allowed, at least 95% of $bound");
cmp_ok($allowed, '<=', 100 + 200 * $elapsed + 1,
	sprintf('one key: %d allowed, at most burst + rate x %.2f s + 1', $allowed, $elapsed));
cmp_ok($node->safe_psql('postgres', 'SELECT denied FROM geoshard.rate_limit_usage'),
	'>', $allowed, 'one key: more requests were refused than allowed (the key was saturated)');

# 2. A fractional rate: 1.5/s (one per 667 ms), burst 1, for 4 s: 1 + 6, or 6
# when the 6th refill falls just after pgbench stops.  A rate truncated to
# 1/s would give 5, one rounded up to 2/s 9.
($allowed, $elapsed) = hammer('fraction', 1.5, 1, 4, 'fractional rate');
cmp_ok($allowed, '>=', 1 + 6 - 1, "1.5/s: $allowed allowed, at least 1 + 6 - 1");
cmp_ok($allowed, '<=', 1 + 1.5 * $elapsed + 1,
	sprintf('1.5/s: %d allowed, at most 1 + 1.5 x %.2f s + 1', $allowed, $elapsed));

# 0.5/s: refused right after the burst, allowed again 2 s later
is($node->safe_psql('postgres', q{SELECT rate_limit('half', 0.5, 1)::text || rate_limit('half', 0.5, 1)::text}),
	'truefalse', '0.5/s, burst 1: the second request is refused');
my $refused_at = time();
like($node->safe_psql('postgres', q{SELECT retry_after FROM rate_limit_info('half', 0.5, 1)}),
	qr/^(1\.[5-9]|2$)/, 'and told to retry within 2 s');
ok($node->poll_query_until('postgres', q{SELECT rate_limit('half', 0.5, 1)}),
	'0.5/s: a request passes again');
my $waited = time() - $refused_at;
cmp_ok($waited, '>=', 1.5, sprintf('after %.2f s (2 s after the first)', $waited));

# 3. Eviction.  The table holds 64 keys; 'keeper' is emptied to a TAT 2000 s
# ahead.  2000 keys with a TAT 1000 s ahead evict each other, not the keeper:
# the entry with the oldest TAT goes first.
$node->safe_psql('postgres', q{SELECT rate_limit('keeper', 0.001, 2, 2)});
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE rate_limit('small' || g, 0.001, 1)) FROM generate_series(1, 2000) g}),
	'2000', 'new keys start full');
is($node->safe_psql('postgres', q{SELECT capacity, entries, active_keys FROM geoshard.rate_limit_usage}),
	'64|64|64', 'the table is full of keys that are not full');
cmp_ok($node->safe_psql('postgres', 'SELECT evictions FROM geoshard.rate_limit_usage'),
	'>=', 2000 - 64, 'and counts its evictions');
is($node->safe_psql('postgres', q{SELECT rate_limit('keeper', 0.001, 2)}),
	'f', 'the emptier keeper was not evicted by fuller keys');

# keys 10000 s ahead are emptier than the keeper: now it goes, and starts full
$node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE rate_limit('large' || g, 0.0001, 1)) FROM generate_series(1, 2000) g});
is($node->safe_psql('postgres', q{SELECT allowed, remaining FROM rate_limit_info('keeper', 0.001, 2)}),
	't|1', 'an evicted key starts full');

# entries of full keys are recycled without loss
my $recycled = $node->safe_psql('postgres', 'SELECT recycled FROM geoshard.rate_limit_usage');
$node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE rate_limit('fast' || g, 1e9, 1)) FROM generate_series(1, 200) g});
$node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE rate_limit('fast2-' || g, 1e9, 1)) FROM generate_series(1, 200) g});
cmp_ok($node->safe_psql('postgres', 'SELECT recycled FROM geoshard.rate_limit_usage'),
	'>', $recycled, 'entries of keys already full again are recycled');

# 4. Keys belong to their database.
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION geoshard');
is($node->safe_psql('postgres', q{SELECT rate_limit('per-db', 0.001, 1)}), 't', 'postgres: first request');
is($node->safe_psql('other', q{SELECT rate_limit('per-db', 0.001, 1)}), 't',
	'other database: the same key name is another key');
is($node->safe_psql('postgres', q{SELECT rate_limit('per-db', 0.001, 1)}), 'f', 'postgres: second request refused');

# 5. A restart forgets every key.
$node->restart;
is($node->safe_psql('postgres', q{SELECT rate_limit('per-db', 0.001, 1)}), 't', 'a restart forgets keys');
is($node->safe_psql('postgres', 'SELECT entries, evictions FROM geoshard.rate_limit_usage'),
	'1|0', 'and the counters');

# 6. Without shared_preload_libraries: a clear error.
my $plain = PostgreSQL::Test::Cluster->new('ratelimit_plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION geoshard');
my ($ret, $out, $err) = $plain->psql('postgres', "\\set VERBOSITY verbose\nSELECT rate_limit('k', 1, 1)");
isnt($ret, 0, 'not preloaded: rate_limit refuses');
like($err, qr/55000: geoshard is not loaded through shared_preload_libraries.*HINT:  Add geoshard to shared_preload_libraries/s,
	'and says why, with SQLSTATE 55000 and a hint');
($ret, $out, $err) = $plain->psql('postgres', 'SELECT * FROM geoshard.rate_limit_usage');
like($err, qr/geoshard is not loaded through shared_preload_libraries/, 'so does the usage view');

done_testing();
