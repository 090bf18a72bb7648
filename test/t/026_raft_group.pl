# Proves the raft group's foundation on three nodes on loopback: bootstrap
# and two joins through the log, a leader elected, a replicated setting
# proposed on the leader applied on all three (and forwarded from a
# follower), the leader SIGKILLed and a new leader elected that
# commits a new proposal everywhere, the killed node catching up after its
# restart with tables identical to the others', leadership transferred on
# request, malformed raft_receive
# payloads refused without harm, and messages of another group refused.
# First, the message decoder is fuzzed in-process (test/fuzz): mutated
# batches are refused or decode to what encodes back to the same bytes.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use RaftTest qw(%node %conninfo);

RaftTest::new_node($_) foreach (1, 2, 3);

# 0. Fuzzing the decoder: seeds of every message type, mutated.
{
	my $env = sub {
		my ($count) = @_;
		my $address = 'host=192.0.2.2 port=5432';
		return pack('a3 C a16 Q> Q> n a* N', 'GSR', 1, "\x07" x 16, 2, 1, length($address), $address, $count);
	};
	my $rv = pack('C Q> Q> Q> Q> C', 3, 5, 2, 10, 4, 2);
	my $rvr = pack('C Q> C n n', 4, 5, 4, 1, 0);
	my $ae = pack('C Q> Q> Q> Q> N', 1, 5, 9, 4, 8, 2) . pack('Q> C N a*', 5, 1, 3, 'abc') . pack('Q> C N', 5, 2, 0);
	my $aer = pack('C Q> Q> Q> n n', 2, 5, 0, 11, 1, 0);
	my $tn = pack('C Q> Q> Q>', 6, 5, 11, 5);
	my @seeds = ($env->(1) . $rv, $env->(1) . $rvr, $env->(1) . $ae, $env->(1) . $aer, $env->(1) . $tn,
		$env->(3) . $rv . $ae . $tn, $env->(1) . pack('C Q> Q> Q> Q> N', 1, 5, 9, 4, 8, 0));
	my $array = 'ARRAY[' . join(', ', map { "'\\x" . unpack('H*', $_) . "'::bytea" } @seeds) . ']';
	$node{1}->safe_psql('postgres', 'CREATE EXTENSION geoshard_fuzz');
	my ($accepted, $rejected) = split /\|/,
	  $node{1}->safe_psql('postgres', "SELECT * FROM geoshard_fuzz_raft($array, 1000000, 20261130)");
	is($accepted + $rejected, 1000000, 'raft decoder: 1000000 mutated batches each accepted or refused');
	cmp_ok($rejected, '>', 0, "raft decoder: mutations were refused ($rejected)");
	cmp_ok($accepted, '>', 0, "raft decoder: some mutations were valid and encode back identically ($accepted)");
	$node{1}->safe_psql('postgres', 'DROP EXTENSION geoshard_fuzz');
}

sub table_dump
{
	my ($n) = @_;
	return $n->safe_psql('postgres',
		q{SELECT string_agg(format('%s=%s', key, value), ',' ORDER BY key) FROM geoshard.settings})
	  . ' | '
	  . $n->safe_psql('postgres',
		q{SELECT string_agg(format('%s:%s:%s', id, name, role), ',' ORDER BY id) FROM geoshard.nodes});
}

sub wait_same
{
	my ($what, $expect, @ids) = @_;
	foreach my $id (@ids)
	{
		ok( $node{$id}->poll_query_until('postgres',
				qq{SELECT string_agg(format('%s=%s', key, value), ',' ORDER BY key) FROM geoshard.settings},
				$expect),
			"$what: node $id has the settings");
	}
}

# 1. Bootstrap on node 1: it elects itself.
my $cluster_id = $node{1}->safe_psql('postgres',
	"SELECT geoshard.raft_bootstrap('n1', '$conninfo{1}')");
like($cluster_id, qr/^[0-9a-f-]{36}$/, 'bootstrap returns a cluster id');
is(RaftTest::wait_leader(1), 1, 'the founding node leads its group of one');
my ($ret, $out, $err) = $node{1}->psql('postgres', "SELECT geoshard.raft_bootstrap('n1', '$conninfo{1}')");
like($err, qr/already in a raft group/, 'a second bootstrap is refused');

# 2. Two joins, one server at a time through the log.  A node in no group
# keeps geoshard.settings as a plain table, but must empty it to join.
$node{3}->safe_psql('postgres', q{
	CREATE ROLE app; GRANT USAGE ON SCHEMA geoshard TO app; GRANT INSERT ON geoshard.settings TO app;
	SET ROLE app; INSERT INTO geoshard.settings VALUES ('mine', 'x')});
($ret, $out, $err) = $node{3}->psql('postgres', "SELECT geoshard.raft_join('$cluster_id')");
like($err, qr/this node has settings of its own/, 'a node with settings of its own cannot join');
$node{3}->safe_psql('postgres', 'DELETE FROM geoshard.settings');
foreach my $id (2, 3)
{
	$node{$id}->safe_psql('postgres', "SELECT geoshard.raft_join('$cluster_id')");
	RaftTest::propose("SELECT geoshard.raft_add_node($id, 'n$id', '$conninfo{$id}')", grep { $_ < $id } 1 .. 3);
}
my $leader = RaftTest::wait_leader(1, 2, 3);
ok(defined $leader, 'a leader is elected among three');
foreach my $id (1, 2, 3)
{
	ok( $node{$id}->poll_query_until('postgres',
			q{SELECT string_agg(format('%s:%s:%s', id, name, role), ',' ORDER BY id) FROM geoshard.nodes},
			'1:n1:voter,2:n2:voter,3:n3:voter'),
		"node $id lists the three voters");
}

# 3. A setting proposed on the leader is applied on all three.
my $index = RaftTest::propose("SELECT geoshard.raft_set_setting('breaker.failures', '5')", 1, 2, 3);
ok($index > 0, 'the proposal returns its log index');
is($node{ RaftTest::wait_leader(1, 2, 3) }->safe_psql('postgres', q{SELECT value FROM geoshard.settings WHERE key = 'breaker.failures'}),
	'5', 'read-your-writes on the leader');
wait_same('first setting', 'breaker.failures=5', 1, 2, 3);

$leader = RaftTest::wait_leader(1, 2, 3);
my ($follower) = grep { $_ != $leader } 1, 2, 3;
# a follower forwards a proposal to the leader and returns once it applied it
($ret, $out, $err) = $node{$follower}->psql('postgres',
	"SELECT geoshard.raft_set_setting('x', '1') > 0; SELECT value FROM geoshard.settings WHERE key = 'x'");
is($out, "t\n1", 'a follower forwards a proposal to the leader and reads its write at once');
$node{$follower}->safe_psql('postgres', "SELECT geoshard.raft_set_setting('x', NULL)");
($ret, $out, $err) = $node{$leader}->psql('postgres', "SELECT geoshard.raft_set_setting('Bad Key', '1')");
like($err, qr/invalid replicated setting key: "Bad Key"/, 'a bad key is refused before the log');
foreach my $id ($leader, $follower)
{
	($ret, $out, $err) = $node{$id}->psql('postgres',
		"\\set VERBOSITY verbose\nUPDATE geoshard.settings SET value = '6'");
	like($err, qr/55000: table geoshard.settings is replicated by this node's raft group.*HINT:  Use geoshard.raft_set_setting\(\)/s,
		"node $id refuses direct writes to geoshard.settings");
	($ret, $out, $err) = $node{$id}->psql('postgres', 'TRUNCATE geoshard.nodes');
	like($err, qr/table geoshard.nodes is replicated/, "node $id refuses direct writes to geoshard.nodes");
}

# 4. Leader SIGKILLed: a new leader among the survivors commits everywhere.
my $term = $node{$leader}->safe_psql('postgres', 'SELECT term FROM geoshard.raft_status');
$node{$leader}->kill9;
my @alive = grep { $_ != $leader } 1, 2, 3;
my $new_leader = RaftTest::wait_leader(@alive);
ok(defined $new_leader && $new_leader != $leader, "a new leader ($new_leader) replaces the killed one ($leader)");
cmp_ok($node{$new_leader}->safe_psql('postgres', 'SELECT term FROM geoshard.raft_status'),
	'>', $term, 'in a later term');
RaftTest::propose("SELECT geoshard.raft_set_setting('breaker.cooldown', '7000')", @alive);
wait_same('after failover', 'breaker.cooldown=7000,breaker.failures=5', @alive);

# 5. The killed node restarts and catches up.
# the killed postmaster's children exit on their own: retry until they have
# (a failed start leaves the stale pid file's pid as the node's: forget it)
my $restarted = 0;
foreach (1 .. 300)
{
	last if ($restarted = $node{$leader}->start(fail_ok => 1));
	$node{$leader}->{_pid} = undef;
	select(undef, undef, undef, 0.1);
}
ok($restarted, "the killed node $leader restarts");
RaftTest::propose("SELECT geoshard.raft_set_setting('breaker.failures', NULL)", 1, 2, 3);
wait_same('after the restart', 'breaker.cooldown=7000', 1, 2, 3);
foreach my $id (1, 2, 3)
{
	ok( $node{$id}->poll_query_until('postgres',
			'SELECT applied_index = commit_index AND commit_index = last_index FROM geoshard.raft_status'),
		"node $id applied its whole log");
}
my $dump = table_dump($node{1});
is(table_dump($node{$_}), $dump, "node $_ has the same replicated tables as node 1") foreach (2, 3);
is( $node{$leader}->safe_psql('postgres',
		q{SELECT count(*) FROM geoshard.raft_log l JOIN geoshard.raft_state s ON true WHERE l.index <= s.applied_index}),
	$node{$leader}->safe_psql('postgres', 'SELECT applied_index FROM geoshard.raft_state'),
	'the restarted node stored every entry it applied');

# 5b. Leadership moves on request, to voters only.
$leader = RaftTest::wait_leader(1, 2, 3);
my ($to) = grep { $_ != $leader } 1, 2, 3;
($ret, $out, $err) = $node{$leader}->psql('postgres', 'SELECT geoshard.raft_transfer_leadership(99)');
like($err, qr/raft proposal failed: node 99 is not another voter of the group/, 'no transfer to a non-member');
($ret, $out, $err) = $node{$leader}->psql('postgres', "SELECT geoshard.raft_transfer_leadership($to)");
is($ret, 0, "leadership transfer from $leader to $to returns");
is($node{$leader}->safe_psql('postgres', 'SELECT role || \' \' || leader FROM geoshard.raft_status'),
	"follower $to", "node $leader follows node $to");
RaftTest::propose("SELECT geoshard.raft_set_setting('after.transfer', 'yes')", 1, 2, 3);
wait_same('after the transfer', 'after.transfer=yes,breaker.cooldown=7000', 1, 2, 3);
RaftTest::propose("SELECT geoshard.raft_set_setting('after.transfer', NULL)", 1, 2, 3);

# 6. Malformed payloads are refused, the group is unharmed.
$leader = RaftTest::wait_leader(1, 2, 3);
my $target = $node{$leader};
# an envelope: magic, version, cluster id, from, to, no address, count
sub envelope
{
	my ($cluster, $count) = @_;
	return pack('a3 C a16 Q> Q> n N', 'GSR', 1, $cluster, 2, $leader, 0, $count);
}
my $c = "\x01" x 16;
my @bad = (
	['\x', 'empty'],
	['\x00', 'one byte'],
	['\x475352', 'magic only'],
	['\x' . unpack('H*', envelope($c, 0)), 'zero messages'],
	['\x' . unpack('H*', envelope($c, 1) . pack('C', 1)), 'truncated message'],
	['\x' . unpack('H*', envelope($c, 4000000000)), 'huge count'],
	['\x' . unpack('H*', envelope($c, 1) . pack('C Q> Q> Q> Q> N', 1, 5, 0, 0, 0, 1000000)), 'huge entry count'],
	['\x' . unpack('H*', envelope($c, 1) . pack('C Q> Q> Q> Q> N Q> C N', 1, 5, 0, 0, 0, 1, 5, 1, 1000)),
		'entry longer than the batch'],
	['\x' . unpack('H*', envelope($c, 1) . pack('C', 99) . "\0" x 40), 'unknown type'],
	['\x' . unpack('H*', envelope($c, 1) . pack('C Q> Q> Q> Q> C x', 3, 5, 2, 0, 0, 2)), 'trailing byte'],
	['\x' . unpack('H*', pack('a3 C a16 Q> Q> n', 'GSR', 1, $c, 2, $leader, 60000) . 'x' x 100), 'address length beyond the batch'],
);
foreach my $b (@bad)
{
	($ret, $out, $err) = $target->psql('postgres',
		"\\set VERBOSITY verbose\nSET ROLE geoshard_raft; SELECT geoshard.raft_receive('$b->[0]'::bytea)");
	like($err, qr/22P03: invalid raft message batch/, "malformed payload refused: $b->[1]");
}
($ret, $out, $err) = $target->psql('postgres',
	"CREATE ROLE nobody; SET ROLE nobody; SELECT geoshard.raft_receive('\\x00')");
like($err, qr/permission denied for function raft_receive/, 'raft_receive is not executable by others');
RaftTest::propose("SELECT geoshard.raft_set_setting('after.garbage', 'ok')", 1, 2, 3);
wait_same('after malformed input', 'after.garbage=ok,breaker.cooldown=7000', 1, 2, 3);

# 7. Another group's messages are refused.
my $vote = envelope("\x42" x 16, 1) . pack('C Q> Q> Q> Q> C', 3, 999, 2, 0, 0, 2);
($ret, $out, $err) = $target->psql('postgres',
	"\\set VERBOSITY verbose\nSET ROLE geoshard_raft; SELECT geoshard.raft_receive('\\x" . unpack('H*', $vote) . "')");
like($err, qr/28000: raft message from cluster "42424242-4242-4242-4242-424242424242" refused/,
	'a well-formed message of another cluster id is refused');

# node 4 takes more proposers than it has proposal slots (below)
RaftTest::new_node(4, conf => "max_connections = 100\n");
$node{4}->safe_psql('postgres', q{INSERT INTO geoshard.settings VALUES ('own.key', 'kept')});
my $other = $node{4}->safe_psql('postgres', "SELECT geoshard.raft_bootstrap('n4', '$conninfo{4}')");
ok( $node{4}->poll_query_until('postgres',
		q{SELECT key || '=' || value FROM geoshard.settings WHERE raft_index = 3}, 'own.key=kept'),
	'a founding node\'s own settings become the group\'s (log entry 3)');
isnt($other, $cluster_id, 'a second group gets its own cluster id');
is(RaftTest::wait_leader(4), 4, 'the second group elects its founder');
($ret, $out, $err) = $node{4}->psql('postgres',
	"SET geoshard.raft_propose_timeout_ms = 3000; SELECT geoshard.raft_add_node(1, 'n1', '$conninfo{1}')");
like($err, qr/raft node 1 did not catch up within 3000 ms/, 'node 1 never acknowledges the other group');
ok( $node{4}->poll_query_until('postgres',
		q{SELECT last_error ~ 'raft message from cluster .* refused' FROM geoshard.raft_peers WHERE node = 1}),
	'node 1 refused the other group\'s messages');
is($node{1}->safe_psql('postgres', 'SELECT cluster_id FROM geoshard.raft_status'), $cluster_id,
	'node 1 stays in its own group');
is($node{4}->safe_psql('postgres', q{SELECT string_agg(format('%s:%s', id, role), ',' ORDER BY id) FROM geoshard.nodes}),
	'1:standby,4:voter', 'the other group holds node 1 as a standby, outside its majority');
$node{4}->safe_psql('postgres', 'SELECT geoshard.raft_remove_node(1)');
is($node{4}->safe_psql('postgres', q{SELECT string_agg(format('%s:%s', id, role), ',' ORDER BY id) FROM geoshard.nodes}),
	'4:voter', 'raft_remove_node takes it out through the log');
ok( $node{4}->poll_query_until('postgres', 'SELECT count(*) = 0 FROM geoshard.raft_peers'),
	'and the worker stops talking to it');

# More proposers than proposal slots (64): with the raft worker stopped, 80
# proposals pile up, 64 in slots and 16 waiting for one; once it runs again
# every one of them commits, none fails for want of a slot.
{
	my $worker = $node{4}->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard raft'});
	like($worker, qr/^\d+$/, 'node 4 runs its raft worker');
	my $script = PostgreSQL::Test::Utils::tempdir() . '/propose.sql';
	PostgreSQL::Test::Utils::append_to_file($script,
		"SET geoshard.raft_propose_timeout_ms = 60000;\nSELECT geoshard.raft_set_setting('slots.' || :client_id, 'done');\n");
	kill 'STOP', $worker;
	my ($stdout, $stderr) = ('', '');
	my $bench = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '80', '-t', '1', '-f', $script, '-h', $node{4}->host,
		  '-p', $node{4}->port, 'postgres' ],
		'>', \$stdout, '2>', \$stderr);
	my $waiting = $node{4}->poll_query_until('postgres',
		q{SELECT count(*) = 80 FROM pg_stat_activity WHERE query LIKE '%slots.%' AND wait_event_type = 'Extension' AND pid <> pg_backend_pid()});
	kill 'CONT', $worker;
	ok($waiting, '80 proposals wait while the raft worker is stopped');
	ok($bench->finish, 'all 80 proposers finish without an error') or diag($stderr);
	unlike($stderr, qr/too many raft proposals/, 'none was refused for want of a proposal slot');
	is($node{4}->safe_psql('postgres', q{SELECT count(*) FROM geoshard.settings WHERE key LIKE 'slots.%' AND value = 'done'}),
		'80', 'and all 80 settings are applied');
}

RaftTest::propose("SELECT geoshard.raft_set_setting('still.works', 'yes')", 1, 2, 3);
wait_same('after the other group', 'after.garbage=ok,breaker.cooldown=7000,still.works=yes', 1, 2, 3);

done_testing();
