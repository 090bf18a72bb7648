# A raft group split by a real network partition: three nodes, each in a
# network namespace of its own with an address the test assigns
# (10.38.0.1-3 on veth pairs joined by a bridge), PostgreSQL listening there.
# The leader's link is cut: the two others elect a new leader and commit,
# the old leader cannot commit (its proposal fails with the documented
# error) and steps down; once the link is back it follows the new leader
# and catches up, nothing committed is lost and its own uncommitted proposal
# is gone, with every replicated table identical on the three nodes.
#
# Namespaces need CAP_NET_ADMIN, and PostgreSQL refuses to run as root: the
# test re-runs itself in a user namespace of its own (unprivileged, as the
# user the TAP tests run as), with its own network, mount and PID
# namespaces.  Every namespace, link and server it creates lives inside it
# and disappears with it, also when the test dies half-way (the servers are
# in its PID namespace, which the kernel empties when the test exits).
use strict;
use warnings FATAL => 'all';

BEGIN
{
	if (!$ENV{GEOSHARD_038_INSIDE})
	{
		$ENV{GEOSHARD_038_INSIDE} = 1;
		my @unshare = ('unshare', '--user', '--map-current-user', '--keep-caps', '--net', '--mount',
			'--pid', '--fork', '--kill-child', '--mount-proc');
		exec(@unshare, $^X, (map { "-I$_" } grep { !ref } @INC), $0, @ARGV);
		die "038_raft_partition: cannot run unshare (util-linux): $!\n";
	}
}

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);

use RaftTest;

my @ids = (1, 2, 3);
my $node = \%RaftTest::node;

sub netns { return "gs038n$_[0]" }
sub address { return "10.38.0.$_[0]" }
sub hostlink { return "gs038h$_[0]" }    # the bridge's end of node N's veth pair

sub sh
{
	my @cmd = @_;
	system(@cmd) == 0 or die "038_raft_partition: '@cmd' failed ($?)";
}

# Servers first, then the names: what is left vanishes with the namespaces.
END
{
	my $status = $?;
	foreach my $n (values %RaftTest::node)
	{
		$n->stop('immediate', fail_ok => 1) if defined $n->{_pid};
	}
	system('ip', 'netns', 'delete', netns($_)) foreach grep { -e '/run/netns/' . netns($_) } @ids;
	system('ip', 'link', 'delete', 'gs038br') if -e '/sys/class/net/gs038br';
	$? = $status;
}

# 0. The network: a private /run for ip netns, loopback, a bridge, and one
# namespace per node joined to it by a veth pair.
sh('mount', '-t', 'tmpfs', 'geoshard-038', '/run');
sh('ip', 'link', 'set', 'lo', 'up');
sh('ip', 'link', 'add', 'gs038br', 'type', 'bridge');
sh('ip', 'link', 'set', 'gs038br', 'up');
foreach my $id (@ids)
{
	my $ns = netns($id);
	sh('ip', 'netns', 'add', $ns);
	sh('ip', 'link', 'add', hostlink($id), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', $ns);
	sh('ip', 'link', 'set', hostlink($id), 'master', 'gs038br', 'up');
	sh('ip', 'netns', 'exec', $ns, 'ip', 'addr', 'add', address($id) . '/24', 'dev', 'eth0');
	sh('ip', 'netns', 'exec', $ns, 'ip', 'link', 'set', 'eth0', 'up');
	sh('ip', 'netns', 'exec', $ns, 'ip', 'link', 'set', 'lo', 'up');
}

RaftTest::new_node($_, netns => netns($_), address => address($_)) foreach @ids;
foreach my $id (@ids)
{
	like(RaftTest::conninfo($id), qr/^host=10\.38\.0\.$id /, "node $id is reached at its namespace's address");
}

# 1. The group: bootstrap on node 1, two joins.
my $cluster_id = $node->{1}->safe_psql('postgres',
	"SELECT geoshard.raft_bootstrap('n1', '" . RaftTest::conninfo(1) . "')");
foreach my $id (2, 3)
{
	$node->{$id}->safe_psql('postgres', "SELECT geoshard.raft_join('$cluster_id')");
	RaftTest::propose("SELECT geoshard.raft_add_node($id, 'n$id', '" . RaftTest::conninfo($id) . "')",
		grep { $_ < $id } @ids);
}
RaftTest::propose("SELECT geoshard.raft_set_setting('before.partition', 'yes')", @ids);
RaftTest::same_tables_ok('the group', @ids);
my $peers = $node->{1}->safe_psql('postgres',
	q{SELECT string_agg(format('%s:%s', node, connected), ',' ORDER BY node) FROM geoshard.raft_peers});
is($peers, '2:t,3:t', 'node 1 talks to its peers over the namespaces\' network');

# 2. Cut the leader off: its veth goes down on the bridge's side.
my $old = RaftTest::wait_leader(@ids);
my @majority = grep { $_ != $old } @ids;
my $term = $node->{$old}->safe_psql('postgres', 'SELECT term FROM geoshard.raft_status');
my $t0 = time;
sh('ip', 'link', 'set', hostlink($old), 'down');

# The minority cannot commit: while it still leads, the proposal times out
# (57014); once it has stepped down it is refused (55000).  Meanwhile the
# majority elects a new leader.
my ($minority_out, $minority_err) = ('', '');
my $minority = IPC::Run::start(
	[
		'psql', '-X', '-h', $node->{$old}->host, '-p', $node->{$old}->port, '-d', 'postgres',
		'-v', 'VERBOSITY=verbose', '-c',
		"SET geoshard.raft_propose_timeout_ms = 2000; SELECT geoshard.raft_set_setting('minority.key', 'lost')"
	],
	'>', \$minority_out, '2>', \$minority_err);
my $new = RaftTest::wait_leader(@majority);
ok(defined $new, "the majority elects node " . ($new // 'none') . sprintf(' (%.2f s after the cut)', time - $t0));
cmp_ok($node->{$new}->safe_psql('postgres', 'SELECT term FROM geoshard.raft_status'), '>', $term,
	'in a later term');
$minority->finish;
like($minority_err,
	qr/57014: raft proposal not committed within 2000 ms|55000: (this node is not the raft leader|the raft group has no leader)/,
	"the cut-off leader $old cannot commit");
RaftTest::propose("SELECT geoshard.raft_set_setting('majority.key', '$_')", @majority) foreach 1 .. 5;
RaftTest::same_tables_ok('the majority commits', @majority);

ok($node->{$old}->poll_query_until('postgres', q{SELECT role <> 'leader' FROM geoshard.raft_status}),
	"the cut-off leader $old steps down");
my ($ret, $out, $err) = $node->{$old}->psql('postgres',
	"\\set VERBOSITY verbose\nSET geoshard.raft_propose_timeout_ms = 2000;\n"
	  . "SELECT geoshard.raft_set_setting('minority.key', 'refused')");
like($err, qr/55000: (this node is not the raft leader|the raft group has no leader)/,
	"node $old refuses proposals once it has stepped down");
is($node->{$old}->safe_psql('postgres', q{SELECT count(*) FROM geoshard.settings WHERE key = 'majority.key'}),
	'0', "node $old has not seen the majority's commits");

# 3. Heal: the old leader follows the new one and catches up.
sh('ip', 'link', 'set', hostlink($old), 'up');
my $t1 = time;
my $leader = RaftTest::wait_leader(@ids);
ok(defined $leader && $leader != $old,
	"after healing the three agree on leader " . ($leader // 'none') . ", not node $old"
	  . sprintf(' (%.2f s)', time - $t1));
is($node->{$old}->safe_psql('postgres', 'SELECT role FROM geoshard.raft_status'), 'follower',
	"node $old follows");
RaftTest::propose("SELECT geoshard.raft_set_setting('after.heal', 'yes')", @ids);
my $dump = RaftTest::same_tables_ok('after healing', @ids);
like($dump // '', qr/\(majority\.key,5,\d+\)/, 'the majority\'s last commit is kept everywhere');
like($dump // '', qr/\(before\.partition,yes,\d+\)/, 'and what was committed before the partition');
unlike($dump // '', qr/minority\.key/, 'the cut-off leader\'s uncommitted proposal is gone everywhere');

done_testing();
