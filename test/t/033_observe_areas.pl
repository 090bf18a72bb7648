# Proves that raft, cdc, redisview and ratelimit show their figures in
# geoshard.metrics and on /metrics after real activity on one node: three
# rate_limit calls (two allowed, one denied), a raft group of one
# (bootstrapped, leading, its indexes as raft_status has them), a cdc sink
# and a Redis view on a real redis-server (events published, rows applied
# and keys held as counted), and that a node in no raft group has no raft
# samples.
use strict;
use warnings FATAL => 'all';

use HTTP::Tiny;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use RedisTest;

my $redis = RedisTest->new;
my $metrics_port = PostgreSQL::Test::Cluster::get_free_port();
my $http = HTTP::Tiny->new(timeout => 10);

my $node = PostgreSQL::Test::Cluster->new('areas');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
output_plugin_libraries = 'pgoutput, test_decoding, geoshard'
geoshard.database = 'postgres'
geoshard.node_id = 1
geoshard.health_enabled = off
geoshard.redis_url = '@{[ $redis->url(3) ]}'
geoshard.metrics_listen = '127.0.0.1:$metrics_port'
jit = off
});
$node->start;
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION geoshard;
	CREATE TABLE pins (id int PRIMARY KEY, lat float8, lon float8);
	INSERT INTO pins SELECT g, 47.6 + g * 0.001, -122.33 FROM generate_series(1, 5) g;
});

# the value of one sample of geoshard.metrics, '' when there is none
sub metric
{
	my ($name, $labels) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT value FROM geoshard.metrics WHERE name = '$name' AND labels = '$labels'::jsonb});
}

# 1. Before any activity: the families are there, raft has no samples.
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM geoshard.metrics WHERE name LIKE 'geoshard\_raft\_%'}),
	'0', 'a node in no raft group has no raft samples');
is(metric('geoshard_rate_limit_keys_capacity', '{}'),
	$node->safe_psql('postgres', 'SELECT capacity FROM geoshard.rate_limit_usage'),
	'the rate limit capacity is the table\'s');

# 2. Rate limiting: two allowed, one denied.
$node->safe_psql('postgres',
	q{SELECT rate_limit('observe', 0.001, 2) FROM generate_series(1, 3)});
is(metric('geoshard_rate_limit_decisions_total', '{"result": "allowed"}'), '2', 'two decisions allowed');
is(metric('geoshard_rate_limit_decisions_total', '{"result": "denied"}'), '1', 'one decision denied');
is(metric('geoshard_rate_limit_evictions_total', '{}'), '0', 'no key evicted');

# 3. Raft: a group of one leads itself; the metrics agree with raft_status.
my $conninfo = 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres';
$node->safe_psql('postgres', "SELECT geoshard.raft_bootstrap('n1', '$conninfo')");
ok( $node->poll_query_until(
		'postgres', q{SELECT role = 'leader' AND applied_index = commit_index FROM geoshard.raft_status}),
	'the founding node leads');
my $raft_agrees = q{
	SELECT bool_and(m.value = CASE m.name
			WHEN 'geoshard_raft_term' THEN s.term
			WHEN 'geoshard_raft_commit_index' THEN s.commit_index
			WHEN 'geoshard_raft_applied_index' THEN s.applied_index
			WHEN 'geoshard_raft_leader' THEN s.leader
			WHEN 'geoshard_raft_is_leader' THEN 1
			WHEN 'geoshard_raft_leader_changes_total' THEN 1 END) AND count(*) = 6
	FROM geoshard.metrics m, geoshard.raft_status s
	WHERE m.name LIKE 'geoshard\_raft\_%'};
is($node->safe_psql('postgres', $raft_agrees), 't',
	'six raft families, as raft_status has them, one leader change');
is(metric('geoshard_raft_leader', '{}'), '1', 'the leader is node 1');
cmp_ok(metric('geoshard_raft_commit_index', '{}'), '>', 0, 'something is committed');

# 4. A cdc sink publishes five events; a Redis view holds five rows, then seven.
$node->safe_psql('postgres', q{
	SELECT geoshard.add_cdc_sink('pins', options => '{"include-tables": "public.pins"}');
	SELECT geoshard.add_redis_view('near', 'pins', 'geo');
});
ok( $node->poll_query_until(
		'postgres', q{SELECT state = 'streaming' FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'the sink streams');
ok( $node->poll_query_until(
		'postgres', q{SELECT state = 'streaming' AND keys = 5 FROM geoshard.redisview_status WHERE view = 'near'}),
	'the view is built');
$node->safe_psql('postgres', q{
	INSERT INTO pins VALUES (6, 47.7, -122.3), (7, 47.8, -122.3);
	UPDATE pins SET lat = lat + 0.0001 WHERE id <= 3;
});
ok( $node->poll_query_until(
		'postgres', q{SELECT value = 5 FROM geoshard.metrics
			WHERE name = 'geoshard_cdc_events_published_total' AND labels = '{"sink": "pins"}'}),
	'five events published (two inserts, three updates)');
is(metric('geoshard_cdc_events_published_total', '{"sink": "pins"}'),
	$node->safe_psql('postgres', q{SELECT published FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'as cdc_status counts them');
is(metric('geoshard_cdc_errors_total', '{"sink": "pins"}'), '0', 'no cdc errors');
is(metric('geoshard_cdc_events_skipped_total', '{"sink": "pins"}'), '0', 'nothing skipped');
cmp_ok(metric('geoshard_cdc_redis_rtt_seconds', '{"sink": "pins"}'), '>', 0, 'a Redis round trip');
cmp_ok(metric('geoshard_cdc_redis_rtt_seconds', '{"sink": "pins"}'), '<', 10, 'in seconds');
ok( $node->poll_query_until(
		'postgres', q{SELECT value = 7 FROM geoshard.metrics
			WHERE name = 'geoshard_redisview_keys' AND labels = '{"view": "near"}'}),
	'the view holds seven rows');
ok( $node->poll_query_until(
		'postgres', q{SELECT value = 5 FROM geoshard.metrics
			WHERE name = 'geoshard_redisview_changes_applied_total' AND labels = '{"view": "near"}'}),
	'five row changes applied');
is(metric('geoshard_redisview_generation', '{"view": "near"}'), '1', 'one build went live');
ok( $node->poll_query_until(
		'postgres', q{SELECT value = 0 FROM geoshard.metrics
			WHERE name = 'geoshard_redisview_lag_seconds' AND labels = '{"view": "near"}'}),
	'the view catches up');

# 5. /metrics has the same figures.
my $body = '';
my $scraped = 0;
for (1 .. 300)
{
	my $res = $http->get("http://127.0.0.1:$metrics_port/metrics");
	$body = $res->{content} // '';
	if ($res->{status} == 200
		&& $body =~ /^geoshard_cdc_events_published_total\{sink="pins"\} 5$/m
		&& $body =~ /^geoshard_redisview_keys\{view="near"\} 7$/m
		&& $body =~ /^geoshard_raft_is_leader 1$/m)
	{
		$scraped = 1;
		last;
	}
	select(undef, undef, undef, 0.1);
}
ok($scraped, '/metrics shows cdc, redisview and raft figures');
like($body, qr/^geoshard_rate_limit_decisions_total\{result="allowed"\} 2$/m, '/metrics: allowed decisions');
like($body, qr/^geoshard_rate_limit_decisions_total\{result="denied"\} 1$/m, '/metrics: denied decisions');
like($body, qr/^# TYPE geoshard_raft_leader_changes_total counter$/m, '/metrics: raft leader changes is a counter');
like($body, qr/^geoshard_raft_leader 1$/m, '/metrics: the raft leader');
like($body, qr/^geoshard_cdc_lag_seconds\{sink="pins"\} /m, '/metrics: cdc lag');
like($body, qr/^geoshard_redisview_lag_bytes\{view="near"\} \d+$/m, '/metrics: redisview lag in bytes');
like($body, qr/^# TYPE geoshard_rate_limit_keys_capacity gauge$/m, '/metrics: capacity is a gauge');

$node->stop;
done_testing();
