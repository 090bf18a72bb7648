# Proves that a raft group of three nodes on loopback replicates the
# catalogue: a node alone keeps add_shard / remove_shard as checked plain
# writes, and the catalogue a founding node had becomes the group's; then
# every catalogue function (add_region, update_region, drain_region,
# undrain_region, remove_region, add_geo_fence, remove_geo_fence, add_shard,
# remove_shard, split_shard, merge_shard), called on the leader or on a
# follower, is applied on all three (data-only dumps of regions, geo_fences
# and shards compared after each), and returns on a follower once applied
# there (read back at once, also through shard_for); raft_add_node is
# forwarded too; an apply error reaches the caller with its SQLSTATE on the
# leader and on a follower alike and leaves the nodes identical; direct
# writes are refused with a hint naming the function; raft_barrier on a
# follower covers what the leader had committed; with two of the three
# nodes stopped a proposal fails with a clear error within the timeout.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use RaftTest qw(%node %conninfo);

RaftTest::new_node($_) foreach (1, 2, 3);

# The replicated tables as pg_dump --data-only writes them, lines sorted
# (the physical order of rows may differ between nodes), without the random
# key of pg_dump's \restrict lines.
sub dump_catalogue
{
	my ($n) = @_;
	my ($stdout, $stderr);
	IPC::Run::run(
		[
			'pg_dump', '--data-only', '--table=geoshard.regions', '--table=geoshard.geo_fences',
			'--table=geoshard.shards', '--dbname=' . $n->connstr('postgres')
		],
		'>', \$stdout, '2>', \$stderr) or die "pg_dump failed: $stderr";
	return join("\n", sort grep { $_ ne '' && !/^(--|\\restrict|\\unrestrict)/ } split /\n/, $stdout);
}

# After a barrier on each node, every node's dump is node 1's.
sub same_everywhere
{
	my ($what) = @_;
	$node{$_}->safe_psql('postgres', 'SELECT geoshard.raft_barrier()') foreach (1, 2, 3);
	my $dump = dump_catalogue($node{1});
	is(dump_catalogue($node{$_}), $dump, "$what: node $_ has node 1's catalogue") foreach (2, 3);
	return $dump;
}

# 0. A node in no group: add_shard / remove_shard are checked plain writes.
my ($ret, $out, $err);
my $n1 = $node{1};
$n1->safe_psql('postgres', "SELECT geoshard.add_shard('0', 'n1')");
my @alone = (
	["SELECT geoshard.add_shard('0', 'n2')", qr/42710: shard "0" already exists.*HINT:  Remove it first/s,
		'an existing shard'],
	["SELECT geoshard.add_shard('01', 'n2')", qr/23P01: shard "01" overlaps shard "0"/, 'an overlapping shard'],
	["SELECT geoshard.add_shard('1', '')", qr/22023: shard "1" needs a node name/, 'an empty node'],
	["SELECT geoshard.add_shard(NULL, 'n1')", qr/22004: shard prefix and node must not be null/, 'a null prefix'],
	["SELECT geoshard.remove_shard('2')", qr/42704: shard "2" does not exist/, 'a missing shard'],
);
foreach my $case (@alone)
{
	($ret, $out, $err) = $n1->psql('postgres', "\\set VERBOSITY verbose\n$case->[0]");
	like($err, $case->[1], "alone: add_shard / remove_shard refuse $case->[2]");
}
$n1->safe_psql('postgres', "SELECT geoshard.add_shard('2', 'n1'); SELECT geoshard.remove_shard('2')");
is($n1->safe_psql('postgres', q{SELECT string_agg(prefix || ':' || node, ',' ORDER BY prefix) FROM geoshard.shards}),
	'0:n1', 'alone: add_shard and remove_shard write the table');
$n1->safe_psql(
	'postgres', q{
	SELECT geoshard.add_region('eu-west', 48.8566, 2.3522, endpoint => 'https://eu.example/health', probe_status => 200);
	SELECT geoshard.drain_region('eu-west');
	SELECT geoshard.add_geo_fence('eu', ARRAY['fr', 'de'], ARRAY['eu-west']);
	INSERT INTO geoshard.shards VALUES ('3', 'plain-insert');
});
my $before = dump_catalogue($n1);

# 1. Node 1 founds the group with its catalogue; node 3 must bring none.
my $cluster_id = $n1->safe_psql('postgres', "SELECT geoshard.raft_bootstrap('n1', '$conninfo{1}')");
is(RaftTest::wait_leader(1), 1, 'node 1 leads its new group');
ok($n1->poll_query_until('postgres', 'SELECT applied_index = last_index FROM geoshard.raft_status'),
	'node 1 applied its first entries');
is(dump_catalogue($n1), $before, 'the founding node\'s catalogue went through the log unchanged');
$node{3}->safe_psql('postgres', "SELECT geoshard.add_shard('1', 'mine')");
($ret, $out, $err) = $node{3}->psql('postgres', "SELECT geoshard.raft_join('$cluster_id')");
like($err, qr/this node has a catalogue of its own/, 'a node with a catalogue of its own cannot join');
$node{3}->safe_psql('postgres', "SELECT geoshard.remove_shard('1')");
$node{2}->safe_psql('postgres', "SELECT geoshard.raft_join('$cluster_id')");
$n1->safe_psql('postgres', "SELECT geoshard.raft_add_node(2, 'n2', '$conninfo{2}')");
$node{3}->safe_psql('postgres', "SELECT geoshard.raft_join('$cluster_id')");
# from node 2, a follower: forwarded to the leader
($ret, $out, $err) = $node{2}->psql('postgres', "SELECT geoshard.raft_add_node(3, 'n3', '$conninfo{3}') > 0");
is($out, 't', 'raft_add_node called on a follower is forwarded to the leader');
is( $node{2}->safe_psql('postgres', q{SELECT string_agg(format('%s:%s', id, role), ',' ORDER BY id) FROM geoshard.nodes}),
	'1:voter,2:voter,3:voter', 'and has taken effect on that follower when it returns');
my $leader = RaftTest::wait_leader(1, 2, 3);
ok(defined $leader, "a leader ($leader) among three");
my ($f1, $f2) = grep { $_ != $leader } 1, 2, 3;
my ($L, $F1, $F2) = ($node{$leader}, $node{$f1}, $node{$f2});
is(same_everywhere('after the joins'), $before, 'the joined nodes received the founder\'s catalogue');

# 2. Every catalogue function, on the leader or a follower; read back on the
# node that was called, at once.
my @steps = (
	[
		$F1, 'add_region on a follower',
		q{SET extra_float_digits = 0;
		  SELECT (r).id, (r).lon FROM (SELECT geoshard.add_region('us-east', 40.712776, -74.00597400000001,
		  name => 'US East', endpoint => 'https://us.example/health', cost => 1.5, probe_status => 200) AS r) s;
		  RESET extra_float_digits;
		  SELECT lat, lon, cost, probe_status FROM geoshard.regions WHERE id = 'us-east'},
		"us-east|-74.005974\n40.712776|-74.00597400000001|1.5|200"
	],
	[
		$L, 'update_region on the leader',
		q{SELECT (geoshard.update_region('us-east', cost => 2.25, load => 0.125)).cost},
		'2.25'
	],
	[
		$F2, 'undrain_region on a follower',
		q{SELECT geoshard.undrain_region('eu-west'); SELECT drained FROM geoshard.regions WHERE id = 'eu-west'},
		"\nf"
	],
	[
		$F1, 'drain_region on a follower',
		q{SELECT geoshard.drain_region('us-east'); SELECT drained FROM geoshard.regions WHERE id = 'us-east'},
		"\nt"
	],
	[
		$F2, 'add_geo_fence on a follower',
		q{SELECT (geoshard.add_geo_fence('us', ARRAY['us', 'ca', 'us'], ARRAY['us-east'])).countries;
		  SELECT regions FROM geoshard.geo_fences WHERE name = 'us'},
		"{CA,US}\n{us-east}"
	],
	[
		$L, 'remove_geo_fence on the leader',
		q{SELECT geoshard.remove_geo_fence('eu'); SELECT count(*) FROM geoshard.geo_fences},
		"\n1"
	],
	[
		$F1, 'add_shard on a follower',
		q{SELECT geoshard.add_shard('1', 'n2'); SELECT shard_for('1302')},
		"\nn2"
	],
	[
		$F2, 'split_shard on a follower',
		q{SELECT string_agg(q::text, ',' ORDER BY q) FROM geoshard.split_shard('1') q;
		  SELECT count(*) FROM geoshard.shards WHERE prefix <@ '1'},
		"10,11,12,13\n4"
	],
	[
		$L, 'merge_shard on the leader',
		q{SELECT geoshard.merge_shard('1'); SELECT node FROM geoshard.shards WHERE prefix = '1'},
		"1\nn2"
	],
	[
		$F1, 'remove_shard on a follower',
		q{SELECT geoshard.remove_shard('3'); SELECT shard_for('3')},
		"\n"
	],
	[
		$F2, 'remove_region on a follower',
		q{SELECT geoshard.remove_geo_fence('us'); SELECT geoshard.remove_region('us-east');
		  SELECT count(*) FROM geoshard.regions},
		"\n\n1"
	],
);
foreach my $step (@steps)
{
	my ($n, $what, $sql, $expect) = @$step;
	($ret, $out, $err) = $n->psql('postgres', $sql);
	is($ret, 0, "$what returns") or diag($err);
	is($out, $expect, "$what: its write is read back on that node at once");
	same_everywhere($what);
}

# 3. An apply error reaches the caller with its SQLSTATE, on the leader and
# on a follower; every node skipped the entry alike.
my @errors = (
	[$L, q{SELECT geoshard.add_region('eu-west', 1, 1)},
		qr/42710: region "eu-west" already exists.*HINT:  Change it with geoshard.update_region\(\)/s,
		'add_region of an existing id on the leader'],
	[$F1, q{SELECT geoshard.add_region('eu-west', 1, 1)},
		qr/42710: region "eu-west" already exists.*HINT:  Change it with geoshard.update_region\(\)/s,
		'add_region of an existing id on a follower'],
	[$F2, q{SELECT geoshard.merge_shard('2')},
		qr/55000: cannot merge shard "2".*DETAIL:  Only 0 of its 4 children are shards/s,
		'merge_shard without children on a follower'],
	[$F1, q{SELECT geoshard.split_shard('3')}, qr/42704: shard "3" does not exist/,
		'split_shard of a missing shard on a follower'],
	[$F2, q{SELECT geoshard.add_shard('12', 'n3')}, qr/23P01: shard "12" overlaps shard "1"/,
		'add_shard overlapping a shard on a follower'],
	[$L, q{SELECT geoshard.add_region('bad id', 1, 1)}, qr/22023: invalid region id: "bad id"/,
		'add_region of an invalid id on the leader'],
);
foreach my $e (@errors)
{
	my ($n, $sql, $re, $what) = @$e;
	($ret, $out, $err) = $n->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	like($err, $re, "$what: the apply error with its SQLSTATE");
}
same_everywhere('after the apply errors');
my %applied = map { $_ => $node{$_}->safe_psql('postgres', 'SELECT applied_index FROM geoshard.raft_status') } 1, 2, 3;
ok($applied{1} == $applied{2} && $applied{2} == $applied{3}, 'every node applied the same entries');

# 4. Direct writes are refused on every node, with the function to use.
foreach my $id (1, 2, 3)
{
	($ret, $out, $err) = $node{$id}->psql('postgres',
		"\\set VERBOSITY verbose\nINSERT INTO geoshard.regions (id, lat, lon) VALUES ('x', 0, 0)");
	like($err, qr/55000: table geoshard.regions is replicated.*HINT:  Use geoshard.add_region\(\)/s,
		"node $id refuses direct writes to geoshard.regions");
	($ret, $out, $err) = $node{$id}->psql('postgres', 'DELETE FROM geoshard.geo_fences');
	like($err, qr/table geoshard.geo_fences is replicated.*HINT:  Use geoshard.add_geo_fence\(\)/s,
		"node $id refuses direct writes to geoshard.geo_fences");
	($ret, $out, $err) = $node{$id}->psql('postgres', "UPDATE geoshard.shards SET node = 'x'");
	like($err, qr/table geoshard.shards is replicated.*HINT:  Use geoshard.add_shard\(\)/s,
		"node $id refuses direct writes to geoshard.shards");
}

# 5. raft_barrier on a follower covers what the leader had committed.
my $commit = $L->safe_psql('postgres', 'SELECT commit_index FROM geoshard.raft_status');
my $barrier = $F2->safe_psql('postgres', 'SELECT geoshard.raft_barrier()');
cmp_ok($barrier, '>', $commit, 'raft_barrier on a follower goes after the leader\'s commit');
cmp_ok($F2->safe_psql('postgres', 'SELECT applied_index FROM geoshard.raft_status'),
	'>=', $barrier, 'and returns once the follower applied it');

# 6. Two of three stopped: no proposal can commit; a clear error in time.
$node{$_}->stop('immediate') foreach ($leader, $f1);
my $t0 = time;
($ret, $out, $err) = $F2->psql('postgres',
	"SET geoshard.raft_propose_timeout_ms = 2000; SELECT geoshard.add_shard('3', 'n1')");
my $elapsed = time - $t0;
like(
	$err,
	qr/the raft group has no leader that this node knows.*the last leader this node knew was node $leader|could not reach the raft leader, node $leader/s,
	'without a majority, a proposal fails with an error naming the situation');
cmp_ok($elapsed, '<', 10, "and within the proposal timeout (took ${elapsed}s)");
is($F2->safe_psql('postgres', q{SELECT count(*) FROM geoshard.shards WHERE prefix = '3'}), '0',
	'nothing was written');

done_testing();
