# Proves that set deltas built from '{}' by many concurrent sessions on two
# servers (the upsert shape: INSERT ... or_set_add('{}', x) ... ON CONFLICT
# DO UPDATE SET s = crdt_merge(s, EXCLUDED.s)) all survive: every element
# added on either node is in the row after the nodes exchange their rows,
# both nodes then hold the same state, and removes made from the current
# row (which has observed the elements) win on both nodes.  The or_set dots
# come from each server's shared clock, so no two sessions reuse one.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients = 4;
my $transactions = 150;
my %node;
foreach my $id (1, 2)
{
	my $n = PostgreSQL::Test::Cluster->new("sets$id");
	$n->init;
	$n->append_conf('postgresql.conf', "shared_preload_libraries = 'geoshard'\ngeoshard.node_id = $id");
	$n->start;
	$n->safe_psql(
		'postgres', q{
		CREATE EXTENSION geoshard;
		CREATE TABLE sets (id int PRIMARY KEY, o or_set NOT NULL DEFAULT '{}', l lww_set NOT NULL DEFAULT '{}');
		CREATE SEQUENCE elems;
	});
	$node{$id} = $n;
}

# Concurrent delta upserts on each node; element names carry the node id.
foreach my $id (1, 2)
{
	$node{$id}->pgbench(
		"--no-vacuum --client=$clients --transactions=$transactions",
		0,
		[qr{processed: @{[$clients * $transactions]}/@{[$clients * $transactions]}}],
		[qr{^$}],
		"node $id: concurrent delta upserts",
		{
			"010_deltas_$id" => qq{
				INSERT INTO sets (id, o, l)
				SELECT 1, or_set_add('{}', e), lww_set_add('{}', e) FROM (SELECT 'n$id-' || nextval('elems') AS e) x
				ON CONFLICT (id) DO UPDATE SET o = crdt_merge(sets.o, EXCLUDED.o), l = crdt_merge(sets.l, EXCLUDED.l);
			}
		});
	is( $node{$id}->safe_psql('postgres',
			'SELECT cardinality(crdt_value(o)), cardinality(crdt_value(l)) FROM sets'),
		($clients * $transactions) . '|' . ($clients * $transactions),
		"node $id: every delta's element is in the row");
}

# Exchange rows in both directions, as text, and merge.
sub exchange
{
	my ($from, $to) = @_;
	my $row = $from->safe_psql('postgres', 'SELECT o::text, l::text FROM sets WHERE id = 1');
	my ($o, $l) = split /\|/, $row;
	$to->safe_psql('postgres',
		"UPDATE sets SET o = crdt_merge(o, \$q\$$o\$q\$), l = crdt_merge(l, \$q\$$l\$q\$) WHERE id = 1");
}
exchange($node{1}, $node{2});
exchange($node{2}, $node{1});

my $total = 2 * $clients * $transactions;
foreach my $id (1, 2)
{
	is( $node{$id}->safe_psql('postgres',
			'SELECT cardinality(crdt_value(o)), cardinality(crdt_value(l)) FROM sets'),
		"$total|$total", "node $id: after the exchange, both nodes' elements");
}
is($node{1}->safe_psql('postgres', 'SELECT o::text || l::text FROM sets'),
	$node{2}->safe_psql('postgres', 'SELECT o::text || l::text FROM sets'),
	'both nodes hold the same states');

# Node 1 removes its first ten elements from the current row; node 2 adds
# one more meanwhile.  After another exchange both agree.
$node{1}->safe_psql(
	'postgres', q{
	DO $$
	BEGIN
		FOR i IN 1..10 LOOP
			UPDATE sets SET o = or_set_remove(o, 'n1-' || i), l = lww_set_remove(l, 'n1-' || i);
		END LOOP;
	END
	$$;
});
$node{2}->safe_psql('postgres',
	"UPDATE sets SET o = crdt_merge(o, or_set_add('{}', 'late')), l = crdt_merge(l, lww_set_add('{}', 'late'))");
exchange($node{1}, $node{2});
exchange($node{2}, $node{1});
foreach my $id (1, 2)
{
	is( $node{$id}->safe_psql('postgres',
			q{SELECT cardinality(crdt_value(o)), cardinality(crdt_value(l)),
					 'n1-1' = ANY (crdt_value(o)) OR 'n1-10' = ANY (crdt_value(l)), 'late' = ANY (crdt_value(o))
			  FROM sets}),
		($total - 10 + 1) . '|' . ($total - 10 + 1) . '|f|t',
		"node $id: observed removes win, the concurrent add survives");
}
is($node{1}->safe_psql('postgres', 'SELECT o::text || l::text FROM sets'),
	$node{2}->safe_psql('postgres', 'SELECT o::text || l::text FROM sets'),
	'both nodes hold the same states again');

$node{$_}->stop foreach (1, 2);
done_testing();
