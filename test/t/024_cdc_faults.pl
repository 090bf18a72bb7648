# Proves the exactly-once publishing of the cdc worker across faults: the
# worker SIGKILLed in the middle of publishing under a write load, the
# server stopped with -m immediate in the middle of publishing, and Redis
# stopped for a while under writes; after each, the stream holds every
# event exactly once and in commit order (entry by entry equal to what the
# geoshard plugin decodes from a slot of its own).  Also that an idle sink's
# slot does not hold WAL that other tables write: its retained WAL stays
# bounded thanks to the heartbeat.
use strict;
use warnings FATAL => 'all';

use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RedisTest;
use Test::More;

# a Redis that keeps what it acknowledged across its own restarts
my $redis_dir = PostgreSQL::Test::Utils::tempdir();
my $redis = RedisTest->new(
	args => [ '--appendonly', 'yes', '--appendfsync', 'always', '--dir', $redis_dir ]);

my $node = PostgreSQL::Test::Cluster->new('faults');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
output_plugin_libraries = 'pgoutput, test_decoding, geoshard'
geoshard.database = 'postgres'
geoshard.health_enabled = off
geoshard.redis_url = '@{[ $redis->url ]}'
# small batches: many MULTI/EXEC per second, so faults land between them
geoshard.cdc_batch_size = 50
geoshard.cdc_heartbeat_interval = '200ms'
max_wal_size = '64MB'
# a SIGKILLed worker makes the postmaster restart every process
restart_after_crash = on
});
$node->start;
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION geoshard;
	CREATE TABLE pins (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);
	CREATE TABLE quiet (id int PRIMARY KEY);
	CREATE TABLE bulk (id int, filler text);
	CREATE PROCEDURE write_pins(n int) LANGUAGE plpgsql AS $$
	BEGIN
		FOR i IN 1 .. n LOOP
			INSERT INTO pins (name) VALUES ('p' || i), ('q' || i);
			UPDATE pins SET name = name || '!' WHERE id = (SELECT max(id) FROM pins);
			COMMIT;
		END LOOP;
	END $$;
	SELECT geoshard.add_cdc_sink('pins', options => '{"include-tables": "public.pins"}');
	SELECT geoshard.add_cdc_sink('idle', 'idle', '{"include-tables": "public.quiet"}');
});
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 2 FROM geoshard.cdc_status WHERE state = 'streaming'}),
	'both sinks stream');
$node->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('expected', 'geoshard')});

my $worker_pid = sub {
	$node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard cdc'});
};

# The stream must equal the plugin's own decoding: ids and actions, in order.
sub check_stream
{
	my ($name) = @_;
	ok( $node->poll_query_until(
			'postgres',
			q{SELECT state = 'streaming' AND lag_bytes = 0 FROM geoshard.cdc_status WHERE sink = 'pins'}),
		"$name: the sink catches up");
	my $expected = $node->safe_psql(
		'postgres', q{
		SELECT count(*) || ':' || string_agg(d->>'id' || ' ' || (d->>'action'), ',' ORDER BY n)
		FROM (SELECT row_number() OVER () n, data::jsonb d
			  FROM pg_logical_slot_peek_changes('expected', NULL, NULL, 'include-tables', 'public.pins')) c});
	my $entries = $redis->cmd('XRANGE', 'geoshard:pins', '-', '+');
	my $got = scalar(@$entries) . ':'
	  . join(',', map { my %f = @{ $_->[1] }; "$_->[0] $f{action}" } @$entries);
	my ($count) = split /:/, $expected;
	diag("$name: events skipped as already in Redis since the worker started: "
		  . $node->safe_psql('postgres', q{SELECT skipped FROM geoshard.cdc_status WHERE sink = 'pins'}));
	# is() would print 100 kB on a failure: compare, and show the first difference
	if ($got eq $expected)
	{
		pass("$name: the stream holds all $count events exactly once, in commit order");
	}
	else
	{
		my @e = split /,/, $expected;
		my @g = split /,/, $got;
		my $i = 0;
		$i++ while $i < @e && $i < @g && $e[$i] eq $g[$i];
		fail("$name: the stream holds all $count events exactly once, in commit order");
		diag("first difference at entry $i: expected " . ($e[$i] // 'end') . ', got ' . ($g[$i] // 'end'));
	}
}

# 1. SIGKILL the worker in the middle of publishing, under a write load.
my $pgbench_script = "$redis_dir/insert.sql";
PostgreSQL::Test::Utils::append_to_file($pgbench_script,
	"INSERT INTO pins (name) VALUES ('bench');\n");
my $load = IPC::Run::start(
	[
		'pgbench', '-n', '-c', '2', '-T', '6', '-f', $pgbench_script,
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'<', \undef, '>&', \my $load_out);
ok( $node->poll_query_until(
		'postgres', q{SELECT published > 500 AND lag_bytes > 0 FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'publishing under load');
my $pid = $worker_pid->();
kill 'KILL', $pid;
$load->finish;    # pgbench loses its connections in the crash restart
$node->poll_query_until('postgres', qq{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'geoshard cdc' AND pid <> $pid}) or die 'the worker did not come back';
$node->safe_psql('postgres', 'CALL write_pins(200)');
check_stream('worker SIGKILLed');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM pins}), '>', 1000, 'the load wrote rows');

# 2. Stop the server with -m immediate in the middle of publishing.
$node->safe_psql('postgres', 'SELECT geoshard.disable_cdc_sink(\'pins\')');
$node->poll_query_until('postgres', q{SELECT state = 'disabled' FROM geoshard.cdc_status WHERE sink = 'pins'});
$node->safe_psql('postgres', 'CALL write_pins(3000)');
$node->safe_psql('postgres', 'SELECT geoshard.enable_cdc_sink(\'pins\')');
ok( $node->poll_query_until(
		'postgres', q{SELECT published > 100 AND lag_bytes > 0 FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'a backlog is being published');
$node->stop('immediate');
$node->start;
check_stream('server stopped -m immediate');

# 3. Redis down for a while under writes.
$redis->stop;
$node->safe_psql('postgres', 'CALL write_pins(300)');
ok( $node->poll_query_until(
		'postgres', q{SELECT state = 'retrying' AND last_error LIKE 'could not connect to Redis%'
		FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'Redis down: the sink retries and says why');
$node->safe_psql('postgres', 'CALL write_pins(300)');
ok( $node->safe_psql('postgres', q{SELECT retained_wal_bytes > 0 FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'the slot keeps the WAL meanwhile');
$redis->start;
check_stream('Redis stopped and restarted');
unlike(slurp_file($node->logfile), qr/may lose published events in a crash/,
	'no persistence warning for appendonly yes and appendfsync always');

# 4. An idle sink's slot releases the WAL other tables write.
$node->safe_psql('postgres', q{INSERT INTO bulk SELECT g, repeat('x', 500) FROM generate_series(1, 60000) g});
my $written = $node->safe_psql('postgres',
	q{SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots WHERE slot_name = 'expected'});
cmp_ok($written, '>', 30 * 1024 * 1024, 'over 30 MB of WAL since the test began (the slot that never advances keeps it)');
ok( $node->poll_query_until(
		'postgres', q{SELECT retained_wal_bytes < 1024 * 1024 FROM geoshard.cdc_status WHERE sink = 'idle'}),
	'the idle sink retains less than 1 MB');
is($node->safe_psql('postgres', q{SELECT published FROM geoshard.cdc_status WHERE sink = 'idle'}),
	'0', 'and published nothing');

$node->stop;
$redis->stop;
done_testing();
