# Proves that two servers with different geoshard.node_id values, changing
# the same CRDT rows independently, converge once they have exchanged their
# states in both directions with plain SQL (COPY out of one, merge-upsert
# into the other), and that exchanging again changes nothing.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my %node;
foreach my $id (1, 2)
{
	my $n = PostgreSQL::Test::Cluster->new("crdt$id");
	$n->init;
	$n->append_conf('postgresql.conf', "shared_preload_libraries = 'geoshard'\ngeoshard.node_id = $id");
	$n->start;
	$n->safe_psql(
		'postgres', q{
		CREATE EXTENSION geoshard;
		CREATE TABLE pins (
			id int PRIMARY KEY,
			title lww_register,
			going g_counter NOT NULL DEFAULT '{}',
			score pn_counter NOT NULL DEFAULT '{}',
			attendees or_set NOT NULL DEFAULT '{}',
			tags lww_set NOT NULL DEFAULT '{}');
		CREATE TABLE incoming (LIKE pins);
		INSERT INTO pins (id, title) SELECT g, lww_register(to_jsonb('pin ' || g)) FROM generate_series(1, 20) g;
	});
	$node{$id} = $n;
}

# Start from the same rows: node 2 takes node 1's.
sub exchange
{
	my ($from, $to) = @_;
	my $rows = $from->safe_psql('postgres', 'COPY pins TO STDOUT');
	$to->safe_psql(
		'postgres', "TRUNCATE incoming;\nCOPY incoming FROM STDIN;\n$rows\n\\.\n" . q{
		INSERT INTO pins SELECT * FROM incoming
		ON CONFLICT (id) DO UPDATE SET
			title = crdt_merge(pins.title, EXCLUDED.title),
			going = crdt_merge(pins.going, EXCLUDED.going),
			score = crdt_merge(pins.score, EXCLUDED.score),
			attendees = crdt_merge(pins.attendees, EXCLUDED.attendees),
			tags = crdt_merge(pins.tags, EXCLUDED.tags);
	});
}
exchange($node{1}, $node{2});

# Both nodes change the same rows while apart, many times, in random order.
my %names = (1 => [qw(ana ben cy)], 2 => [qw(dee eli fay)]);
foreach my $round (1 .. 30)
{
	foreach my $id (1, 2)
	{
		my $pin = 1 + int(rand(20));
		my $who = $names{$id}[ int(rand(3)) ];
		my $other = $names{ 3 - $id }[ int(rand(3)) ];
		my $delta = int(rand(11)) - 5;
		$node{$id}->safe_psql(
			'postgres', qq{
			UPDATE pins SET
				title = lww_register(to_jsonb('pin $pin, edit $round on node $id'::text)),
				going = g_counter_inc(going, $round),
				score = pn_counter_add(score, $delta),
				attendees = CASE WHEN $round % 4 = 0 THEN or_set_remove(attendees, '$other')
								 ELSE or_set_add(attendees, '$who') END,
				tags = CASE WHEN $round % 3 = 0 THEN lww_set_remove(tags, 'busy')
							ELSE lww_set_add(tags, 'busy') END
			WHERE id = $pin});
	}
}

my $state = 'SELECT id, title, going, score, attendees, tags FROM pins ORDER BY id';
my $values = q{SELECT id, crdt_value(title), crdt_value(going), crdt_value(score),
					  crdt_value(attendees), crdt_value(tags) FROM pins ORDER BY id};
isnt($node{1}->safe_psql('postgres', $state), $node{2}->safe_psql('postgres', $state),
	'the nodes diverged while apart');

exchange($node{1}, $node{2});
exchange($node{2}, $node{1});
is($node{1}->safe_psql('postgres', $state), $node{2}->safe_psql('postgres', $state),
	'states are identical after one exchange each way');
is($node{1}->safe_psql('postgres', $values), $node{2}->safe_psql('postgres', $values),
	'values are identical');

# Counters lose nothing: the total is the sum of every increment made.
is( $node{1}->safe_psql('postgres', 'SELECT sum(crdt_value(going)) FROM pins'),
	2 * (30 * 31 / 2),
	'g_counter totals every increment of both nodes');

# Exchanging again is a no-op (idempotence across servers).
my $before = $node{1}->safe_psql('postgres', $state);
exchange($node{2}, $node{1});
exchange($node{1}, $node{2});
is($node{1}->safe_psql('postgres', $state), $before, 'a second exchange changes nothing');

# HLC: node 2 takes node 1's latest stamp into its clock and stamps later.
my $stamp = $node{1}->safe_psql('postgres', 'SELECT hlc_now()');
is( $node{2}->safe_psql(
		'postgres', "SELECT hlc_update('$stamp') > '$stamp'::hlc AND hlc_now() > '$stamp'::hlc"),
	't',
	'a received stamp moves the other clock past it');

$node{$_}->stop foreach (1, 2);
done_testing();
