# Proves raft snapshots and log compaction on loopback nodes with a tiny
# threshold: after many proposals every node has taken a snapshot and
# truncated geoshard.raft_log and its in-memory log behind it; a node
# stopped during many proposals catches up by receiving a snapshot; a fourth
# node added late installs one (it never holds entry 1) and ends with the
# same replicated tables (sorted pg_dump --data-only and geoshard.nodes);
# nodes restarted after a snapshot (SIGKILL of the postmaster, pg_ctl -m
# immediate) come back with the same tables and at least the same applied
# index; malformed snapshot chunks are refused by raft_receive, a
# well-formed chunk carrying a malformed snapshot, or one out of order, is
# dropped by the worker, and the group is unharmed.  First, the decoder is fuzzed in-process with
# snapshot-chunk seeds (test/fuzz).
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RaftTest qw(%node %conninfo);

my $THRESHOLD = 20;
my $TRAILING = 5;

sub new_node
{
	my ($id) = @_;
	return RaftTest::new_node($id,
		conf => "geoshard.raft_snapshot_threshold = $THRESHOLD\ngeoshard.raft_snapshot_trailing = $TRAILING\n");
}

# libraft's encoding of a configuration: version, count, then id, address
# and role per server (little endian), padded to 8 bytes.
sub encode_conf
{
	my (@servers) = @_;
	my $b = pack('C Q<', 1, scalar @servers);
	$b .= pack('Q< Z* C', @$_) foreach @servers;
	$b .= "\0" x ((8 - length($b) % 8) % 8);
	return $b;
}

# One InstallSnapshot chunk message.
sub chunk
{
	my (%a) = @_;
	return pack('C Q> Q> Q> Q> N', 5, $a{term}, $a{last_index}, $a{last_term}, $a{conf_index}, length($a{conf}))
	  . $a{conf}
	  . pack('Q> Q> N', $a{total}, $a{offset}, length($a{data}))
	  . $a{data};
}

sub envelope
{
	my ($cluster, $from, $to, $count) = @_;
	return pack('a3 C a16 Q> Q> n N', 'GSR', 1, $cluster, $from, $to, 0, $count);
}

$node{$_} = new_node($_) foreach (1, 2, 3);

# 0. Fuzzing the decoder with snapshot chunks (alone and among other messages).
my $conf = encode_conf([1, 'host=a', 1], [2, 'host=b', 1]);
{
	my $env = pack('a3 C a16 Q> Q> n a* N', 'GSR', 1, "\x07" x 16, 2, 1, 6, 'host=b', 1);
	my $env2 = pack('a3 C a16 Q> Q> n a* N', 'GSR', 1, "\x07" x 16, 2, 1, 0, '', 2);
	my %c = (term => 5, last_index => 40, last_term => 4, conf_index => 3, conf => $conf, total => 12);
	my @seeds = (
		$env . chunk(%c, offset => 0, data => 'GSS' . "\x01" . 'abcd'),
		$env . chunk(%c, offset => 8, data => 'efgh'),
		$env2 . pack('C Q> Q> Q> Q> N', 1, 5, 9, 4, 8, 0) . chunk(%c, offset => 12, data => ''),
		$env . pack('C Q> Q> Q> Q> N', 1, 5, 9, 4, 8, 1) . pack('Q> C N', 5, 3, length($conf)) . $conf);
	my $array = 'ARRAY[' . join(', ', map { "'\\x" . unpack('H*', $_) . "'::bytea" } @seeds) . ']';
	$node{1}->safe_psql('postgres', 'CREATE EXTENSION geoshard_fuzz');
	my ($accepted, $rejected) = split /\|/,
	  $node{1}->safe_psql('postgres', "SELECT * FROM geoshard_fuzz_raft($array, 300000, 20261201)");
	is($accepted + $rejected, 300000, 'chunk decoder: 300000 mutated batches each accepted or refused');
	cmp_ok($rejected, '>', 0, "chunk decoder: mutations were refused ($rejected)");
	cmp_ok($accepted, '>', 0, "chunk decoder: some mutations were valid and encode back identically ($accepted)");
	$node{1}->safe_psql('postgres', 'DROP EXTENSION geoshard_fuzz');
}

# n proposals in one psql session on the leader, values of $width bytes.
sub propose_many
{
	my ($from, $to, $width, @ids) = @_;
	my $sql = join('', map { "SELECT geoshard.raft_set_setting('k.$_', lpad('$_', $width, '.'));\n" } $from .. $to);
	RaftTest::propose($sql, @ids);
}

# The replicated tables, as pg_dump --data-only dumps them (lines sorted:
# rows may sit in another physical order), and geoshard.nodes.
sub tables_dump
{
	my ($n) = @_;
	my ($stdout, $stderr);
	IPC::Run::run(
		[ 'pg_dump', '--data-only', '--no-owner',
			map({ ('--table', "geoshard.$_") } qw(settings nodes regions geo_fences shards)),
			'--dbname', $n->connstr('postgres') ],
		'>', \$stdout, '2>', \$stderr) or die "pg_dump failed: $stderr";
	# (\restrict lines carry a random key)
	return join("\n", sort grep { !/^--|^\\(un)?restrict / && $_ ne '' } split /\n/, $stdout) . "\n"
	  . $n->safe_psql('postgres',
		q{SELECT string_agg(format('%s:%s:%s:%s', id, name, role, conninfo), ',' ORDER BY id) FROM geoshard.nodes});
}

sub caught_up
{
	my ($id, $index) = @_;
	return $node{$id}->poll_query_until('postgres',
		"SELECT applied_index >= $index AND applied_index = commit_index FROM geoshard.raft_status");
}

sub log_has
{
	my ($n, $re, $offset) = @_;
	foreach (1 .. 300)
	{
		return 1 if slurp_file($n->logfile, $offset) =~ $re;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# 1. A group of three; node 1 brings regions, a fence and shards, so that
# snapshots carry every replicated table.
$node{1}->safe_psql('postgres', q{
	INSERT INTO geoshard.regions (id, name, lat, lon, endpoint) VALUES
		('eu-west', 'Dublin', 53.35, -6.26, 'db-eu'), ('us-east', 'Virginia', 38.9, -77.0, 'db-us');
	INSERT INTO geoshard.geo_fences VALUES ('gdpr', '{IE,FR}', '{eu-west}');
	INSERT INTO geoshard.shards (prefix, node) VALUES ('0', 'n1'), ('12', 'n2');
});
my $cluster_id = $node{1}->safe_psql('postgres', "SELECT geoshard.raft_bootstrap('n1', '$conninfo{1}')");
foreach my $id (2, 3)
{
	$node{$id}->safe_psql('postgres', "SELECT geoshard.raft_join('$cluster_id')");
	RaftTest::propose("SELECT geoshard.raft_add_node($id, 'n$id', '$conninfo{$id}')", grep { $_ < $id } 1 .. 3);
}
ok(defined RaftTest::wait_leader(1, 2, 3), 'a leader is elected among three');

# 2. Many proposals: every node snapshots and truncates its log.
propose_many(1, 60, 8, 1, 2, 3);
my $index = RaftTest::propose("SELECT geoshard.raft_set_setting('k.last', 'x')", 1, 2, 3);
foreach my $id (1, 2, 3)
{
	ok(caught_up($id, $index), "node $id applied index $index");
	my ($snap, $first, $count) = split /\|/, $node{$id}->safe_psql('postgres',
		'SELECT s.snapshot_index, min(l.index), count(l.index) FROM geoshard.raft_status s, geoshard.raft_log l GROUP BY 1');
	cmp_ok($snap, '>=', $index - $THRESHOLD, "node $id took a recent snapshot (at $snap)");
	cmp_ok($first, '>', 1, "node $id truncated raft_log (it starts at $first)");
	cmp_ok($count, '<=', $THRESHOLD + $TRAILING + 2, "node $id keeps about threshold + trailing entries at most ($count)");
	ok( log_has($node{$id}, qr/took a snapshot at index \d+ \(term \d+, \d+ bytes\); the log now holds entries \d+ to \d+ \((\d+) in memory\)/),
		"node $id logged its snapshot");
	my @mem = slurp_file($node{$id}->logfile) =~ /\((\d+) in memory\)/g;
	cmp_ok((sort { $b <=> $a } @mem)[0], '<=', $TRAILING + 3,
		"node $id keeps only the trailing entries (and those in flight) in memory after a snapshot");
	is($node{$id}->safe_psql('postgres',
			'SELECT count(*) FROM geoshard.raft_snapshots s JOIN geoshard.raft_state r ON s.index = r.snapshot_index AND s.complete'),
		'1', "node $id stores its one snapshot");
}
my $dump = tables_dump($node{1});
like($dump, qr/eu-west.*\n.*k\.60\t\.*60\t/s, 'the dump holds the regions and the settings');

# Node 1 leads from here on: it holds the regions, fence and shards, and
# hands them on in its snapshots (the log does not carry them in this
# version), so that every node ends with the same tables.
sub node1_leads
{
	my @ids = @_;
	RaftTest::propose('SELECT geoshard.raft_transfer_leadership(1)', @ids) if RaftTest::wait_leader(@ids) != 1;
	is(RaftTest::wait_leader(@ids), 1, 'node 1 leads');
}

# 3. A node stopped during many proposals catches up through a snapshot;
# each follower in turn.
my $offset;
foreach my $stopped (2, 3)
{
	node1_leads(1, 2, 3);
	$node{$stopped}->stop('fast');
	my @alive = grep { $_ != $stopped } 1, 2, 3;
	# 4 kB values: the snapshot outgrows one chunk (256 kB)
	propose_many($stopped * 100, $stopped * 100 + 50, 4000, @alive);
	$index = RaftTest::propose("SELECT geoshard.raft_set_setting('k.last', 'y$stopped')", @alive);
	$offset = -s $node{$stopped}->logfile;
	$node{$stopped}->start;
	ok(caught_up($stopped, $index), "the stopped node $stopped catches up to $index");
	ok(log_has($node{$stopped}, qr/installed a snapshot at index \d+/, $offset),
		"node $stopped installed a snapshot instead of replaying the log");
	ok(log_has($node{1}, qr/sends its snapshot at index \d+ \((\d{6,}) bytes\) to node $stopped/),
		"node 1 sent it, in more than one chunk");
	is(tables_dump($node{$stopped}), tables_dump($node{1}), "node $stopped has the leader's replicated tables");
}

# 4. A fourth node joins late and installs a snapshot.
$node{4} = new_node(4);
$node{4}->safe_psql('postgres', "SELECT geoshard.raft_join('$cluster_id')");
node1_leads(1, 2, 3);
$node{1}->safe_psql('postgres', "SELECT geoshard.raft_add_node(4, 'n4', '$conninfo{4}')");
$index = RaftTest::propose("SELECT geoshard.raft_set_setting('k.last', 'z')", 1, 2, 3, 4);
ok(caught_up(4, $index), 'node 4 catches up');
ok(log_has($node{4}, qr/installed a snapshot at index \d+/), 'node 4 installed a snapshot');
ok(log_has($node{1}, qr/sends its snapshot at index \d+ \(\d+ bytes\) to node 4/), 'node 1 sent it');
my ($snap4, $first4) = split /\|/, $node{4}->safe_psql('postgres',
	'SELECT s.snapshot_index, min(l.index) FROM geoshard.raft_status s LEFT JOIN geoshard.raft_log l ON true GROUP BY 1');
cmp_ok($snap4, '>', 1, "node 4 shows a snapshot in raft_status ($snap4)");
cmp_ok($first4, '>', $snap4, 'node 4 never stored the entries before it');
is(tables_dump($node{4}), tables_dump($node{1}), 'node 4 has the same replicated tables as node 1');
is($node{4}->safe_psql('postgres', 'SELECT count(*) FROM geoshard.regions'), '2', 'the regions came with the snapshot');

# 5. Restarts after snapshots: SIGKILL of a postmaster, pg_ctl -m immediate.
propose_many(400, 430, 8, 1, 2, 3, 4);
$index = RaftTest::propose("SELECT geoshard.raft_set_setting('k.last', 'w')", 1, 2, 3, 4);
ok(caught_up($_, $index), "node $_ applied $index before the restarts") foreach (1, 2, 3, 4);
my $leader = RaftTest::wait_leader(1, 2, 3, 4);
my ($killed, $immediate) = grep { $_ != $leader } 1, 2, 3, 4;
my %before = map { $_ => $node{$_}->safe_psql('postgres', 'SELECT applied_index || \'|\' || snapshot_index FROM geoshard.raft_status') }
  ($killed, $immediate);
$dump = tables_dump($node{$leader});
$node{$killed}->kill9;
$node{$immediate}->stop('immediate');
my $restarted = 0;
foreach (1 .. 300)
{
	last if ($restarted = $node{$killed}->start(fail_ok => 1));
	$node{$killed}->{_pid} = undef;
	select(undef, undef, undef, 0.1);
}
ok($restarted, "the killed node $killed restarts");
$node{$immediate}->start;
foreach my $id ($killed, $immediate)
{
	my ($applied, $snap) = split /\|/, $before{$id};
	ok( $node{$id}->poll_query_until('postgres',
			"SELECT applied_index >= $applied AND snapshot_index >= $snap FROM geoshard.raft_status"),
		"node $id restarts from its snapshot with applied index $applied or later");
	ok(log_has($node{$id}, qr/started: term \d+, snapshot at index $snap,/), "node $id started from its snapshot at $snap");
	is(tables_dump($node{$id}), $dump, "node $id has the same tables after its restart");
}
$index = RaftTest::propose("SELECT geoshard.raft_set_setting('k.last', 'v')", 1, 2, 3, 4);
ok(caught_up($_, $index), "node $_ applies new entries after the restarts") foreach (1, 2, 3, 4);

# 6. Malformed chunks are refused by raft_receive; a well-formed chunk with a
# malformed snapshot is dropped by the worker.
$leader = RaftTest::wait_leader(1, 2, 3, 4);
my ($victim) = grep { $_ != $leader } 1, 2, 3, 4;
my $cid = pack('H*', $cluster_id =~ s/-//gr);
my %good = (term => 1, last_index => 9, last_term => 1, conf_index => 1, conf => $conf, total => 4, offset => 0,
	data => 'abcd');
my @bad = (
	[ chunk(%good, conf => "\x01" . "\0" x 7), 'configuration with no server' ],
	[ chunk(%good, conf => encode_conf([1, 'x', 7])), 'configuration with an unknown role' ],
	[ chunk(%good, conf => substr($conf, 0, 20)), 'truncated configuration' ],
	[ chunk(%good, total => 2), 'chunk longer than the snapshot' ],
	[ chunk(%good, offset => 5), 'offset beyond the snapshot' ],
	[ chunk(%good, total => 1 << 40, offset => 0), 'snapshot over the size limit' ],
	[ chunk(%good, last_term => 2), 'last term above the term' ],
	[ chunk(%good, conf_index => 10), 'configuration after the last index' ],
	[ chunk(%good, term => 0), 'term zero' ],
	[ substr(chunk(%good), 0, -1), 'data cut short' ],
	[ chunk(%good) . 'x', 'trailing byte' ]);
foreach my $b (@bad)
{
	my $hex = unpack('H*', envelope($cid, $leader, $victim, 1) . $b->[0]);
	my ($ret, $out, $err) = $node{$victim}->psql('postgres',
		"\\set VERBOSITY verbose\nSET ROLE geoshard_raft; SELECT geoshard.raft_receive('\\x$hex')");
	like($err, qr/22P03: invalid raft message batch/, "malformed chunk refused: $b->[1]");
}
$offset = -s $node{$victim}->logfile;
my $term = $node{$victim}->safe_psql('postgres', 'SELECT term FROM geoshard.raft_status');
my $hex = unpack('H*', envelope($cid, $leader, $victim, 1)
	  . chunk(%good, term => $term, last_index => 1000000, last_term => $term));
is($node{$victim}->safe_psql('postgres', "SET ROLE geoshard_raft; SELECT geoshard.raft_receive('\\x$hex')"),
	't', 'a well-formed chunk of a malformed snapshot is queued');
ok(log_has($node{$victim}, qr/refused a malformed snapshot at index 1000000/, $offset),
	'the worker refuses the malformed snapshot');
# a chunk that does not continue the snapshot being received drops it
$offset = -s $node{$victim}->logfile;
foreach my $c (chunk(%good, term => $term, last_index => 2000000, last_term => $term, total => 8, data => 'GSS'),
	chunk(%good, term => $term, last_index => 2000000, last_term => $term, total => 8, offset => 5, data => 'abc'))
{
	$hex = unpack('H*', envelope($cid, $leader, $victim, 1) . $c);
	$node{$victim}->safe_psql('postgres', "SET ROLE geoshard_raft; SELECT geoshard.raft_receive('\\x$hex')");
}
ok(log_has($node{$victim}, qr/dropped a partly received snapshot from node $leader/, $offset),
	'a chunk out of order drops the partly received snapshot');
$index = RaftTest::propose("SELECT geoshard.raft_set_setting('after.garbage', 'ok')", 1, 2, 3, 4);
ok(caught_up($_, $index), "node $_ still applies after the garbage") foreach (1, 2, 3, 4);
$dump = tables_dump($node{1});
is(tables_dump($node{$_}), $dump, "node $_ has the same replicated tables as node 1 at the end") foreach (2, 3, 4);

done_testing();
