# Proves two membership races that a cluster starting all at once runs into
# (docker/compose.yaml does): two raft_add_node calls made together on the
# leader both succeed, the second waiting for the first's configuration
# change instead of failing with libraft's "a configuration change is
# already in progress"; and a node that has just been added can propose at
# once, forwarding to a leader it knows from libraft before its own
# geoshard.nodes lists it.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use RaftTest;

my $node = \%RaftTest::node;
RaftTest::new_node($_) foreach 1 .. 5;
my $cluster = $node->{1}->safe_psql('postgres', "SELECT geoshard.raft_bootstrap('n1', '" . RaftTest::conninfo(1) . "')");
is(RaftTest::wait_leader(1), 1, 'node 1 leads its new group');
$node->{$_}->safe_psql('postgres', "SELECT geoshard.raft_join('$cluster')") foreach 2 .. 5;

# 1. Two additions at once on the leader, while changes cannot commit: with
# voter 2 stopped, the first addition's entry stays uncommitted, so the
# second one meets libraft's "a configuration change is already in progress";
# it must wait, and both succeed once node 2 is back.  Node 1 gets a long
# election timeout first: a leader without a majority steps down after one,
# and a busy machine could otherwise see it step down before the first
# addition reached its log.
$node->{1}->safe_psql('postgres', "SELECT geoshard.raft_add_node(2, 'n2', '" . RaftTest::conninfo(2) . "')");
$node->{1}->safe_psql('postgres', 'ALTER SYSTEM SET geoshard.raft_election_timeout_ms = 30000');
$node->{1}->reload;
Time::HiRes::sleep(1);    # the worker reads its settings again within a heartbeat
$node->{2}->stop('fast');
my (%out, %err, %run);
sub add_in_background
{
	my ($id) = @_;
	$run{$id} = IPC::Run::start(
		[
			'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->{1}->connstr('postgres'), '-c',
			"SET geoshard.raft_propose_timeout_ms = 60000; "
			  . "SELECT geoshard.raft_add_node($id, 'n$id', '" . RaftTest::conninfo($id) . "') > 0"
		],
		'>', \$out{$id}, '2>', \$err{$id});
}
my $last = $node->{1}->safe_psql('postgres', 'SELECT last_index FROM geoshard.raft_status');
add_in_background(3);
ok( $node->{1}->poll_query_until('postgres', "SELECT last_index > $last FROM geoshard.raft_status"),
	'the first addition is in the log, uncommitted');
add_in_background(4);
Time::HiRes::sleep(1);
$run{$_}->pump_nb foreach 3, 4;
ok($run{4}->pumpable, 'the second addition waits instead of failing') or diag("stderr: $err{4}");
RaftTest::start($node->{2});
foreach my $id (3, 4)
{
	ok($run{$id}->finish, "raft_add_node($id) succeeds once node 2 is back") or diag("stderr: $err{$id}");
}
is( $node->{1}->safe_psql('postgres',
		q{SELECT string_agg(format('%s:%s', id, role), ',' ORDER BY id) FROM geoshard.nodes}),
	'1:voter,2:voter,3:voter,4:voter', 'both joined as voters');
$node->{1}->safe_psql('postgres', 'ALTER SYSTEM RESET geoshard.raft_election_timeout_ms');
$node->{1}->reload;

# 2. A node proposes right after its addition returned.
$node->{1}->safe_psql('postgres', "SELECT geoshard.raft_add_node(5, 'n5', '" . RaftTest::conninfo(5) . "')");
my $t = time;
my ($ret, $out, $err) = $node->{5}->psql('postgres', q{SELECT geoshard.raft_set_setting('race.key', 'from n5') > 0});
my $took = time - $t;
is($ret, 0, 'the node just added proposes at once') or diag("stderr: $err");
cmp_ok($took, '<', 5, "within seconds, not a proposal timeout (${took}s)");
RaftTest::same_tables_ok('all five agree', 1 .. 5);

done_testing();
