# Redis views (docs/redisview.md) against a real redis-server on a loopback
# port: bad definitions are refused; a geo view follows inserts, updates
# (also across shard keys) and deletes with no stale member; a hash view, a
# presence view whose keys expire, a counter; a reader polling Redis never
# sees half of a transaction that moves 100 pins; redis-server killed and
# restarted empty is noticed and every view rebuilt; the worker killed
# with SIGKILL in the middle of a stream of increments loses and doubles
# none.  After each scenario PostgreSQL's rows are compared with Redis's.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use RedisTest;

my $redis = RedisTest->new;

# one command's reply; an error reply ends the test
sub r
{
	my $reply = $redis->cmd(@_);
	die "redis error: $reply->{error}" if ref $reply eq 'HASH';
	return $reply;
}

# every key of a view's live generation
sub view_keys
{
	my ($view) = @_;
	my $gen = r('GET', "geoshard:rv:$view:gen");
	return () unless defined $gen;
	my ($cursor, @keys) = (0);
	do
	{
		my $res = r('SCAN', $cursor, 'MATCH', "geoshard:rv:$view:$gen:*", 'COUNT', 1000);
		$cursor = $res->[0];
		push @keys, @{ $res->[1] };
	} while ($cursor ne '0');
	return sort @keys;
}

my $node = PostgreSQL::Test::Cluster->new('redisview');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
output_plugin_libraries = 'pgoutput, test_decoding, geoshard'
geoshard.database = 'postgres'
geoshard.health_enabled = off
geoshard.redis_url = '@{[ $redis->url ]}'
geoshard.redis_timeout = 2000
geoshard.cdc_heartbeat_interval = 1000
# the worker is killed below: the postmaster restarts the backends
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION geoshard;
CREATE TABLE pins (id int PRIMARY KEY, lat float8, lon float8, name text);
CREATE TABLE tiles (id int PRIMARY KEY, quadkey quadkey);
CREATE TABLE nogeo (id int PRIMARY KEY, x int);
CREATE TABLE nokey (id int, lat float8, lon float8);
CREATE TABLE users (id int PRIMARY KEY, name text, city text, note text);
CREATE TABLE seen (user_id int PRIMARY KEY, status text);
CREATE TABLE votes (id int PRIMARY KEY, item text NOT NULL, n int NOT NULL DEFAULT 1);
});

# --- bad definitions are refused at write time, with their SQLSTATE
my @bad = (
	[ q{SELECT geoshard.add_redis_view('g', 'nogeo', 'geo')}, '42703', qr/no lat\/lon or quadkey columns/ ],
	[ q{SELECT geoshard.add_redis_view('g', 'pins', 'geo', '{"lat": "latitude"}')}, '42703', qr/column "latitude" does not exist/ ],
	[ q{SELECT geoshard.add_redis_view('g', 'pins', 'geo', '{"shard_level": 40}')}, '22023', qr/invalid option "shard_level"/ ],
	[ q{SELECT geoshard.add_redis_view('g', 'pins', 'geo', '{"colour": 1}')}, '22023', qr/unrecognized option for a geo redis view: "colour"/ ],
	[ q{SELECT geoshard.add_redis_view('g', 'pins', 'cube')}, '22023', qr/unrecognized redis view kind/ ],
	[ q{SELECT geoshard.add_redis_view('G!', 'pins', 'geo')}, '22023', qr/invalid redis view name/ ],
	[ q{SELECT geoshard.add_redis_view('g', 'nokey', 'geo')}, '55000', qr/has no primary key/ ],
	[ q{SELECT geoshard.add_redis_view('p', 'seen', 'presence')}, '22023', qr/invalid option "ttl_ms"/ ],
	[ q{SELECT geoshard.add_redis_view('p', 'seen', 'presence', '{"ttl_ms": -5}')}, '22023', qr/invalid option "ttl_ms"/ ],
	[ q{SELECT geoshard.add_redis_view('h', 'users', 'hash', '{"columns": ["name", "age"]}')}, '42703', qr/column "age" of option "columns" does not exist/ ],
	[ q{SELECT geoshard.add_redis_view('h', 'users', 'hash', '{"member": "name"}')}, '22023', qr/is not part of the primary key/ ],
	[ q{SELECT geoshard.add_redis_view('c', 'votes', 'counter', '{"value": "item"}')}, '42804', qr/not an integer column/ ],
	[ q{SELECT geoshard.add_redis_view('t', 'tiles', 'geo', '{"quadkey": "id"}')}, '42804', qr/is not of type quadkey/ ],
	[ q{SELECT geoshard.drop_redis_view('nosuch')}, '42704', qr/redis view "nosuch" does not exist/ ],
);
for my $b (@bad)
{
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$b->[0]");
	like($err, qr/ERROR:  $b->[1]: .*$b->[2]/, "refused ($b->[1]): $b->[0]");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM geoshard.redis_views'), '0', 'nothing was added');
is($node->safe_psql('postgres', q{SELECT has_function_privilege('public', 'geoshard.add_redis_view(text, regclass, text, jsonb)', 'EXECUTE')}),
	'f', 'add_redis_view is not executable by PUBLIC');

# --- the views
$node->safe_psql('postgres', q{
INSERT INTO pins SELECT g, 47.60 + g * 0.0001, -122.33, 'pin ' || g FROM generate_series(1, 50) g;
SELECT geoshard.add_redis_view('pins', 'pins', 'geo', '{"shard_level": 12}');
SELECT geoshard.add_redis_view('tiles', 'tiles', 'geo', '{"shard_level": 4}');
SELECT geoshard.add_redis_view('users', 'users', 'hash', '{"columns": ["name", "city"]}');
SELECT geoshard.add_redis_view('seen', 'seen', 'presence', '{"ttl_ms": 1500, "value": "status"}');
SELECT geoshard.add_redis_view('votes', 'votes', 'counter', '{"group": "item", "value": "n"}');
});

sub wait_built
{
	my ($what) = @_;
	ok( $node->poll_query_until(
			'postgres',
			q{SELECT count(*) = 5 FROM geoshard.redisview_status WHERE state = 'streaming' AND generation IS NOT NULL AND lag_ms = 0}),
		"every view built and streaming: $what");
}
wait_built('first build');

# wait until Redis holds what a query says; returns true when it did
sub wait_redis
{
	my ($check) = @_;
	for (1 .. 1500)
	{
		return 1 if $check->();
		select(undef, undef, undef, 0.01);
	}
	return 0;
}

# PostgreSQL's pins, as "id key" pairs, against Redis's GEO keys
sub pins_in_pg
{
	my $gen = r('GET', 'geoshard:rv:pins:gen');
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(id || ' geoshard:rv:pins:$gen:' || quadkey(lat, lon, 12)::text, ',' ORDER BY id)
		FROM pins WHERE abs(lat) <= 85.05112878});
}

sub pins_in_redis
{
	my @pairs;
	for my $k (view_keys('pins'))
	{
		next if $k =~ /:idx$/;
		push @pairs, map { [ $_, $k ] } @{ r('ZRANGE', $k, 0, -1) };
	}
	return join(',', map { "$_->[0] $_->[1]" } sort { $a->[0] <=> $b->[0] } @pairs);
}

sub pins_match
{
	my ($what) = @_;
	my $pg;
	my $ok = wait_redis(sub { $pg = pins_in_pg(); return pins_in_redis() eq ($pg // '') });
	ok($ok, "geo view matches the table: $what") or diag("pg: $pg\nredis: " . pins_in_redis());
}

pins_match('initial build');

# the search helper gives the commands to run
my $cmds = $node->safe_psql('postgres',
	q{SELECT string_agg(command, E'\n') FROM geoshard.redis_view_search('pins', 47.6025, -122.33, 300)});
my %found;
for my $c (split /\n/, $cmds)
{
	my @args = split / /, $c;
	$found{ $_->[0] } = 1 for @{ r(@args) };
}
is(join(',', sort { $a <=> $b } keys %found),
	$node->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM pins
		WHERE 6371008.8 * 2 * asin(sqrt(sin(radians(lat - 47.6025) / 2) ^ 2)) <= 300}),
	'GEOSEARCH commands of redis_view_search find the pins within the radius');

$node->safe_psql('postgres', q{INSERT INTO pins VALUES (100, 47.61, -122.34, 'new')});
pins_match('insert');
$node->safe_psql('postgres', q{UPDATE pins SET lat = 40.71, lon = -74.00 WHERE id = 100});
pins_match('move to another shard key');
$node->safe_psql('postgres', q{UPDATE pins SET name = 'renamed' WHERE id = 3});
pins_match('update without a move');
$node->safe_psql('postgres', q{DELETE FROM pins WHERE id IN (1, 100)});
pins_match('delete');
$node->safe_psql('postgres', q{UPDATE pins SET id = 1000 WHERE id = 2});
pins_match('primary key change');
$node->safe_psql('postgres', q{INSERT INTO pins VALUES (200, 89.0, 10.0, 'north pole')});
pins_match('a row out of GEO range is left out');
ok($node->poll_query_until('postgres', q{SELECT skipped >= 1 FROM geoshard.redisview_status WHERE view = 'pins'}),
	'the row out of range is counted');

# quadkey column: the tile's centre
$node->safe_psql('postgres', q{INSERT INTO tiles VALUES (1, '0231010'), (2, '3333')});
ok(wait_redis(sub { my @k = grep { !/:idx$/ } view_keys('tiles'); scalar(@k) == 2 }),
	'geo view on a quadkey column: one key per level-4 prefix');

# --- hash
$node->safe_psql('postgres', q{INSERT INTO users VALUES (1, 'ada', 'london', 'x'), (2, 'bob', NULL, 'y')});
my $ugen = sub { r('GET', 'geoshard:rv:users:gen') };
ok(wait_redis(sub { my $h = r('HGETALL', 'geoshard:rv:users:' . $ugen->() . ':1'); join(',', @$h) eq 'name,ada,city,london' }),
	'hash view: HSET of the chosen columns');
$node->safe_psql('postgres', q{UPDATE users SET city = NULL, name = 'ada l.' WHERE id = 1});
ok(wait_redis(sub { my $h = r('HGETALL', 'geoshard:rv:users:' . $ugen->() . ':1'); join(',', @$h) eq 'name,ada l.' }),
	'hash view: update sets and removes fields');
$node->safe_psql('postgres', q{DELETE FROM users WHERE id = 1});
ok(wait_redis(sub { !r('EXISTS', 'geoshard:rv:users:' . $ugen->() . ':1') }), 'hash view: delete removes the key');

# --- presence with a TTL
$node->safe_psql('postgres', q{INSERT INTO seen VALUES (7, 'online')});
my $pkey = sub { 'geoshard:rv:seen:' . r('GET', 'geoshard:rv:seen:gen') . ':7' };
ok(wait_redis(sub { (r('GET', $pkey->()) // '') eq 'online' }), 'presence view: SET with the value');
my $pttl = r('PTTL', $pkey->());
ok($pttl > 0 && $pttl <= 1500, "presence key has a TTL ($pttl ms)");
ok(wait_redis(sub { !r('EXISTS', $pkey->()) }), 'presence key expires');
$node->safe_psql('postgres', q{UPDATE seen SET status = 'away' WHERE user_id = 7});
ok(wait_redis(sub { (r('GET', $pkey->()) // '') eq 'away' }), 'an update refreshes the presence');

# --- counter
sub counts_match
{
	my ($what) = @_;
	my $pg = $node->safe_psql('postgres',
		q{SELECT coalesce(string_agg(item || '=' || s, ',' ORDER BY item), '') FROM (SELECT item, sum(n) s FROM votes GROUP BY item) x});
	my $ok = wait_redis(
		sub {
			my $h = r('HGETALL', 'geoshard:rv:votes:' . r('GET', 'geoshard:rv:votes:gen'));
			my %h = @$h;
			my $redis = join(',', map { "$_=$h{$_}" } grep { $h{$_} != 0 } sort keys %h);
			return $redis eq $pg;
		});
	ok($ok, "counter view matches the table: $what");
}
$node->safe_psql('postgres', q{INSERT INTO votes SELECT g, 'item' || (g % 3), 1 + g % 2 FROM generate_series(1, 30) g});
counts_match('inserts');
$node->safe_psql('postgres', q{UPDATE votes SET item = 'item9' WHERE id <= 5; DELETE FROM votes WHERE id > 25});
counts_match('updates and deletes');

# --- TRUNCATE: the view is built again, empty
$node->safe_psql('postgres', q{INSERT INTO users VALUES (5, 'eve', 'paris', '')});
ok(wait_redis(sub { r('EXISTS', 'geoshard:rv:users:' . $ugen->() . ':5') }), 'hash row before the truncate');
$node->safe_psql('postgres', q{TRUNCATE votes, users});
counts_match('truncate');
ok(wait_redis(sub { my @k = view_keys('users'); @k == 0 }), 'a truncated hash view holds no key');
$node->safe_psql('postgres', q{INSERT INTO votes VALUES (1, 'item1', 3)});
counts_match('inserts after the truncate');

# --- a reader never sees half a transaction: 100 pins move between two
# shard keys in one transaction, while the reader counts both keys in one
# MULTI
$node->safe_psql('postgres', q{INSERT INTO pins SELECT g, 10.0, 10.0, 'moving' FROM generate_series(5000, 5099) g});
my $gen = r('GET', 'geoshard:rv:pins:gen');
my $qa = $node->safe_psql('postgres', q{SELECT quadkey(10.0, 10.0, 12)::text});
my $qb = $node->safe_psql('postgres', q{SELECT quadkey(-10.0, -10.0, 12)::text});
ok(wait_redis(sub { r('ZCARD', "geoshard:rv:pins:$gen:$qa") == 100 }), '100 pins in place');
my $mover = IPC::Run::start(
	[
		'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
		q{UPDATE pins SET lat = -lat, lon = -lon WHERE id BETWEEN 5000 AND 5099;
		  UPDATE pins SET lat = -lat, lon = -lon WHERE id BETWEEN 5000 AND 5099;
		  UPDATE pins SET lat = -lat, lon = -lon WHERE id BETWEEN 5000 AND 5099;}
	],
	'>', \my $mover_out, '2>', \my $mover_err);
my ($reads, $partial, $moved) = (0, 0, 0);
for (1 .. 20000)
{
	r('MULTI');
	r('ZCARD', "geoshard:rv:pins:$gen:$qa");
	r('ZCARD', "geoshard:rv:pins:$gen:$qb");
	my $res = r('EXEC');
	$reads++;
	$partial++ unless ($res->[0] == 100 && $res->[1] == 0) || ($res->[0] == 0 && $res->[1] == 100);
	$moved++ if $res->[1] == 100;
	last if !$mover->pumpable && $res->[1] == 100;
}
$mover->finish;
is($partial, 0, "no read of $reads saw part of a transaction");
ok($moved > 0, 'the reader saw the moved state');
pins_match('after the moves');

# --- redis-server killed and restarted empty: noticed and rebuilt
my $before = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
$redis->crash;
$node->safe_psql('postgres', q{INSERT INTO pins VALUES (300, 47.0, 8.0, 'while redis was down'); INSERT INTO votes VALUES (900, 'item1', 5)});
$redis->start;
ok( $node->poll_query_until(
		'postgres', qq{SELECT count(*) = 5 FROM geoshard.redisview_status WHERE built_at > '$before'}),
	'every view was built again after Redis lost its data');
wait_built('after redis restarted empty');
ok(defined r('GET', 'geoshard:rv:epoch'), 'the epoch key is back');
pins_match('rebuilt after the restart');
counts_match('rebuilt after the restart');

# --- rebuild on request: a new generation, the old one deleted
my $old_gen = r('GET', 'geoshard:rv:pins:gen');
$node->safe_psql('postgres', q{SELECT geoshard.rebuild_redis_view('pins')});
ok(wait_redis(sub { (r('GET', 'geoshard:rv:pins:gen') // 0) > $old_gen }), 'rebuild_redis_view switches to a new generation');
ok(wait_redis(sub { my $r = r('SCAN', 0, 'MATCH', "geoshard:rv:pins:$old_gen:*", 'COUNT', 100000); !@{ $r->[1] } }),
	'the old generation is deleted');
pins_match('after the rebuild');

# --- worker SIGKILL in the middle of a stream of increments
my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard redisview'});
my $votes_gen = r('GET', 'geoshard:rv:votes:gen');
my $writer = IPC::Run::start(
	[
		'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
		q{DO $$ BEGIN FOR i IN 1..400 LOOP INSERT INTO votes VALUES (10000 + i, 'item' || (i % 4), 1); COMMIT; END LOOP; END $$;}
	],
	'>', \my $w_out, '2>', \my $w_err);
wait_redis(sub { $node->safe_psql('postgres', 'SELECT count(*) FROM votes WHERE id > 10000') >= 100 });
kill 'KILL', $pid;
$writer->finish;
# the postmaster restarts every backend after a crash; wait for it
$node->poll_query_until('postgres', 'SELECT true') or die;
$node->safe_psql('postgres', q{INSERT INTO votes VALUES (20000, 'item2', 1)});
wait_built('after the worker was killed');
counts_match('no increment lost or doubled after SIGKILL');
is(r('GET', 'geoshard:rv:votes:gen'), $votes_gen,
	'the restarted worker went on streaming into the generation Redis held, without a rebuild');
pins_match('after SIGKILL');

# --- a view whose build keeps failing (its table is gone) holds no other view
$node->safe_psql('postgres', q{
BEGIN;
CREATE TABLE gone (id int PRIMARY KEY, lat float8, lon float8);
SELECT geoshard.add_redis_view('gone', 'gone', 'geo');
DROP TABLE gone;
COMMIT;
});
ok( $node->poll_query_until(
		'postgres', q{SELECT last_error LIKE '%"public.gone"%does not exist%' FROM geoshard.redisview_status WHERE view = 'gone'}),
	'a view whose table is gone reports why it cannot be built');
$node->safe_psql('postgres', q{INSERT INTO pins VALUES (500, 47.5, -122.2, 'while gone fails')});
pins_match('the other views go on while one build fails');
$node->safe_psql('postgres', q{SELECT geoshard.drop_redis_view('gone')});

# --- a key of the wrong type: an error of that view naming the key, the
# view built again in a new generation, the other views unaffected
{
	my $g = r('GET', 'geoshard:rv:pins:gen');
	my $q = $node->safe_psql('postgres', q{SELECT quadkey(1.0, 1.0, 12)::text});
	r('SET', "geoshard:rv:pins:$g:$q", 'not a geo set');
	$node->safe_psql('postgres',
		q{BEGIN; INSERT INTO pins VALUES (400, 1.0, 1.0, 'wrong type'); INSERT INTO votes VALUES (30000, 'item3', 2); COMMIT;});
	ok( $node->poll_query_until(
			'postgres',
			qq{SELECT last_error LIKE '%geoshard:rv:pins:$g:$q%WRONGTYPE%' FROM geoshard.redisview_status WHERE view = 'pins'}),
		'a key of the wrong type is an error of its view, naming the key');
	ok(wait_redis(sub { (r('GET', 'geoshard:rv:pins:gen') // 0) != $g }), 'the view is built again in a new generation');
	pins_match('after the wrong-type key');
	counts_match('the other views went on');
}

# --- the slot dropped by hand (as on a server restored from a dump): a new
# slot, the position forgotten, every view built again
{
	my $g = r('GET', 'geoshard:rv:votes:gen');
	$node->safe_psql('postgres', q{ALTER SYSTEM SET geoshard.redisview_enabled = off; SELECT pg_reload_conf()});
	$node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_replication_slots WHERE slot_name = 'geoshard_redisview' AND active})
	  or die;
	# the worker may be between passes: drop when the slot is not in use
	$node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
		  WHERE slot_name = 'geoshard_redisview' AND NOT active) d, pg_replication_slots s
		  WHERE s.slot_name = 'geoshard_redisview'})
	  or die;
	$node->safe_psql('postgres', q{INSERT INTO votes VALUES (40000, 'item1', 7)});
	$node->safe_psql('postgres', q{ALTER SYSTEM RESET geoshard.redisview_enabled; SELECT pg_reload_conf()});
	ok(wait_redis(sub { (r('GET', 'geoshard:rv:votes:gen') // 0) != $g }),
		'a new slot makes the views build again');
	counts_match('after a new slot');
	pins_match('after a new slot');
}

# --- drop: the keys go
$node->safe_psql('postgres', q{SELECT geoshard.drop_redis_view('users')});
ok(wait_redis(sub { my $r = r('SCAN', 0, 'MATCH', 'geoshard:rv:users:*', 'COUNT', 100000); !@{ $r->[1] } }),
	'a dropped view has its keys deleted');

$node->stop;
done_testing();
