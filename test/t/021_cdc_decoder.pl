# Proves the geoshard output plugin against a real server through the
# replication protocol: pg_recvlogical -P geoshard creates a slot and
# streams events with options; a bad option fails the start; a database
# without the extension decodes (no geo enrichment); the same events get the
# same ids whether read by SQL or by pg_recvlogical, after a crash of the
# server, and when a consumer stops half-way and restarts (the events it
# is handed again keep their ids); and a 2M-row transaction is decoded with
# bounded memory (the walsender's peak RSS stays far below the output's size,
# logical_decoding_work_mem = 64kB making PostgreSQL spill it to disk).
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cdc');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'geoshard'
geoshard.health_enabled = off
output_plugin_libraries = 'pgoutput, test_decoding, geoshard, wal2json'
logical_decoding_work_mem = 64kB
jit = off
});
$node->start;

# pg_recvlogical from the slot up to endpos (default: the current WAL end),
# returning its exit status, its output lines and its stderr
sub recvlogical
{
	my ($db, $slot, $endpos, @options) = @_;
	$endpos //= $node->safe_psql($db, 'SELECT pg_current_wal_lsn()');
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[
			'pg_recvlogical', '-d', $node->connstr($db), '-S', $slot,
			'--start', '--endpos', $endpos, '--no-loop', '-f', '-',
			map { ('-o', $_) } @options
		],
		'<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($ok, [ split /\n/, $out ], $err);
}

sub ids
{
	return [ map { /^\{"id":"(\d+-\d+)"/ ? $1 : "no id in: $_" } @{ $_[0] } ];
}

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION geoshard;
INSERT INTO geoshard.shards VALUES ('0', 'node-a'), ('1', 'node-b');
CREATE TABLE pins (id bigint PRIMARY KEY, qk quadkey, note text);
CREATE TABLE other (id int PRIMARY KEY);
});

# a slot made by pg_recvlogical with the plugin's name
command_ok(
	[
		'pg_recvlogical', '-d', $node->connstr('postgres'), '-S', 'recv',
		'--create-slot', '-P', 'geoshard'
	],
	'pg_recvlogical creates a geoshard slot');
is($node->safe_psql('postgres', "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'recv'"),
	'geoshard', 'the slot uses the geoshard plugin');

$node->safe_psql(
	'postgres', q{
INSERT INTO pins VALUES (1, '0123', 'a'), (2, '13', 'b');
INSERT INTO other VALUES (1);
UPDATE pins SET note = 'c' WHERE id = 1;
DELETE FROM pins WHERE id = 2;
SELECT pg_logical_emit_message(true, 'outbox.pins', 'hello');
});

# a bad option fails the start and consumes nothing
my ($ok, $lines, $err) = recvlogical('postgres', 'recv', undef, 'include-tabels=public.pins');
ok(!$ok, 'an unrecognized option fails pg_recvlogical');
like($err, qr/unrecognized option "include-tabels" for output plugin "geoshard"/,
	'the error names the option');
($ok, $lines, $err) = recvlogical('postgres', 'recv', undef, 'actions=insert,upsert');
like($err, qr/invalid value for option "actions": "insert,upsert"/, 'a bad value is named');

# options through the replication protocol
my $peek = $node->safe_psql('postgres',
	"SELECT data FROM pg_logical_slot_peek_changes('recv', NULL, NULL, 'include-begin-commit', 'on')");
($ok, $lines, $err) = recvlogical('postgres', 'recv', undef,
	'include-begin-commit=on', 'include-tables=public.pin*', 'include-old=on');
ok($ok, 'pg_recvlogical streams with options') or diag($err);
my @actions = map { /"action":"(.)"/ ? $1 : '?' } @$lines;
is("@actions", 'B I I C B C B U C B D C B M C',
	'begin/commit, the filter (no event of table other) and every action');
like($lines->[1], qr/"schema":"public","table":"pins","quadkey":"0123","node":"node-a","pk":\[\{"name":"id","type":"bigint","value":1\}\]/,
	'an insert carries its key, quadkey and node');
like($lines->[10], qr/"identity":\[\{"name":"id","type":"bigint","value":2\}\]/, 'include-old gives the old key');
my @peek_ids = @{ ids([ split /\n/, $peek ]) };
my %streamed = map { $_ => 1 } @{ ids($lines) };
is(scalar(grep { !$streamed{$_} } @peek_ids), 1,
	'the streamed ids are those SQL peeked, minus the filtered event');
is(scalar(grep { $streamed{$_} } @peek_ids), scalar(@$lines), 'and none other');

# ids survive a crash: peek, crash the server, stream: the same events, the same ids
$node->safe_psql(
	'postgres', q{
INSERT INTO pins SELECT g, '0', 'bulk' FROM generate_series(10, 19) g;
BEGIN; UPDATE pins SET note = 'again' WHERE id < 15; SELECT pg_logical_emit_message(true, 'm', 'x'); COMMIT;
SELECT pg_logical_emit_message(false, 'hb', 'tick');
DELETE FROM pins WHERE id >= 15;
});
my $endpos = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my $before = $node->safe_psql('postgres',
	"SELECT string_agg(data, E'\\n') FROM pg_logical_slot_peek_changes('recv', '$endpos', NULL)");
$node->stop('immediate');
$node->start;
($ok, $lines, $err) = recvlogical('postgres', 'recv', $endpos);
ok($ok, 'streams after a crash') or diag($err);
# The slot's confirmed position reaches disk at checkpoints, so a crash can
# hand a consumer events it had already confirmed: they must be the same.
my @after = split /\n/, $before;
ok(scalar(@$lines) >= scalar(@after) && scalar(@after) >= 23, 'every event after the crash');
is(join("\n", @$lines[ $#$lines - $#after .. $#$lines ]), $before,
	'after a crash the same events come with the same ids');
my %peeked = map { $_ => 1 } split /\n/, $peek;
my @again = @$lines[ 0 .. $#$lines - @after ];
is(scalar(grep { !$peeked{$_} } @again), 0,
	'events handed again after the crash (' . scalar(@again) . ') are identical to their first reading');

# a consumer that stops half-way and restarts: whatever it is handed again
# has the ids it had the first time
$node->safe_psql('postgres', q{
INSERT INTO pins SELECT g, '1', 'first half' FROM generate_series(100, 149) g;
INSERT INTO pins SELECT g, '1', 'first half' FROM generate_series(150, 199) g;
});
my $half = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->safe_psql('postgres', q{
UPDATE pins SET note = 'second half' WHERE id >= 100;
BEGIN; DELETE FROM pins WHERE id >= 150; SELECT pg_logical_emit_message(true, 'm', 'y'); COMMIT;
});
$endpos = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my @all = split /\n/, $node->safe_psql('postgres',
	"SELECT string_agg(data, E'\\n') FROM pg_logical_slot_peek_changes('recv', '$endpos', NULL)");
my ($ok1, $first, $err1) = recvlogical('postgres', 'recv', $half);
my ($ok2, $second, $err2) = recvlogical('postgres', 'recv', $endpos);
ok($ok1 && $ok2, 'a consumer stops at a position and restarts') or diag("$err1 $err2");
ok(@$first >= 100 && @$first < @all, 'the first run stopped half-way (' . scalar(@$first) . ' of ' . scalar(@all) . ' events)');
my %seen;
my $same = 1;
foreach my $line (@$first, @$second)
{
	my ($id) = $line =~ /^\{"id":"([^"]+)"/;
	$same = 0 if defined $seen{$id} && $seen{$id} ne $line;
	$seen{$id} = $line;
}
ok($same, 'an event handed again is identical, id included');
my @dedup;
my %done;
foreach my $line (@$first, @$second)
{
	my ($id) = $line =~ /^\{"id":"([^"]+)"/;
	push @dedup, $line unless $done{$id}++;
}
is(join("\n", @dedup), join("\n", @all), 'deduplicated by id, the two runs are exactly the stream');

# a database without the extension decodes, without geo enrichment
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->safe_psql(
	'plain', q{
SELECT 'x' FROM pg_create_logical_replication_slot('plain', 'geoshard');
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t VALUES (1, 'no extension here');
});
($ok, $lines, $err) = recvlogical('plain', 'plain');
ok($ok, 'decodes in a database without the extension') or diag($err);
like($lines->[0], qr/"action":"I".*"table":"t","pk":\[\{"name":"id","type":"integer","value":1\}\],"columns":/,
	'an event without quadkey or node');
$node->safe_psql('plain', "SELECT pg_drop_replication_slot('plain')");

# a 2M-row transaction with bounded memory: the walsender's peak RSS is
# sampled while it decodes, and the events are counted, not stored
$node->safe_psql(
	'postgres', q{
SELECT pg_drop_replication_slot('recv');
CREATE TABLE big (id int PRIMARY KEY);
SELECT 'x' FROM pg_create_logical_replication_slot('big', 'geoshard');
INSERT INTO big SELECT generate_series(1, 2000000);
});
$endpos = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my ($count, $recv_err) = ('', '');
my $recv = IPC::Run::start(
	[
		'pg_recvlogical', '-d', $node->connstr('postgres'), '-S', 'big',
		'--start', '--endpos', $endpos, '--no-loop', '-f', '-'
	],
	'|', [ 'wc', '-l' ], '>', \$count, '2>', \$recv_err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_replication")
  or die 'pg_recvlogical did not connect';
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_replication");
my $peak_kb = 0;
# a bounded loop: sample the walsender's VmHWM until pg_recvlogical ends
for (my $i = 0; $i < 10 * $PostgreSQL::Test::Utils::timeout_default && $recv->pumpable; $i++)
{
	if (open(my $fh, '<', "/proc/$pid/status"))
	{
		while (<$fh>) { $peak_kb = $1 if /^VmHWM:\s+(\d+) kB/ && $1 > $peak_kb; }
		close $fh;
	}
	$recv->pump_nb;
	select(undef, undef, undef, 0.1);
}
$recv->finish;
chomp $count;
$count =~ s/\s//g;
is($count, 2000000, 'a 2M-row transaction gives 2M events');
ok($peak_kb > 0 && $peak_kb < 100 * 1024,
	"the decoding walsender's peak RSS stays bounded ($peak_kb kB for about 400 MB of events)");
note("2M-row transaction: walsender peak RSS $peak_kb kB");

$node->stop;
done_testing();
