# Proves that the cdc worker publishes every insert, update, delete and
# logical message of a sink's tables into Redis Streams exactly once and in
# commit order (the stream equals what the geoshard plugin decodes, entry by
# entry), through AUTH and SELECT, with the password masked everywhere it
# shows; that sinks added, disabled and enabled at run time take effect
# without a restart; that malformed sinks are refused at write time with
# SQLSTATE 22023; and that a sink whose Redis speaks garbage, or whose
# options the plugin refuses, fails and retries on its own while the worker
# and the other sinks carry on.
use strict;
use warnings FATAL => 'all';

use IO::Socket::INET;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RedisTest;
use Test::More;

my $redis = RedisTest->new(password => 's3cret');
my $db = 2;

my $node = PostgreSQL::Test::Cluster->new('cdc');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
output_plugin_libraries = 'pgoutput, test_decoding, geoshard'
geoshard.database = 'postgres'
geoshard.health_enabled = off
geoshard.redis_url = '@{[ $redis->url($db) ]}'
});
$node->start;
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION geoshard;
	CREATE TABLE pins (id int PRIMARY KEY, name text);
	CREATE TABLE other (id int PRIMARY KEY);
});
my $worker_pid = sub {
	$node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard cdc'});
};
my $pid = $worker_pid->();
like($pid, qr/^\d+$/, 'the cdc worker runs');

# 1. A sink of pins, and a test slot with the same options to compare with.
$node->safe_psql('postgres',
	q{SELECT geoshard.add_cdc_sink('pins', options => '{"include-tables": "public.pins"}')});
ok( $node->poll_query_until(
		'postgres', q{SELECT state = 'streaming' FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'the worker creates the slot and starts streaming');
$node->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('expected', 'geoshard')});

$node->safe_psql(
	'postgres', q{
	INSERT INTO pins SELECT g, 'pin ' || g FROM generate_series(1, 50) g;
	BEGIN; UPDATE pins SET name = 'moved' WHERE id <= 10; DELETE FROM pins WHERE id > 45; COMMIT;
	BEGIN; INSERT INTO pins VALUES (1000, 'rolled back'); ROLLBACK;
	INSERT INTO other VALUES (1);
	BEGIN; INSERT INTO pins VALUES (51, 'a'); SELECT pg_logical_emit_message(true, 'outbox', 'hello'); COMMIT;
	INSERT INTO pins VALUES (52, E'quote " backslash \\\\ newline \n end');
});
for my $i (53 .. 80)
{
	$node->safe_psql('postgres', "INSERT INTO pins VALUES ($i, 'one by one')");
}
my $expected = $node->safe_psql(
	'postgres', q{
	SELECT string_agg(d->>'id' || ' ' || (d->>'action'), ',' ORDER BY n)
	FROM (SELECT row_number() OVER () n, data::jsonb d
		  FROM pg_logical_slot_peek_changes('expected', NULL, NULL, 'include-tables', 'public.pins')) c
	WHERE d->>'action' IN ('I', 'U', 'D', 'T') AND d->>'table' = 'pins'});
my $expected_n = () = $expected =~ /,/g;
is($expected_n + 1, 50 + 10 + 5 + 1 + 1 + 28, 'the plugin decoded every change (the comparison is not empty)');

ok( $node->poll_query_until(
		'postgres', q{SELECT lag_bytes = 0 AND state = 'streaming' FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'the sink catches up');
my $entries = $redis->stream_entries($db, 'geoshard:pins');
is(join(',', map { "$_->[0] $_->[1]{action}" } @$entries),
	$expected, 'the stream holds every change once, in commit order, with the event ids');
my ($quoted) = grep { $_->[1]{data} =~ /"value":52\b/ } @$entries;
like($quoted->[1]{data}, qr/quote \\" backslash \\\\ newline \\n end/, 'values travel as JSON, byte for byte');
is($quoted->[1]{schema} . '.' . $quoted->[1]{table}, 'public.pins', 'entries carry schema and table');
is_deeply(
	[ map { $_->[1]{action} } @{ $redis->stream_entries($db, 'geoshard:outbox') } ],
	['M'], 'a logical message goes to the stream of its prefix');
my ($commit, $position) = split /-/, $entries->[-1][0];
is($redis->cmd($db, 'GET', 'geoshard:cdc:pins:position'), "$commit-" . ($position + 1),
	'the position key holds the id of the last commit record read');

# 2. Passwords never show.
my $status = $node->safe_psql('postgres', q{SELECT redis_url FROM geoshard.cdc_status WHERE sink = 'pins'});
is($status, 'redis://:***@127.0.0.1:' . $redis->port . "/$db", 'cdc_status masks the password');
is($node->safe_psql('postgres', 'SHOW geoshard.redis_url'), $status, 'SHOW masks it too');
$node->safe_psql('postgres', q{CREATE ROLE reader LOGIN});
is($node->safe_psql('postgres', q{SET ROLE reader; SELECT count(*) FROM geoshard.cdc_status}),
	'1', 'PUBLIC reads cdc_status');
my ($ret, $out, $err) = $node->psql('postgres', q{SET ROLE reader; SELECT * FROM geoshard.cdc_sinks});
like($err, qr/permission denied for table cdc_sinks/, 'but not the sinks with their URLs');
unlike(slurp_file($node->logfile), qr/s3cret/, 'the server log never shows the password');
like(slurp_file($node->logfile), qr/may lose published events in a crash.*\n.*appendonly no/,
	'a warning says the Redis target is configured for loss');

# 3. A sink added, disabled and enabled at run time.
$node->safe_psql('postgres',
	q{SELECT geoshard.add_cdc_sink('inserts', '{schema}.{table}:inserts', '{"include-tables": "public.pins", "actions": "insert"}', maxlen => 1000)});
ok( $node->poll_query_until(
		'postgres', q{SELECT state = 'streaming' FROM geoshard.cdc_status WHERE sink = 'inserts'}),
	'a sink added at run time starts');
$node->safe_psql('postgres', q{INSERT INTO pins VALUES (100, 'x'); UPDATE pins SET name = 'y' WHERE id = 100});
ok( $node->poll_query_until(
		'postgres', q{SELECT published = 1 FROM geoshard.cdc_status WHERE sink = 'inserts'}),
	'it publishes its own filtered changes');
is_deeply([ map { $_->[1]{action} } @{ $redis->stream_entries($db, 'public.pins:inserts') } ],
	['I'], 'into its own stream key');
$node->safe_psql('postgres', q{SELECT geoshard.disable_cdc_sink('inserts')});
ok( $node->poll_query_until(
		'postgres', q{SELECT state = 'disabled' FROM geoshard.cdc_status WHERE sink = 'inserts'}),
	'a sink disabled at run time stops');
$node->safe_psql('postgres', q{INSERT INTO pins VALUES (101, 'x')});
ok( $node->poll_query_until(
		'postgres', q{SELECT lag_bytes = 0 FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'the other sink goes on');
is(scalar @{ $redis->stream_ids($db, 'public.pins:inserts') }, 1, 'the disabled sink publishes nothing');
ok( $node->safe_psql('postgres', q{SELECT retained_wal_bytes > 0 FROM geoshard.cdc_status WHERE sink = 'inserts'}),
	'its slot keeps the WAL');
$node->safe_psql('postgres', q{SELECT geoshard.enable_cdc_sink('inserts')});
ok( $node->poll_query_until(
		'postgres', q{SELECT published = 2 AND lag_bytes = 0 FROM geoshard.cdc_status WHERE sink = 'inserts'}),
	'enabled again, it publishes what happened meanwhile');
is(scalar @{ $redis->stream_ids($db, 'public.pins:inserts') }, 2, 'exactly once');

# 4. Malformed sinks are refused at write time.
my %bad = (
	q{SELECT geoshard.add_cdc_sink('Bad-Name')} => qr/22023: invalid cdc sink name: "Bad-Name"/,
	q{SELECT geoshard.add_cdc_sink('t1', 'geoshard:{tabel}')} =>
	  qr/22023: invalid stream key template for cdc sink "t1": "geoshard:\{tabel\}".*placeholders are \{table\}, \{schema\} and \{shard\}/s,
	q{SELECT geoshard.add_cdc_sink('t2', '')} => qr/22023: invalid stream key template for cdc sink "t2"/,
	q{SELECT geoshard.add_cdc_sink('t3', repeat('k', 300))} => qr/22023: invalid stream key template.*1 to 256 bytes/s,
	q{SELECT geoshard.add_cdc_sink('t4', options => '{"include-tabels": "x"}')} =>
	  qr/22023: unrecognized option "include-tabels" for cdc sink "t4".*HINT:  The options are include-tables/s,
	q{SELECT geoshard.add_cdc_sink('t5', options => '{"include-begin-commit": true}')} =>
	  qr/22023: option "include-begin-commit" cannot be set for cdc sink "t5"/,
	q{SELECT geoshard.add_cdc_sink('t6', options => '["include-tables"]')} => qr/22023: invalid options for cdc sink "t6"/,
	q{SELECT geoshard.add_cdc_sink('t7', options => '{"include-tables": ["a"]}')} =>
	  qr/22023: invalid value for option "include-tables" of cdc sink "t7"/,
	q{SELECT geoshard.add_cdc_sink('t8', redis_url => 'http://127.0.0.1:6379')} => qr/22023: invalid Redis URL for cdc sink "t8"/,
	q{SELECT geoshard.add_cdc_sink('t9', redis_url => 'redis://secret@127.0.0.1')} => qr/22023: invalid Redis URL for cdc sink "t9"/,
	q{SELECT geoshard.add_cdc_sink('t10', maxlen => 0)} => qr/22023: invalid maxlen for cdc sink "t10": 0/,
	q{SELECT geoshard.add_cdc_sink('pins')} => qr/42710: cdc sink "pins" already exists/,
	q[UPDATE geoshard.cdc_sinks SET stream_key = '{table' WHERE name = 'pins'] =>
	  qr/22023: invalid stream key template for cdc sink "pins": "\{table"/,
	q{SELECT geoshard.drop_cdc_sink('nosuch')} => qr/42704: cdc sink "nosuch" does not exist/,
	q{SELECT geoshard.enable_cdc_sink('nosuch')} => qr/42704: cdc sink "nosuch" does not exist/,);
for my $sql (sort keys %bad)
{
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	like($err, $bad{$sql}, "refused: $sql");
}
unlike($err, qr/s3cret/, 'errors do not show URLs');
is($node->safe_psql('postgres', q{SELECT string_agg(name, ',' ORDER BY name) FROM geoshard.cdc_sinks}),
	'inserts,pins', 'nothing malformed was stored');
($ret, $out, $err) = $node->psql('postgres', q{SET ROLE reader; SELECT geoshard.add_cdc_sink('mine')});
like($err, qr/permission denied for function add_cdc_sink/, 'PUBLIC cannot add sinks');

# 5. A Redis that speaks garbage, and options the plugin refuses: the sink
# fails and retries, the worker does not restart, the others go on.
my $junk_port = PostgreSQL::Test::Cluster::get_free_port();
my $junk = IPC::Run::start(
	[
		$^X, '-MIO::Socket::INET', '-e', q{
$SIG{PIPE} = 'IGNORE';
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $ARGV[0], Listen => 5, ReuseAddr => 1) or die $!;
while (my $c = $l->accept) { my $buf; sysread($c, $buf, 65536); print $c "HTTP/1.1 400 Bad Request\r\n\r\n\x00\xff garbage"; close $c; }
}, $junk_port
	],
	'<', \undef, '>&', \my $junk_out);
# listening before the sink is added (a connection refused is another error)
for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
{
	last if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$junk_port");
	select(undef, undef, undef, 0.1);
}
$node->safe_psql('postgres',
	qq{SELECT geoshard.add_cdc_sink('junk', 'junk', redis_url => 'redis://127.0.0.1:$junk_port')});
$node->safe_psql('postgres',
	q{SELECT geoshard.add_cdc_sink('badopt', 'badopt', '{"actions": "insert,upsert"}')});
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 2 FROM geoshard.cdc_status WHERE state = 'retrying' AND last_error IS NOT NULL}),
	'both failing sinks are retrying');
ok( $node->poll_query_until(
		'postgres', q{SELECT last_error ~* '^could not read from Redis at redis://127\\.0\\.0\\.1:[0-9]+: protocol error'
		FROM geoshard.cdc_status WHERE sink = 'junk'}),
	'garbage from Redis is an error that says so');
like($node->safe_psql('postgres', q{SELECT last_error FROM geoshard.cdc_status WHERE sink = 'badopt'}),
	qr/invalid value for option "actions": "insert,upsert"/, 'the plugin\'s refusal is the sink\'s error');
$node->safe_psql('postgres', q{INSERT INTO pins VALUES (102, 'still')});
ok( $node->poll_query_until(
		'postgres', q{SELECT lag_bytes = 0 FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'the healthy sink goes on beside them');
my $last = $redis->stream_entries($db, 'geoshard:pins')->[-1];
like($last->[1]{data}, qr/"value":102\b/, 'its latest change arrived');
is($worker_pid->(), $pid, 'the worker never restarted');

# 6. Dropping sinks drops their slots; the streams stay.
$node->safe_psql('postgres', q{SELECT geoshard.drop_cdc_sink('junk'); SELECT geoshard.drop_cdc_sink('badopt')});
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 0 FROM pg_replication_slots WHERE slot_name IN ('geoshard_cdc_junk', 'geoshard_cdc_badopt')}),
	'dropping a sink drops its slot');
is(scalar @{ $redis->stream_ids($db, 'public.pins:inserts') }, 3, 'streams are left alone');

$junk->kill_kill;
$node->stop;

# 7. A server without logical WAL: quiet until there is a sink, then the
# sink says what is missing.
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
geoshard.health_enabled = off
geoshard.redis_url = '@{[ $redis->url($db) ]}'
});
$plain->start;
$plain->safe_psql('postgres', q{CREATE EXTENSION geoshard; SELECT geoshard.add_cdc_sink('pins')});
ok( $plain->poll_query_until(
		'postgres', q{SELECT state = 'retrying' AND last_error ~ '^wal_level is not logical'
		FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'without wal_level = logical a sink says so');
$plain->safe_psql('postgres', q{SELECT geoshard.drop_cdc_sink('pins')});
$plain->stop;
$redis->stop;
done_testing();
