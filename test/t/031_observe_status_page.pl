# Proves the status page at / in a real browser: headless Chromium loads
# it from the metrics worker; the DOM has every region, on the map and in
# the table, with its state (closed, open, forced half-open, drained),
# and the routing reasons of the last minute; a screenshot is saved in the
# test's log directory.  Also proves that the Grafana dashboard in docs/
# parses and names only metrics the endpoint serves (families announced on
# /metrics; 041 checks that each has samples with every area active).
use strict;
use warnings FATAL => 'all';

use HTTP::Tiny;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use ChromiumTest;

my $src = $ENV{GEOSHARD_SRC} // '.';
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $base = "http://127.0.0.1:$port";
my $http = HTTP::Tiny->new(timeout => 10);

my $node = PostgreSQL::Test::Cluster->new('status');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
geoshard.node_id = 1
geoshard.metrics_listen = '127.0.0.1:$port'
geoshard.breaker_cooldown = '1h'
jit = off
});
$node->start;

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

# four regions in four states: probed and up, probed and down (open),
# forced half-open, drained; nothing listens on port 9 of loopback
$node->safe_psql('postgres', qq{
	CREATE EXTENSION geoshard;
	SELECT geoshard.add_region('eu-west-1', 53.35, -6.26, endpoint => '$base/healthz', load => 0.4);
	SELECT geoshard.add_region('us-east-1', 38.9, -77.0, endpoint => 'tcp://127.0.0.1:9');
	SELECT geoshard.add_region('ap-southeast-1', 1.29, 103.85, capacity => 2, load => 1);
	SELECT geoshard.add_region('sa-east-1', -23.55, -46.63);
	SELECT geoshard.drain_region('sa-east-1');
	SELECT route_region(48.85, 2.35, NULL) FROM generate_series(1, 9);
});
# the health worker knows the regions once it has synced them
ok( poll_until(
		sub {
			$node->safe_psql('postgres', q{SELECT count(*) FROM geoshard.region_health}) eq '4';
		}),
	'the health worker knows the four regions');
$node->safe_psql('postgres', q{SELECT geoshard.set_region_breaker('ap-southeast-1', 'half_open')});

my %want = (
	'eu-west-1' => 'closed',
	'us-east-1' => 'open',
	'ap-southeast-1' => 'half_open',
	'sa-east-1' => 'drained');
ok( poll_until(
		sub {
			my $page = $http->get("$base/")->{content} // '';
			!grep { $page !~ /<tr data-region="$_" data-state="$want{$_}">/ } keys %want;
		}),
	'the page shows the four states');
is($http->get("$base/")->{headers}{'content-type'}, 'text/html; charset=utf-8', 'the page is HTML');
my $page = $http->get("$base/")->{content};
unlike($page, qr/<(script|link|img)\b|src=|href="http/i, 'the page loads no script and no external asset');
like($page, qr/<meta http-equiv="refresh" content="5">/, 'the page reloads itself every 5 s');

# Chromium, headless, as the unprivileged user the tests run as
my $out = $PostgreSQL::Test::Utils::log_path;
my $dom = ChromiumTest::dump_dom("$base/");
like($dom, qr/<svg id="map"/, 'Chromium rendered the page with its map');
foreach my $region (sort keys %want)
{
	like($dom, qr/<g class="region $want{$region}" data-region="$region" data-state="$want{$region}">/,
		"the map has $region, $want{$region}");
	like($dom, qr/<tr data-region="$region" data-state="$want{$region}">/,
		"the table has $region, $want{$region}");
}
like($dom, qr/data-reason="[a-z_]+"/, 'the routing reasons of the last minute are listed');
like($dom, qr/id="summary">4 regions: 1 closed, 1 half-open, 1 open, 1 out of routing/, 'the summary counts them');

my $shot = "$out/031_status_page.png";
ChromiumTest::screenshot("$base/", '1400,900', $shot);
ok(-s $shot && -s $shot > 10_000, "a screenshot is saved: $shot");
open(my $fh, '<:raw', $shot) or die "$shot: $!";
read($fh, my $magic, 8);
close($fh);
is($magic, "\x89PNG\r\n\x1a\n", 'it is a PNG');

# The Grafana dashboard names only metrics /metrics serves: samples, and
# families announced without samples here (no raft group, sink or view;
# 041 sees samples of those).
my $metrics = $http->get("$base/metrics")->{content};
my %served = map { $_ => 1 } $metrics =~ /^([a-z_]+)(?:\{| )/mg;
$served{$_} = 1 foreach $metrics =~ /^# TYPE ([a-z_]+) (?:counter|gauge)$/mg;
my $dashboard = decode_json(slurp_file("$src/docs/grafana-dashboard.json"));
ok(@{ $dashboard->{panels} } >= 5, 'the dashboard parses and has panels');
my (%named, @unknown);
foreach my $panel (@{ $dashboard->{panels} })
{
	foreach my $target (@{ $panel->{targets} // [] })
	{
		$named{$_}++ foreach $target->{expr} =~ /\b(geoshard_[a-z_]+)/g;
	}
}
foreach my $variable (@{ $dashboard->{templating}{list} })
{
	$named{$_}++ foreach ($variable->{query} // '') =~ /\b(geoshard_[a-z_]+)/g;
}
@unknown = grep { !$served{$_} } sort keys %named;
is(join(', ', @unknown), '', 'every metric the dashboard names is served');
cmp_ok(scalar(keys %named), '>=', 10, 'the dashboard uses at least ten metrics');

$node->stop;
unlike(slurp_file($node->logfile), qr/terminated by signal|PANIC/, 'no crash in the server log');

done_testing();
