# Proves that the binary input functions of every geoshard type survive a few
# million mutated inputs (flipped bits, edge-value counts and lengths,
# truncation, trailing bytes): each is refused with an error or accepted,
# and every accepted value round-trips through text and binary.  The server
# must not crash.  Uses the test-only extension geoshard_fuzz (test/fuzz).
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('fuzz');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'geoshard'\ngeoshard.node_id = 1");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION geoshard; CREATE EXTENSION geoshard_fuzz');

# Seeds: valid encodings of varied states, made with the types' own functions.
my %seeds = (
	quadkey => q{ARRAY[quadkey_send(''), quadkey_send('0231'), quadkey_send(quadkey(47.6, -122.3, 29))]},
	hlc => q{ARRAY[hlc_send(hlc_now()), hlc_send('1970-01-01T00:00:00.000Z/0@0')]},
	g_counter => q{ARRAY[g_counter_send('{}'), g_counter_send('{"1":5,"3":1}'),
						 g_counter_send('{"1":1,"2":2,"7":9,"2147483647":9223372036854775807}')]},
	pn_counter => q{ARRAY[pn_counter_send('{}'), pn_counter_send('{"1":[5,2],"4":[0,9]}')]},
	lww_register => q{ARRAY[lww_register_send(lww_register('{"a":[1,2,{"b":null}]}'::jsonb)),
							lww_register_send(lww_register('"x"'::jsonb))]},
	or_set => q{ARRAY[or_set_send('{}'), or_set_send(or_set_add(or_set_add('{}', 'a'), 'bb')),
					  or_set_send('{"vv":{"1":3,"2":4},"elems":{"x":{"1":3},"y":{"1":2,"2":4}}}'),
					  or_set_send(or_set_remove(or_set_add(or_set_add('{}', 'a'), 'b'), 'a')),
					  or_set_send('{"vv":{"1":1},"elems":{"a":{"1":1,"2":[5,9]}},"cloud":{"2":[3,4],"3":7}}')]},
	lww_set => q{ARRAY[lww_set_send('{}'), lww_set_send(lww_set_remove(lww_set_add(lww_set_add('{}', 'a'), 'b'), 'a'))]});
my %iterations = (quadkey => 300000, hlc => 300000, g_counter => 600000, pn_counter => 500000,
	lww_register => 400000, or_set => 700000, lww_set => 600000);

my $total = 0;
foreach my $type (sort keys %seeds)
{
	my $n = $iterations{$type};
	my ($accepted, $rejected) = split /\|/,
	  $node->safe_psql('postgres', "SELECT * FROM geoshard_fuzz_recv('$type', $seeds{$type}, $n, 20261123)");
	is($accepted + $rejected, $n, "$type: $n mutated inputs each accepted or refused");
	cmp_ok($rejected, '>', 0, "$type: mutations were refused ($rejected)");
	cmp_ok($accepted, '>', 0, "$type: some mutations were still valid and round-tripped ($accepted)");
	$total += $n;
}
cmp_ok($total, '>=', 3_000_000, "$total inputs in all");
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');

$node->stop;
done_testing();
