# Proves that rows of geoshard.settings named after the health worker's
# settings override postgresql.conf in that worker: breaker_failures from the
# table opens a breaker that postgresql.conf's threshold keeps closed; an
# invalid value is logged and ignored; removing the row brings back
# postgresql.conf's value.  And that on a raft group one
# raft_set_setting on the leader changes a follower's health worker alike.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RaftTest qw();

# every GET answers 503: each probe fails
my $http_port = PostgreSQL::Test::Cluster::get_free_port();
my $http_script = q{
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        self.send_response(503)
        self.send_header('Content-Length', '0')
        self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
};
my $http_out;
my $http = IPC::Run::start([ 'python3', '-c', $http_script, $http_port ], '<', \undef, '>&', \$http_out);
my $endpoint = "http://127.0.0.1:$http_port/";

# postgresql.conf: a breaker opens after 1000 failures, i.e. never here
my $health_conf = q{
geoshard.health_enabled = on
geoshard.health_interval = '100ms'
geoshard.health_timeout = '1s'
geoshard.breaker_failures = 1000
geoshard.breaker_cooldown = '1h'
geoshard.health_panic_threshold = 0
};

sub state_of
{
	my ($node, $region) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT state || ' ' || (consecutive_failures >= 5)::text FROM geoshard.region_health WHERE region = '$region'});
}

# 1. A node in no group: the table is written directly.
my $node = PostgreSQL::Test::Cluster->new('alone');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'geoshard'\ngeoshard.database = 'postgres'\n" . $health_conf);
$node->start;
$node->safe_psql('postgres',
	qq{CREATE EXTENSION geoshard; SELECT geoshard.add_region('r1', 10, 10, endpoint => '$endpoint')});
ok( $node->poll_query_until('postgres',
		q{SELECT consecutive_failures >= 5 FROM geoshard.region_health WHERE region = 'r1'}),
	'the region fails its probes');
is(state_of($node, 'r1'), 'closed true', 'postgresql.conf: five failures in a row keep the breaker closed');

my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{INSERT INTO geoshard.settings VALUES ('geoshard.breaker_failures', 'many')});
ok($node->wait_for_log(qr/geoshard health: geoshard.settings holds an invalid value for geoshard.breaker_failures: "many"; postgresql.conf's applies/,
		$log_offset), 'an invalid value is logged');
is(state_of($node, 'r1'), 'closed true', 'and ignored');

$node->safe_psql('postgres', q{UPDATE geoshard.settings SET value = '3' WHERE key = 'geoshard.breaker_failures'});
ok($node->poll_query_until('postgres', q{SELECT state = 'open' FROM geoshard.region_health WHERE region = 'r1'}),
	'breaker_failures = 3 from geoshard.settings opens the breaker');
ok($node->wait_for_log(qr/geoshard health: geoshard.breaker_failures = "3" from geoshard.settings/, $log_offset),
	'the override is logged');
is($node->safe_psql('postgres', 'SHOW geoshard.breaker_failures'), '1000',
	'sessions still show postgresql.conf\'s value');

# the breaker closes again only by probes that succeed; a new region shows the threshold
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{DELETE FROM geoshard.settings WHERE key = 'geoshard.breaker_failures'});
ok($node->wait_for_log(qr/geoshard health: geoshard.breaker_failures takes postgresql.conf's value again/,
		$log_offset), 'without the row, postgresql.conf\'s value is back');
$node->safe_psql('postgres', qq{SELECT geoshard.add_region('r2', 11, 11, endpoint => '$endpoint')});
ok( $node->poll_query_until('postgres',
		q{SELECT consecutive_failures >= 5 FROM geoshard.region_health WHERE region = 'r2'}),
	'a second region fails its probes');
is(state_of($node, 'r2'), 'closed true', 'and its breaker stays closed under postgresql.conf\'s 1000');
$node->stop;

# 2. A raft group of two: set on the leader, the follower's worker follows.
RaftTest::new_node($_, conf => $health_conf) foreach 1, 2;
my %n = %RaftTest::node;
my $cluster = $n{1}->safe_psql('postgres', "SELECT geoshard.raft_bootstrap('n1', '" . RaftTest::conninfo(1) . "')");
RaftTest::wait_leader(1);
$n{2}->safe_psql('postgres', "SELECT geoshard.raft_join('$cluster')");
$n{1}->safe_psql('postgres', "SELECT geoshard.raft_add_node(2, 'n2', '" . RaftTest::conninfo(2) . "')");
$n{1}->safe_psql('postgres', qq{SELECT geoshard.add_region('g1', 12, 12, endpoint => '$endpoint')});
ok( $n{2}->poll_query_until('postgres',
		q{SELECT consecutive_failures >= 5 FROM geoshard.region_health WHERE region = 'g1'}),
	'group: the follower probes the replicated region');
is(state_of($n{2}, 'g1'), 'closed true', 'group: its breaker stays closed under postgresql.conf');
$n{1}->safe_psql('postgres', q{SELECT geoshard.raft_set_setting('geoshard.breaker_failures', '2')});
ok($n{2}->poll_query_until('postgres', q{SELECT state = 'open' FROM geoshard.region_health WHERE region = 'g1'}),
	'group: raft_set_setting on the leader opens the follower\'s breaker');

$n{$_}->stop foreach 1, 2;
$http->kill_kill;
done_testing();
