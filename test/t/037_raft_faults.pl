# Raft faults on five nodes on loopback: bootstrap and four joins, then one
# scenario after another, each ending with every live node's replicated
# tables identical (test/RaftTest.pm compares geoshard.settings, nodes,
# regions, geo_fences and shards):
#   1. the leader SIGKILLed: the survivors elect a new leader that commits;
#      the killed node restarts and catches up;
#   2. the leader stopped with pg_ctl -m immediate: the same, and nothing it
#      committed is lost;
#   3. a follower restarted while the group commits without it: it catches up;
#   4. a follower removed through the log: the group commits without it and it
#      stops receiving entries; added again, it catches up.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use RaftTest;

my @all = (1 .. 5);
RaftTest::new_node($_) foreach @all;
my $node = \%RaftTest::node;

sub setting
{
	my ($id, $key) = @_;
	return $node->{$id}->safe_psql('postgres', "SELECT value FROM geoshard.settings WHERE key = '$key'");
}

# 0. Bootstrap and four joins, one server at a time.
my $cluster_id = $node->{1}->safe_psql('postgres',
	"SELECT geoshard.raft_bootstrap('n1', '" . RaftTest::conninfo(1) . "')");
is(RaftTest::wait_leader(1), 1, 'node 1 founds the group and leads it');
foreach my $id (2 .. 5)
{
	$node->{$id}->safe_psql('postgres', "SELECT geoshard.raft_join('$cluster_id')");
	RaftTest::propose("SELECT geoshard.raft_add_node($id, 'n$id', '" . RaftTest::conninfo($id) . "')",
		1 .. $id - 1);
}
my $voters = join(',', map { "$_:voter" } @all);
is( $node->{1}->safe_psql('postgres',
		q{SELECT string_agg(format('%s:%s', id, role), ',' ORDER BY id) FROM geoshard.nodes}),
	$voters, 'five voters');
RaftTest::propose("SELECT geoshard.raft_set_setting('scenario', 'joined')", @all);
RaftTest::same_tables_ok('after the joins', @all);

# Kill or stop the leader; the other four elect a new leader in a later term,
# which commits.  Returns (old leader, new leader).
sub lose_leader
{
	my ($how, $key) = @_;
	my $leader = RaftTest::wait_leader(@all);
	my $term = $node->{$leader}->safe_psql('postgres', 'SELECT term FROM geoshard.raft_status');
	my $committed = RaftTest::propose("SELECT geoshard.raft_set_setting('$key', 'before')", @all);
	my $t0 = time;
	if ($how eq 'kill9')
	{
		$node->{$leader}->kill9;
	}
	else
	{
		$node->{$leader}->stop('immediate');
	}
	my @alive = grep { $_ != $leader } @all;
	my $new = RaftTest::wait_leader(@alive);
	ok(defined $new, "$how: the four survivors of leader $leader elect node "
		  . ($new // 'none') . sprintf(' (%.2f s)', time - $t0));
	cmp_ok($node->{$new}->safe_psql('postgres', 'SELECT term FROM geoshard.raft_status'),
		'>', $term, "$how: in a later term than $term");
	is(setting($new, $key), 'before', "$how: the new leader has the old leader's last commit (index $committed)");
	RaftTest::propose("SELECT geoshard.raft_set_setting('$key', 'after')", @alive);
	# the catalogue too: a region and a shard per scenario
	RaftTest::propose("SELECT FROM geoshard.add_region('r-$how', 10, 20, endpoint => 'tcp://127.0.0.1:1')", @alive);
	RaftTest::propose("SELECT geoshard.add_shard('" . ($how eq 'kill9' ? '0' : '1') . "', 'n$new')", @alive);
	RaftTest::same_tables_ok("$how: the survivors", @alive);
	return ($leader, $new);
}

# 1. Leader SIGKILL; the killed node restarts and catches up.
my ($old, $new) = lose_leader('kill9', 'kill9.key');
RaftTest::start($node->{$old});
RaftTest::propose("SELECT geoshard.raft_set_setting('scenario', 'kill9 done')", @all);
RaftTest::same_tables_ok('kill9: the restarted node caught up', @all);
is(setting($old, 'kill9.key'), 'after', "kill9: node $old applied what was committed while it was down");

# 2. Leader stopped with pg_ctl -m immediate; it comes back and catches up.
($old, $new) = lose_leader('immediate', 'immediate.key');
RaftTest::start($node->{$old});
isnt(RaftTest::wait_leader(@all), undef, 'immediate: the old leader rejoins the group');
is($node->{$old}->safe_psql('postgres', 'SELECT role FROM geoshard.raft_status'), 'follower',
	"immediate: node $old follows") if RaftTest::agreed_leader(@all) != $old;
RaftTest::propose("SELECT geoshard.raft_set_setting('scenario', 'immediate done')", @all);
RaftTest::same_tables_ok('immediate: the old leader caught up', @all);

# 3. A follower restarts while the group commits without it.
my $leader = RaftTest::wait_leader(@all);
my ($follower) = grep { $_ != $leader } @all;
$node->{$follower}->stop('fast');
my @alive = grep { $_ != $follower } @all;
RaftTest::propose("SELECT geoshard.raft_set_setting('restart.key', '$_')", @alive) foreach 1 .. 20;
RaftTest::propose("SELECT geoshard.split_shard('0')", @alive);
RaftTest::propose("SELECT geoshard.update_region('r-kill9', cost => 2)", @alive);
RaftTest::same_tables_ok('restart: four commit without the stopped follower', @alive);
is($node->{$follower}->start, 1, "restart: follower $follower starts again");
RaftTest::same_tables_ok('restart: the follower caught up', @all);
is(setting($follower, 'restart.key'), '20', "restart: node $follower has the last of 20 commits");
is($node->{$follower}->safe_psql('postgres', "SELECT count(*) FROM geoshard.shards WHERE prefix <@ '0'"),
	'4', "restart: node $follower has the split made while it was down");

# 4. A follower removed through the log, then added again.
$leader = RaftTest::wait_leader(@all);
my ($removed) = grep { $_ != $leader } reverse @all;
my @members = grep { $_ != $removed } @all;
my $term = $node->{$leader}->safe_psql('postgres', 'SELECT term FROM geoshard.raft_status');
RaftTest::propose("SELECT geoshard.raft_remove_node($removed)", @all);
is( $node->{$leader}->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM geoshard.nodes}),
	join(',', @members), "remove: the leader lists four members without node $removed");
RaftTest::propose("SELECT geoshard.raft_set_setting('remove.key', 'without')", @members);
RaftTest::same_tables_ok('remove: the four members', @members);
is(setting($removed, 'remove.key'), '', "remove: node $removed receives no entry after its removal");
my ($ret, $out, $err) = $node->{$removed}->psql('postgres',
	"SET geoshard.raft_propose_timeout_ms = 1000; SELECT geoshard.raft_set_setting('remove.key', 'from outside')");
isnt($ret, 0, "remove: node $removed cannot commit on its own");
is($node->{$leader}->safe_psql('postgres', "SELECT count(*) FROM geoshard.raft_peers WHERE node = $removed"),
	'0', "remove: the leader does not list the removed node among its peers while it asks for votes");
is($node->{$leader}->safe_psql('postgres', 'SELECT role || \' \' || term FROM geoshard.raft_status'),
	"leader $term", "remove: the removed node's elections do not disturb the group (pre-vote)");
RaftTest::propose("SELECT geoshard.raft_add_node($removed, 'n$removed', '" . RaftTest::conninfo($removed) . "')",
	@members);
is( $node->{$leader}->safe_psql('postgres',
		q{SELECT string_agg(format('%s:%s', id, role), ',' ORDER BY id) FROM geoshard.nodes}),
	$voters, "re-add: node $removed is a voter again");
RaftTest::propose("SELECT geoshard.raft_set_setting('remove.key', 'with')", @all);
RaftTest::same_tables_ok('re-add: the re-added node caught up', @all);
is(setting($removed, 'remove.key'), 'with', "re-add: node $removed applies new entries");

done_testing();
