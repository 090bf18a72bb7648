# Redis views (docs/redisview.md) when Redis fails, against a real
# redis-server: SIGKILLed while a writer commits big transactions (so in the
# middle of MULTI/EXEC blocks) and restarted empty, every view is built
# again; a FLUSHALL while the worker stays connected is noticed and every
# view built again; Redis out of memory (maxmemory, noeviction) is an error
# naming the key, the views lag (a WARNING, retained WAL in the status) and
# catch up without a rebuild once memory is back; a permission refused on one
# view's keys (EXECABORT) is an error of that view only while the others go
# on.  After every scenario PostgreSQL's rows are compared with Redis's keys.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use RedisTest;

my $redis = RedisTest->new;

my $node = PostgreSQL::Test::Cluster->new('rvfaults');
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
# a small limit, so that the out-of-memory scenario passes it
geoshard.cdc_max_lag = 256
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION geoshard;
CREATE TABLE pins (id int PRIMARY KEY, lat float8, lon float8, name text);
CREATE TABLE users (id int PRIMARY KEY, name text, city text);
CREATE TABLE votes (id int PRIMARY KEY, item text NOT NULL, n int NOT NULL DEFAULT 1);
INSERT INTO pins SELECT g, 47.0 + (g % 100) * 0.01, 8.0 + (g / 100) * 0.01, 'pin ' || g FROM generate_series(1, 500) g;
INSERT INTO users SELECT g, 'user ' || g, 'city ' || (g % 7) FROM generate_series(1, 100) g;
INSERT INTO votes SELECT g, 'item' || (g % 5), 1 + g % 3 FROM generate_series(1, 100) g;
SELECT geoshard.add_redis_view('pins', 'pins', 'geo', '{"shard_level": 12}');
SELECT geoshard.add_redis_view('users', 'users', 'hash', '{"columns": ["name", "city"]}');
SELECT geoshard.add_redis_view('votes', 'votes', 'counter', '{"group": "item", "value": "n"}');
});

sub r { return $redis->cmd(@_) }

sub wait_streaming
{
	my ($what) = @_;
	ok( $node->poll_query_until(
			'postgres',
			q{SELECT count(*) = 3 FROM geoshard.redisview_status
			  WHERE state = 'streaming' AND generation IS NOT NULL AND lag_ms = 0}),
		"every view streaming: $what");
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

# each view's contents as text, from PostgreSQL and from Redis
sub pg_contents
{
	return $node->safe_psql('postgres', q{
		SELECT (SELECT string_agg(id || '@' || quadkey(lat, lon, 12)::text, ',' ORDER BY id) FROM pins)
			|| '|' || (SELECT string_agg(id || '=' || name || '/' || city, ',' ORDER BY id) FROM users)
			|| '|' || (SELECT string_agg(item || '=' || s, ',' ORDER BY item)
					   FROM (SELECT item, sum(n) s FROM votes GROUP BY item HAVING sum(n) <> 0) x)});
}

sub redis_contents
{
	my (@pins, @users);
	my $pgen = r('GET', 'geoshard:rv:pins:gen') // '';
	for my $k (view_keys('pins'))
	{
		next if $k =~ /:idx$/;
		(my $q = $k) =~ s/^geoshard:rv:pins:$pgen://;
		push @pins, map { [ $_, $q ] } @{ r('ZRANGE', $k, 0, -1) };
	}
	my $ugen = r('GET', 'geoshard:rv:users:gen') // '';
	for my $k (view_keys('users'))
	{
		(my $id = $k) =~ s/^geoshard:rv:users:$ugen://;
		my %h = @{ r('HGETALL', $k) };
		push @users, [ $id, "$h{name}/$h{city}" ];
	}
	my %c = @{ r('HGETALL', 'geoshard:rv:votes:' . (r('GET', 'geoshard:rv:votes:gen') // '')) // [] };
	return join(',', map { "$_->[0]\@$_->[1]" } sort { $a->[0] <=> $b->[0] } @pins) . '|'
	  . join(',', map { "$_->[0]=$_->[1]" } sort { $a->[0] <=> $b->[0] } @users) . '|'
	  . join(',', map { "$_=$c{$_}" } grep { $c{$_} != 0 } sort keys %c);
}

sub contents_match
{
	my ($what) = @_;
	my ($pg, $rd);
	for (1 .. 1000)
	{
		$pg = pg_contents();
		$rd = redis_contents();
		last if $pg eq $rd;
		select(undef, undef, undef, 0.05);
	}
	is($rd, $pg, "Redis holds exactly PostgreSQL's rows: $what");
}

# a writer committing transactions of 50 rows over every view
sub start_writer
{
	my ($from, $count) = @_;
	return IPC::Run::start(
		[
			'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', qq{
			DO \$\$ BEGIN FOR i IN $from..$from + $count - 1 LOOP
				INSERT INTO pins SELECT 100000 + i * 50 + g, 47.5 + g * 0.001, 8.5 + (i % 10) * 0.01, 'w'
					FROM generate_series(1, 50) g;
				UPDATE pins SET lat = lat + 0.001 WHERE id BETWEEN 1 + (i % 10) * 50 AND 50 + (i % 10) * 50;
				UPDATE users SET city = 'moved ' || i WHERE id = 1 + i % 100;
				INSERT INTO votes VALUES (100000 + i, 'item' || (i % 5), 1);
				DELETE FROM pins WHERE id BETWEEN 100000 + (i - 1) * 50 + 1 AND 100000 + (i - 1) * 50 + 10;
				COMMIT;
			END LOOP; END \$\$;}
		],
		'>', \my $out, '2>', \my $err);
}

wait_streaming('first build');
contents_match('first build');

# --- Redis SIGKILLed under load and restarted empty
{
	my $before = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
	my $writer = start_writer(1, 400);
	# in the middle of the stream: some transactions applied already
	$node->poll_query_until('postgres', q{SELECT count(*) > 100 FROM votes WHERE id > 100000}) or die;
	$redis->crash;
	$node->poll_query_until('postgres', q{SELECT count(*) > 200 FROM votes WHERE id > 100000}) or die;
	$redis->start;
	ok($writer->finish, 'the writer committed every transaction');
	ok( $node->poll_query_until(
			'postgres', qq{SELECT count(*) = 3 FROM geoshard.redisview_status WHERE built_at > '$before'}),
		'every view was built again after Redis restarted empty');
	wait_streaming('after the Redis crash');
	contents_match('after Redis was killed under load and restarted empty');
}

# --- FLUSHALL while the worker stays connected
{
	my $before = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
	my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard redisview'});
	r('FLUSHALL');
	$node->safe_psql('postgres', q{INSERT INTO pins VALUES (900, 46.0, 7.0, 'after flushall')});
	ok( $node->poll_query_until(
			'postgres', qq{SELECT count(*) = 3 FROM geoshard.redisview_status WHERE built_at > '$before'}),
		'a FLUSHALL is noticed while connected and every view built again');
	wait_streaming('after FLUSHALL');
	contents_match('after FLUSHALL');
	is($node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard redisview'}),
		$pid, 'the same worker noticed it');
	ok(defined r('GET', 'geoshard:rv:epoch'), 'the epoch key is back');
}

# --- out of memory (maxmemory, noeviction): retried, no rebuild
{
	my %gens = map { $_ => r('GET', "geoshard:rv:$_:gen") } qw(pins users votes);
	my ($used) = r('INFO', 'memory') =~ /used_memory:(\d+)/;
	my $log_offset = -s $node->logfile;
	r('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
	r('CONFIG', 'SET', 'maxmemory', $used + 256 * 1024);
	# about 1 MB of WAL, more than Redis takes
	$node->safe_psql('postgres',
		q{INSERT INTO pins SELECT g, 46.0 + (g % 200) * 0.001, 7.0 + (g / 200) * 0.001, repeat('x', 20) FROM generate_series(200000, 204999) g});
	ok( $node->poll_query_until(
			'postgres',
			q{SELECT last_error LIKE '%key "geoshard:rv:pins:%OOM%' AND state = 'retrying'
			  FROM geoshard.redisview_status WHERE view = 'pins'}),
		'out of memory: an error of the view naming its key, the view retrying');
	ok( $node->poll_query_until(
			'postgres', q{SELECT lag_bytes > 256 * 1024 AND retained_wal_bytes >= lag_bytes
			  FROM geoshard.redisview_status WHERE view = 'pins'}),
		'the views lag and the slot retains the WAL');
	ok( $node->wait_for_log(qr/WARNING:  redis views have \d+ bytes of WAL left to apply/, $log_offset),
		'a WARNING says how far behind the views are');
	my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard redisview'});
	r('CONFIG', 'SET', 'maxmemory', 0);
	wait_streaming('after memory came back');
	contents_match('after out of memory');
	is(join(',', map { r('GET', "geoshard:rv:$_:gen") } qw(pins users votes)),
		join(',', map { $gens{$_} } qw(pins users votes)),
		'out of memory needed no rebuild: the same generations caught up');
	is($node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard redisview'}),
		$pid, 'the worker retried without exiting');
	my $log = slurp_file($node->logfile, $log_offset);
	my $logged = () = $log =~ /could not apply changes: .*OOM/g;
	# tried with a backoff (up to 5 s): a few tries, not one every poll interval
	ok($logged >= 1 && $logged <= 15, "the failure is logged, with a backoff between tries ($logged)");
}

# --- a permission refused on the keys of one view: an error of that view
# (EXECABORT of its transactions), the other views go on
{
	r('ACL', 'SETUSER', 'tester', 'on', '>tester', '~*', '&*', '+@all');
	r('AUTH', 'tester', 'tester');
	r('ACL', 'SETUSER', 'default', 'resetkeys', '~geoshard:rv:position', '~geoshard:rv:epoch',
		'~geoshard:rv:gens', '~geoshard:rv:pins:*', '~geoshard:rv:votes:*');
	my $ugen = r('GET', 'geoshard:rv:users:gen');
	$node->safe_psql('postgres', q{
		BEGIN;
		UPDATE users SET name = 'refused' WHERE id = 2;
		INSERT INTO pins VALUES (901, 46.5, 7.5, 'same transaction');
		COMMIT;
		INSERT INTO votes VALUES (200000, 'item9', 4);});
	ok( $node->poll_query_until(
			'postgres',
			q{SELECT last_error LIKE '%key "geoshard:rv:users:%NOPERM%' AND lag_ms > 0
			   FROM geoshard.redisview_status WHERE view = 'users'}),
		'a refused key is an error of its view, naming the key');
	ok( $node->poll_query_until(
			'postgres', q{SELECT count(*) = 2 FROM geoshard.redisview_status WHERE view IN ('pins', 'votes')
			  AND state = 'streaming' AND lag_ms = 0}),
		'the other views go on');
	my %c = @{ r('HGETALL', 'geoshard:rv:votes:' . r('GET', 'geoshard:rv:votes:gen')) };
	is($c{item9}, 4, 'a later transaction reached the other views');
	ok(defined r('ZSCORE', 'geoshard:rv:pins:' . r('GET', 'geoshard:rv:pins:gen') . ':'
			. $node->safe_psql('postgres', q{SELECT quadkey(46.5, 7.5, 12)::text}), '901'),
		'the refused transaction reached the other views');
	r('ACL', 'SETUSER', 'default', 'allkeys');
	ok(wait_users_rebuilt($ugen), 'once allowed, the view is built again in a new generation');
	wait_streaming('after the permission came back');
	contents_match('after a refused key');
}

sub wait_users_rebuilt
{
	my ($old) = @_;
	for (1 .. 600)
	{
		my $g = r('GET', 'geoshard:rv:users:gen');
		return 1 if defined $g && $g ne $old;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

$node->stop;
done_testing();
