# Proves the status page's Raft, CDC and Redis view sections, and the
# metric families behind them, in a real browser: a two-node Raft group
# (node 1 bootstraps and leads, node 2 joins and its own page shows node 1
# as the leader), a CDC sink and a Redis view
# on a real redis-server, and three regions in three states.  Headless
# Chromium loads / from node 1: the DOM has every region with its state,
# both Raft members with node 1 marked leader and node 2 connected, the
# sink's and the view's lag rows; a screenshot is saved in the test's log
# directory.  The sink's WAL lag and retained WAL on /metrics and in
# geoshard.metrics are pg_replication_slots' figures; the view counts its
# build; with Redis gone, the sink and the view count errors and the page
# shows them retrying, and the view's rebuild after Redis lost its data
# counts as a second build.  Every metric the Grafana dashboard names has
# samples on /metrics.
use strict;
use warnings FATAL => 'all';

use HTTP::Tiny;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use ChromiumTest;
use RedisTest;

my $redis = RedisTest->new;
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $base = "http://127.0.0.1:$port";
my $http = HTTP::Tiny->new(timeout => 10);

my $node = PostgreSQL::Test::Cluster->new('page1');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
output_plugin_libraries = 'pgoutput, test_decoding, geoshard'
geoshard.database = 'postgres'
geoshard.node_id = 1
geoshard.redis_url = '@{[ $redis->url(5) ]}'
geoshard.metrics_listen = '127.0.0.1:$port'
geoshard.breaker_cooldown = '1h'
jit = off
});
$node->start;

my $port2 = PostgreSQL::Test::Cluster::get_free_port();
my $node2 = PostgreSQL::Test::Cluster->new('page2');
$node2->init;
$node2->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
geoshard.node_id = 2
geoshard.health_enabled = off
geoshard.metrics_listen = '127.0.0.1:$port2'
jit = off
});
$node2->start;

my %conninfo;
foreach my $n ($node, $node2)
{
	$n->safe_psql(
		'postgres', q{
		CREATE EXTENSION geoshard;
		CREATE ROLE geoshard_raft LOGIN;
		GRANT USAGE ON SCHEMA geoshard TO geoshard_raft;
		GRANT EXECUTE ON FUNCTION geoshard.raft_receive(bytea) TO geoshard_raft;
		GRANT EXECUTE ON FUNCTION geoshard.raft_exchange(bytea) TO geoshard_raft;
	});
	$conninfo{$n->name} = 'host=' . $n->host . ' port=' . $n->port . ' dbname=postgres user=geoshard_raft';
}

sub poll_until
{
	my ($check) = @_;
	for (my $i = 0; $i < 600; $i++)
	{
		return 1 if $check->();
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

sub page { return $http->get("$base/")->{content} // ''; }

# the value of one sample of geoshard.metrics, '' when there is none
sub metric
{
	my ($name, $labels) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT value FROM geoshard.metrics WHERE name = '$name' AND labels = '$labels'::jsonb});
}

# 1. Three regions in three states; nothing listens on port 9 of loopback.
$node->safe_psql(
	'postgres', qq{
	SELECT geoshard.add_region('eu-west-1', 53.35, -6.26, endpoint => '$base/healthz', load => 0.3);
	SELECT geoshard.add_region('us-east-1', 38.9, -77.0, endpoint => 'tcp://127.0.0.1:9');
	SELECT geoshard.add_region('sa-east-1', -23.55, -46.63);
	SELECT geoshard.drain_region('sa-east-1');
	SELECT route_region(48.85, 2.35, NULL) FROM generate_series(1, 5);
	CREATE TABLE pins (id int PRIMARY KEY, lat float8, lon float8);
	INSERT INTO pins SELECT g, 47.6 + g * 0.001, -122.33 FROM generate_series(1, 5) g;
});

# 2. A Raft group of two: node 1 bootstraps, node 2 joins through the log.
my $cluster_id = $node->safe_psql('postgres', "SELECT geoshard.raft_bootstrap('n1', '$conninfo{page1}')");
ok($node->poll_query_until('postgres', q{SELECT role = 'leader' FROM geoshard.raft_status}),
	'node 1 leads its group of one');
$node2->safe_psql('postgres', "SELECT geoshard.raft_join('$cluster_id')");
$node->safe_psql('postgres', "SELECT geoshard.raft_add_node(2, 'n2', '$conninfo{page2}')");
ok( $node->poll_query_until(
		'postgres', q{SELECT bool_and(connected) AND count(*) = 1 FROM geoshard.raft_peers WHERE node = 2}),
	'node 1 is connected to node 2');
ok($node2->poll_query_until('postgres', q{SELECT leader = 1 FROM geoshard.raft_status}),
	'node 2 follows node 1');

# 3. A CDC sink and a Redis view, both streaming.
$node->safe_psql(
	'postgres', q{
	SELECT geoshard.add_cdc_sink('pins', options => '{"include-tables": "public.pins"}');
	SELECT geoshard.add_redis_view('near', 'pins', 'geo');
});
ok( $node->poll_query_until(
		'postgres', q{SELECT state = 'streaming' FROM geoshard.cdc_status WHERE sink = 'pins'}),
	'the sink streams');
ok( $node->poll_query_until(
		'postgres', q{SELECT state = 'streaming' AND keys = 5 FROM geoshard.redisview_status WHERE view = 'near'}),
	'the view is built');

# 4. The sink's WAL figures are its slot's, as pg_replication_slots has them
# (polled: WAL may move between the two reads of one query).
$node->safe_psql('postgres', q{INSERT INTO pins VALUES (6, 47.7, -122.3)});
my $slot_figures = q{
	SELECT bool_and(m.value = CASE m.name
			WHEN 'geoshard_cdc_lag_bytes' THEN pg_wal_lsn_diff(pg_current_wal_flush_lsn(), r.confirmed_flush_lsn)
			WHEN 'geoshard_cdc_retained_wal_bytes' THEN pg_wal_lsn_diff(pg_current_wal_lsn(), r.restart_lsn) END)
		AND count(*) = 2
	FROM geoshard.metrics m, geoshard.cdc_sinks s, pg_replication_slots r
	WHERE m.name IN ('geoshard_cdc_lag_bytes', 'geoshard_cdc_retained_wal_bytes')
		AND m.labels = jsonb_build_object('sink', s.name) AND r.slot_name = s.slot_name};
ok($node->poll_query_until('postgres', $slot_figures),
	'the sink\'s WAL lag and retained WAL are its slot\'s');
cmp_ok(metric('geoshard_cdc_retained_wal_bytes', '{"sink": "pins"}'), '>', 0, 'the slot keeps some WAL');
is(metric('geoshard_redisview_builds_total', '{"view": "near"}'), '1', 'the view counts one build');
is(metric('geoshard_redisview_errors_total', '{"view": "near"}'), '0', 'and no error');

# 5. The page, first over HTTP, then in Chromium.
my %regions = ('eu-west-1' => 'closed', 'us-east-1' => 'open', 'sa-east-1' => 'drained');
my $member1 = qr/<tr data-node="1" data-role="leader" data-leader="true">/;
my $member2 = qr/<tr data-node="2" data-role="member"><td>2<\/td><td>member<\/td><td class="connected">connected/;
my $sink_row = qr/<tr data-sink="pins" data-state="streaming" data-lag-seconds="[0-9.]+">/;
my $view_row = qr/<tr data-view="near" data-state="streaming" data-lag-seconds="[0-9.]+">/;
ok( poll_until(
		sub {
			my $p = page();
			!grep({ $p !~ /<tr data-region="$_" data-state="$regions{$_}">/ } keys %regions)
			  && $p =~ $member1 && $p =~ $member2 && $p =~ $sink_row && $p =~ $view_row;
		}),
	'the page shows the regions, the Raft members, the sink and the view');

# node 2's own page: it follows, and marks node 1 as the leader
ok( poll_until(
		sub {
			my $p = $http->get("http://127.0.0.1:$port2/")->{content} // '';
			$p =~ /<tr data-node="2" data-role="follower"><td>2 \(this node\)<\/td>/
			  && $p =~ /<tr data-node="1" data-role="leader" data-leader="true"><td>1 <span class="leader">/;
		}),
	'node 2\'s page shows it following node 1, marked leader');

my $out = $PostgreSQL::Test::Utils::log_path;
my $dom = ChromiumTest::dump_dom("$base/");
like($dom, qr/<svg id="map"/, 'Chromium rendered the page with its map');
foreach my $region (sort keys %regions)
{
	like($dom, qr/<g class="region $regions{$region}" data-region="$region" data-state="$regions{$region}">/,
		"the map has $region, $regions{$region}");
}
like($dom, qr/<section id="raft">.*<table id="raft-members">/s, 'the Raft section lists the members');
like($dom, $member1, 'node 1 is this node and marked leader');
like($dom, qr/$member1<td>1 \(this node\) <span class="leader">/, 'with a leader badge');
like($dom, $member2, 'node 2 is a connected member');
is(scalar(() = $dom =~ /data-leader="true"/g), 1, 'one leader is marked');
like($dom, qr/<table id="cdc-sinks">.*$sink_row<td>pins<\/td><td class="streaming">streaming<\/td><td>(caught up|[0-9.]+ s)<\/td><td>\d+ (B|kB|MB)<\/td><td>\d+ (B|kB|MB)<\/td><td>0<\/td>/s,
	'the sink has a lag row: state, lag, WAL behind, WAL kept, errors');
like($dom, qr/<table id="redis-views">.*$view_row<td>near<\/td><td class="streaming">streaming<\/td><td>(caught up|[0-9.]+ s)<\/td><td>\d+ (B|kB|MB)<\/td><td>6<\/td><td>0<\/td>/s,
	'the view has a lag row: state, lag, WAL behind, keys, errors');
like($dom, qr/data-reason="[a-z_]+"/, 'the routing reasons of the last minute are listed');

my $shot = "$out/041_status_page.png";
ChromiumTest::screenshot("$base/", '1400,1000', $shot);
ok(-s $shot && -s $shot > 10_000, "a screenshot is saved: $shot");

# 6. Redis gone: the sink and the view count errors, and the page shows them
# retrying.  Redis comes back empty: the view is built again.
$redis->stop;
$node->safe_psql('postgres', q{INSERT INTO pins VALUES (7, 47.8, -122.3)});
ok( $node->poll_query_until(
		'postgres', q{SELECT value > 0 FROM geoshard.metrics
			WHERE name = 'geoshard_redisview_errors_total' AND labels = '{"view": "near"}'}),
	'the view counts errors while Redis is gone');
ok( $node->poll_query_until(
		'postgres', q{SELECT value > 0 FROM geoshard.metrics
			WHERE name = 'geoshard_cdc_errors_total' AND labels = '{"sink": "pins"}'}),
	'so does the sink');
cmp_ok(metric('geoshard_cdc_lag_bytes', '{"sink": "pins"}'), '>', 0, 'the sink falls behind in WAL');
ok( poll_until(
		sub {
			my $p = page();
			$p =~ /<tr data-sink="pins" data-state="retrying"/ && $p =~ /<tr data-view="near" data-state="retrying"/;
		}),
	'the page shows the sink and the view retrying');
$redis->start;
ok( $node->poll_query_until(
		'postgres', q{SELECT value = 2 FROM geoshard.metrics
			WHERE name = 'geoshard_redisview_builds_total' AND labels = '{"view": "near"}'}),
	'the view is built again, a second build');
ok( $node->poll_query_until(
		'postgres', q{SELECT state = 'streaming' AND keys = 7 FROM geoshard.redisview_status WHERE view = 'near'}),
	'and holds the seven rows');

# 7. /metrics has the new families.
my $body = $http->get("$base/metrics")->{content} // '';
like($body, qr/^# TYPE geoshard_cdc_lag_bytes gauge$/m, '/metrics: cdc lag in bytes is a gauge');
like($body, qr/^geoshard_cdc_retained_wal_bytes\{sink="pins"\} \d+$/m, '/metrics: retained WAL per sink');
like($body, qr/^# TYPE geoshard_redisview_errors_total counter$/m, '/metrics: view errors are a counter');
like($body, qr/^geoshard_redisview_builds_total\{view="near"\} \d+$/m, '/metrics: builds per view');
like($body, qr/^geoshard_raft_peer_connected\{peer="2"\} 1$/m, '/metrics: node 2 is a connected peer');
like($body, qr/^# TYPE geoshard_raft_peer_rtt_seconds gauge$/m,
	'/metrics: Raft round trips (whole milliseconds: on loopback often none yet)');

# With every area active, each metric the Grafana dashboard names has samples.
my %sampled = map { $_ => 1 } $body =~ /^([a-z_]+)(?:\{| )/mg;
my $dashboard = decode_json(slurp_file("$ENV{GEOSHARD_SRC}/docs/grafana-dashboard.json"));
my %named;
foreach my $panel (@{ $dashboard->{panels} })
{
	$named{$_}++ foreach map { $_->{expr} =~ /\b(geoshard_[a-z_]+)/g } @{ $panel->{targets} // [] };
}
is(join(', ', grep { !$sampled{$_} } sort keys %named), '', 'every metric of the dashboard has samples');
cmp_ok(scalar(grep { /^geoshard_(raft|cdc|redisview|rate_limit)_/ } keys %named), '>=', 20,
	'the dashboard has raft, cdc, redisview and rate limit panels');

$node2->stop;
$node->stop;
unlike(slurp_file($node->logfile), qr/terminated by signal|PANIC/, 'no crash in the server log');

done_testing();
