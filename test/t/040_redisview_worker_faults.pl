# Redis views (docs/redisview.md) when the redisview worker dies, against a
# real redis-server: the worker SIGKILLed again and again while a writer
# commits multi-row transactions (so in the middle of pipelined batches)
# leaves no key missing or extra; a rebuild requested and the worker
# SIGKILLed during it is not lost: it starts again, switches to a new
# generation with every row, and no partial generation is left behind.
# After every scenario PostgreSQL's rows are compared with Redis's keys.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use RedisTest;

my $redis = RedisTest->new;

my $node = PostgreSQL::Test::Cluster->new('rvworker');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
output_plugin_libraries = 'pgoutput, test_decoding, geoshard'
geoshard.database = 'postgres'
geoshard.health_enabled = off
geoshard.redis_url = '@{[ $redis->url ]}'
geoshard.redis_timeout = 2000
# small batches: a pass is many round trips, a build many chunks
geoshard.cdc_batch_size = 200
# the worker is killed below: the postmaster restarts the backends
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION geoshard;
CREATE TABLE pins (id int PRIMARY KEY, lat float8, lon float8, name text);
CREATE TABLE users (id int PRIMARY KEY, name text, city text);
CREATE TABLE big (id int PRIMARY KEY, lat float8, lon float8);
INSERT INTO pins SELECT g, 47.0 + (g % 100) * 0.01, 8.0 + (g / 100) * 0.01, 'pin ' || g FROM generate_series(1, 500) g;
INSERT INTO users SELECT g, 'user ' || g, 'city ' || (g % 7) FROM generate_series(1, 100) g;
INSERT INTO big SELECT g, 40.0 + (g % 300) * 0.01, -3.0 + (g / 300) * 0.01 FROM generate_series(1, 60000) g;
SELECT geoshard.add_redis_view('pins', 'pins', 'geo', '{"shard_level": 12}');
SELECT geoshard.add_redis_view('users', 'users', 'hash', '{"columns": ["name", "city"]}');
SELECT geoshard.add_redis_view('big', 'big', 'geo', '{"shard_level": 10}');
});

sub r { return $redis->cmd(@_) }

sub worker_pid
{
	return $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard redisview'});
}

sub wait_streaming
{
	my ($what) = @_;
	ok( $node->poll_query_until(
			'postgres',
			q{SELECT count(*) = 3 FROM geoshard.redisview_status
			  WHERE state = 'streaming' AND generation IS NOT NULL AND lag_ms = 0}),
		"every view streaming: $what");
}

# the keys of a view, by generation: { gen => [keys] } (pointer keys left out)
sub keys_by_gen
{
	my ($view) = @_;
	my ($cursor, %by) = (0);
	do
	{
		my $res = r('SCAN', $cursor, 'MATCH', "geoshard:rv:$view:*", 'COUNT', 1000);
		$cursor = $res->[0];
		for my $k (@{ $res->[1] })
		{
			push @{ $by{$1} }, $k if $k =~ /^geoshard:rv:\Q$view\E:(\d+)(:|$)/;
		}
	} while ($cursor ne '0');
	return \%by;
}

# a geo view's members as "id@quadkey" (sorted by id), from Redis and from PostgreSQL
sub geo_in_redis
{
	my ($view) = @_;
	my $gen = r('GET', "geoshard:rv:$view:gen") // '';
	my @m;
	for my $k (@{ keys_by_gen($view)->{$gen} // [] })
	{
		next if $k =~ /:idx$/;
		(my $q = $k) =~ s/^geoshard:rv:$view:$gen://;
		push @m, map { [ $_, $q ] } @{ r('ZRANGE', $k, 0, -1) };
	}
	return join(',', map { "$_->[0]\@$_->[1]" } sort { $a->[0] <=> $b->[0] } @m);
}

sub geo_in_pg
{
	my ($table, $level) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(string_agg(id || '\@' || quadkey(lat, lon, $level)::text, ',' ORDER BY id), '') FROM $table");
}

sub users_in_redis
{
	my $gen = r('GET', 'geoshard:rv:users:gen') // '';
	my @u;
	for my $k (@{ keys_by_gen('users')->{$gen} // [] })
	{
		(my $id = $k) =~ s/^geoshard:rv:users:$gen://;
		my %h = @{ r('HGETALL', $k) };
		push @u, [ $id, "$h{name}/$h{city}" ];
	}
	return join(',', map { "$_->[0]=$_->[1]" } sort { $a->[0] <=> $b->[0] } @u);
}

sub contents_match
{
	my ($what) = @_;
	my ($pg, $rd);
	for (1 .. 600)
	{
		$pg = geo_in_pg('pins', 12) . '|'
		  . $node->safe_psql('postgres', q{SELECT string_agg(id || '=' || name || '/' || city, ',' ORDER BY id) FROM users});
		$rd = geo_in_redis('pins') . '|' . users_in_redis();
		last if $pg eq $rd;
		select(undef, undef, undef, 0.05);
	}
	is($rd, $pg, "pins and users: Redis holds exactly PostgreSQL's rows: $what");
}

wait_streaming('first build');
contents_match('first build');
is(geo_in_redis('big'), geo_in_pg('big', 10), 'big: every row after the first build');

# --- the worker SIGKILLed three times while a writer commits transactions
# of 40 rows over two views
{
	# chunks of 100 transactions, one psql each: a crash restart ends the
	# chunk it interrupts, and the next chunk goes on after the restart
	my $connstr = $node->connstr('postgres');
	my $writer = IPC::Run::start(
		[
			'bash', '-c', q{
			for k in 0 1 2 3 4 5; do
				psql -X -q -d "$1" -c "DO \$\$ BEGIN FOR i IN $((k * 100 + 1))..$((k * 100 + 100)) LOOP
					INSERT INTO pins SELECT 100000 + i * 40 + g, 47.5 + g * 0.001, 8.5 + (i % 10) * 0.01, 'w'
						FROM generate_series(1, 40) g;
					UPDATE pins SET lat = lat + 0.01 WHERE id BETWEEN 1 + (i % 10) * 50 AND 50 + (i % 10) * 50;
					UPDATE users SET city = 'moved ' || i WHERE id = 1 + i % 100;
					DELETE FROM pins WHERE id BETWEEN 100000 + (i - 1) * 40 + 1 AND 100000 + (i - 1) * 40 + 20;
					COMMIT;
				END LOOP; END \$\$;" || sleep 1
			done}, 'writer', $connstr
		],
		'>', \my $out, '2>', \my $err);
	my $kills = 0;
	for my $at (100, 250, 400)
	{
		$node->poll_query_until('postgres', "SELECT count(*) >= $at * 20 FROM pins WHERE id > 100000") or last;
		my $pid = worker_pid();
		next unless $pid;
		kill 'KILL', $pid;
		$kills++;
		# the postmaster restarts every backend after a crash (the writer too)
		$node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'geoshard redisview'})
		  or die;
		last unless $writer->pumpable;
	}
	$writer->finish;
	ok($kills >= 1, "the worker was killed $kills times under load");
	wait_streaming('after the worker was killed mid-batch');
	contents_match('after SIGKILLs of the worker mid-batch');
}

# --- a rebuild requested, the worker SIGKILLed during it: not lost
{
	my $old = r('GET', 'geoshard:rv:big:gen');
	$node->safe_psql('postgres', q{SELECT geoshard.rebuild_redis_view('big')});
	ok( $node->poll_query_until(
			'postgres', q{SELECT state = 'building' AND build_rows > 0 FROM geoshard.redisview_status WHERE view = 'big'}),
		'the rebuild is loading');
	kill 'KILL', worker_pid();
	$node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'geoshard redisview'})
	  or die;
	$node->safe_psql('postgres', q{UPDATE big SET lat = lat + 0.5 WHERE id <= 1000; DELETE FROM big WHERE id > 59000});
	my $new;
	for (1 .. 1200)
	{
		$new = r('GET', 'geoshard:rv:big:gen');
		last if defined $new && $new ne $old;
		select(undef, undef, undef, 0.1);
	}
	isnt($new, $old, 'the restarted worker built the view again: a new generation');
	wait_streaming('after the rebuild');
	my ($pg, $rd);
	for (1 .. 100)
	{
		$pg = geo_in_pg('big', 10);
		$rd = geo_in_redis('big');
		last if $pg eq $rd;
		select(undef, undef, undef, 0.1);
	}
	ok($rd eq $pg, 'big: Redis holds exactly PostgreSQL\'s rows after the interrupted rebuild');
	my $gens;
	for (1 .. 100)
	{
		$gens = join(',', sort keys %{ keys_by_gen('big') });
		last if $gens eq $new;
		select(undef, undef, undef, 0.1);
	}
	is($gens, $new, 'only the live generation is left: the old one and the partial one are deleted');
	is(r('GET', 'geoshard:rv:big:built'), $node->safe_psql('postgres', q{SELECT rebuild_requested_at::text FROM geoshard.redis_views WHERE name = 'big'}),
		'Redis records which request the live generation answers');

	# a restart now does not build it again
	my $pid = worker_pid();
	kill 'KILL', $pid;
	$node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'geoshard redisview'})
	  or die;
	wait_streaming('after a restart with nothing to build');
	is(r('GET', 'geoshard:rv:big:gen'), $new, 'an answered request is not built again after a restart');
	contents_match('at the end');
}

$node->stop;
done_testing();
