# Proves that peers exchange messages through geoshard.raft_exchange, one
# call per round trip, with the answer as the call's result: in a
# three-node group no node is ever called through raft_receive; a node that
# does not let the peers' role call raft_exchange is reached through
# raft_receive instead (logged, with a hint), without losing a proposal,
# and through raft_exchange again once the grant is back; raft_exchange
# refuses what raft_receive refuses; and the upgrade to 0.6 grants it to
# every role that may call raft_receive, and to nobody else.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use RaftTest qw(%node);

RaftTest::new_node($_, conf => "track_functions = 'all'\n") foreach 1 .. 3;
my $cluster = $node{1}->safe_psql('postgres', "SELECT geoshard.raft_bootstrap('n1', '" . RaftTest::conninfo(1) . "')");
is(RaftTest::wait_leader(1), 1, 'node 1 leads its new group');
foreach my $id (2, 3)
{
	$node{$id}->safe_psql('postgres', "SELECT geoshard.raft_join('$cluster')");
	$node{1}->safe_psql('postgres', "SELECT geoshard.raft_add_node($id, 'n$id', '" . RaftTest::conninfo($id) . "')");
}

# calls of a raft function on a node, as its statistics say (they are
# flushed by the serving backends about once a second)
sub calls
{
	my ($id, $fn) = @_;
	return $node{$id}->safe_psql('postgres',
		"SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE schemaname = 'geoshard' AND funcname = '$fn'");
}

# 1. Every message goes through raft_exchange: the leader calls the
# followers, whose answers come back as the calls' results (so they seldom
# need to call the leader at all).
RaftTest::propose("SELECT geoshard.raft_set_setting('exchange.k$_', 'v')", 1, 2, 3) foreach 1 .. 20;
my $first = RaftTest::wait_leader(1, 2, 3);
foreach my $id (grep { $_ != $first } 1 .. 3)
{
	ok($node{$id}->poll_query_until('postgres',
			"SELECT sum(calls) > 0 FROM pg_stat_user_functions WHERE funcname = 'raft_exchange'"),
		"follower $id is called through raft_exchange");
}
is(calls($_, 'raft_receive'), 0, "node $_ is never called through raft_receive") foreach 1 .. 3;
RaftTest::same_tables_ok('all three agree', 1 .. 3);

# 2. A node whose raft_exchange the peers' role may not call is reached
# through raft_receive, and nothing is lost.
my $leader = RaftTest::wait_leader(1, 2, 3);
my ($victim) = grep { $_ != $leader } 1 .. 3;
my $log_at = -s $node{$leader}->logfile;
$node{$victim}->safe_psql('postgres', q{
	REVOKE EXECUTE ON FUNCTION geoshard.raft_exchange(bytea) FROM geoshard_raft;
	SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'geoshard_raft';
});
RaftTest::propose("SELECT geoshard.raft_set_setting('fallback.k$_', 'v')", 1, 2, 3) foreach 1 .. 20;
ok($node{$victim}->poll_query_until('postgres',
		"SELECT sum(calls) > 0 FROM pg_stat_user_functions WHERE funcname = 'raft_receive'"),
	"without the grant, node $victim is called through raft_receive");
ok( $node{$leader}->wait_for_log(
		qr/calls raft_receive on node $victim: it refuses raft_exchange: ERROR:  permission denied for function raft_exchange/,
		$log_at),
	'the leader logs why');
RaftTest::same_tables_ok("all three agree without node ${victim}'s grant", 1 .. 3);

# 3. With the grant back, new connections use raft_exchange again.
$node{$victim}->safe_psql('postgres', q{
	GRANT EXECUTE ON FUNCTION geoshard.raft_exchange(bytea) TO geoshard_raft;
	SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'geoshard_raft';
});
my $before = calls($victim, 'raft_exchange');
RaftTest::propose("SELECT geoshard.raft_set_setting('again.k$_', 'v')", 1, 2, 3) foreach 1 .. 20;
ok($node{$victim}->poll_query_until('postgres',
		"SELECT sum(calls) > $before FROM pg_stat_user_functions WHERE funcname = 'raft_exchange'"),
	"with the grant back, node $victim is called through raft_exchange again");
RaftTest::same_tables_ok('all three agree again', 1 .. 3);

# 4. raft_exchange refuses what raft_receive refuses.
my ($ret, $out, $err) = $node{1}->psql('postgres',
	"\\set VERBOSITY verbose\nSET ROLE geoshard_raft; SELECT geoshard.raft_exchange('\\x0001'::bytea)");
like($err, qr/22P03: invalid raft message batch/, 'a malformed batch is refused');
my $other = pack('a3 C a16 Q> Q> n N', 'GSR', 1, "\x42" x 16, 2, 1, 0, 1) . pack('C Q> Q> Q> Q> C', 3, 999, 2, 0, 0, 2);
($ret, $out, $err) = $node{1}->psql('postgres',
	"\\set VERBOSITY verbose\nSET ROLE geoshard_raft; SELECT geoshard.raft_exchange('\\x" . unpack('H*', $other) . "')");
like($err, qr/28000: raft message from cluster "42424242-4242-4242-4242-424242424242" refused/,
	"another group's batch is refused");
($ret, $out, $err) = $node{1}->psql('postgres',
	"CREATE ROLE nobody; SET ROLE nobody; SELECT geoshard.raft_exchange('\\x00')");
like($err, qr/permission denied for function raft_exchange/, 'raft_exchange is not executable by others');
RaftTest::same_tables_ok('all three agree after the refusals', 1 .. 3);

# 5. The upgrade from 0.5 grants raft_exchange where raft_receive is granted.
my $old = PostgreSQL::Test::Cluster->new('upgrade');
$old->init;
$old->start;
$old->safe_psql('postgres', q{
	CREATE EXTENSION geoshard VERSION '0.5';
	CREATE ROLE "peer role" LOGIN;
	CREATE ROLE bystander LOGIN;
	GRANT EXECUTE ON FUNCTION geoshard.raft_receive(bytea) TO "peer role";
	ALTER EXTENSION geoshard UPDATE TO '0.6';
});
is( $old->safe_psql('postgres', q{
		SELECT string_agg(format('%s=%s', r, pg_catalog.has_function_privilege(r, 'geoshard.raft_exchange(bytea)', 'EXECUTE')), ',' ORDER BY r)
		FROM unnest(ARRAY['peer role', 'bystander']) r}),
	'bystander=f,peer role=t',
	'the upgrade grants raft_exchange to the role that may call raft_receive, not to others');
$old->stop;

done_testing();
