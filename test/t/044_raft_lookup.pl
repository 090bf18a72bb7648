# Proves that a peer whose host name does not resolve, because the name
# server never answers, does not stall the raft worker: the leader keeps
# committing at once while the lookup hangs, and geoshard.raft_peers says the
# lookup timed out.  (libpq resolves host names synchronously; before the
# worker looked them up on its own, such a peer held it for the resolver's
# whole timeout, 10 s here, at every connection attempt.)
#
# The test re-runs itself in a user namespace of its own, with its own
# network and mount namespaces, so that it can point /etc/resolv.conf at a
# name server of its own on its own loopback: a UDP socket that reads every
# query and answers none.
use strict;
use warnings FATAL => 'all';

BEGIN
{
	if (!$ENV{GEOSHARD_044_INSIDE})
	{
		$ENV{GEOSHARD_044_INSIDE} = 1;
		my @unshare = ('unshare', '--user', '--map-current-user', '--keep-caps', '--net', '--mount',
			'--pid', '--fork', '--kill-child', '--mount-proc');
		exec(@unshare, $^X, (map { "-I$_" } grep { !ref } @INC), $0, @ARGV);
		die "044_raft_lookup: cannot run unshare (util-linux): $!\n";
	}
}

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use RaftTest;

sub sh
{
	my @cmd = @_;
	system(@cmd) == 0 or die "044_raft_lookup: '@cmd' failed ($?)";
}

# 0. Loopback, a silent name server on it, and a resolv.conf naming it.
sh('ip', 'link', 'set', 'lo', 'up');
my $dir = PostgreSQL::Test::Utils::tempdir;
my $queries = "$dir/queries";
PostgreSQL::Test::Utils::append_to_file("$dir/resolv.conf", "nameserver 127.0.0.1\n");
sh('mount', '--bind', "$dir/resolv.conf", '/etc/resolv.conf');
my $dns_script = q{
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 53))
n = 0
while True:
    s.recvfrom(4096)
    n += 1
    open(sys.argv[1], 'w').write(str(n))
};
my $dns = IPC::Run::start([ 'python3', '-c', $dns_script, $queries ], '<', \undef, '>&', \my $dns_out);

# 1. A group of one, then a standby whose name only that server could resolve.
my $n1 = RaftTest::new_node(1);
my $cluster = $n1->safe_psql('postgres', "SELECT geoshard.raft_bootstrap('n1', '" . RaftTest::conninfo(1) . "')");
is(RaftTest::wait_leader(1), 1, 'node 1 leads its group');
my ($ret, $out, $err) = $n1->psql('postgres',
	"SET geoshard.raft_propose_timeout_ms = 1000; SELECT geoshard.raft_add_node(2, 'ghost', "
	  . "'host=ghost.geoshard.test port=5432 dbname=postgres user=geoshard_raft')");
like($err, qr/raft node 2 did not catch up within 1000 ms/, 'the standby never catches up');
is($n1->safe_psql('postgres', q{SELECT string_agg(format('%s:%s', id, role), ',' ORDER BY id) FROM geoshard.nodes}),
	'1:voter,2:standby', 'and stays in the group as a standby, outside the majority');

# 2. While lookups hang, every proposal commits at once.
my $t = time;
while (!-s $queries && time - $t < 30)
{
	Time::HiRes::sleep(0.05);
}
ok(-s $queries, 'the worker asks the silent name server for the standby\'s name');
my $slowest = 0;
foreach my $i (1 .. 30)
{
	my $t0 = time;
	$n1->safe_psql('postgres', "SELECT geoshard.raft_set_setting('lookup.key', '$i')");
	my $took = time - $t0;
	$slowest = $took if $took > $slowest;
	Time::HiRes::sleep(0.1);
}
cmp_ok($slowest, '<', 1, "30 proposals over 3 s each commit within a second (slowest ${slowest}s)");
is($n1->safe_psql('postgres', q{SELECT value FROM geoshard.settings WHERE key = 'lookup.key'}),
	'30', 'the last of them is applied');
ok( $n1->poll_query_until('postgres',
		q{SELECT last_error = 'host name lookup timed out' AND NOT connected FROM geoshard.raft_peers WHERE node = 2}),
	'raft_peers says the lookup timed out');

# 3. The worker still stops promptly on a fast shutdown.
$t = time;
$n1->stop('fast');
cmp_ok(time - $t, '<', 5, 'a fast shutdown is not held up by the hanging lookup');

$dns->kill_kill;
done_testing();
