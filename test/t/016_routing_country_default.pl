# Proves that clients a GeoIP Country file places only in a country are
# routed from their country's point, and the committed country table is what
# its generator makes from the installed tzdata; that geoshard.default_region
# set in postgresql.conf (or per database) reaches running sessions at
# reload; and that measured latencies are kept for geoshard.database only:
# measurements made there do not steer another database, which cannot record
# any, and after geoshard.database moves, the old database's measurements
# are not used by the new one.
use strict;
use warnings FATAL => 'all';

use File::Compare qw(compare);
use MaxMind::DB::Writer::Tree;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $src = $ENV{GEOSHARD_SRC}
  or BAIL_OUT('GEOSHARD_SRC must name the source tree (test/run-tests.sh sets it)');

# 1. The committed table matches its generator's output for this tzdata.
SKIP:
{
	skip 'tzdata is not installed (no /usr/share/zoneinfo/zone.tab)', 1
	  unless -f '/usr/share/zoneinfo/zone.tab';
	my $generated = PostgreSQL::Test::Utils::tempdir() . '/country_points.c';
	system("$^X $src/src/routing/gen_country_points.pl /usr/share/zoneinfo > $generated") == 0
	  or die "gen_country_points.pl failed: $?";
	is(compare($generated, "$src/src/routing/country_points.c"),
		0,
		'src/routing/country_points.c is what gen_country_points.pl makes from the installed tzdata (else run make country-points)'
	);
}

# A Country-layout file: countries, no coordinates.
sub make_country_mmdb
{
	my ($path) = @_;
	my %types = (country => 'map', iso_code => 'utf8_string');
	my $tree = MaxMind::DB::Writer::Tree->new(
		ip_version               => 6,
		record_size              => 24,
		database_type            => 'GeoIP2-Country',
		languages                => ['en'],
		description              => { en => 'geoshard country test database' },
		remove_reserved_networks => 0,
		alias_ipv6_to_ipv4       => 1,
		map_key_type_callback    => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
	);
	$tree->insert_network('192.0.2.0/24',    { country => { iso_code => 'US' } });
	$tree->insert_network('198.51.100.0/24', { country => { iso_code => 'AU' } });
	$tree->insert_network('203.0.113.0/24',  { country => { iso_code => 'BV' } });
	open(my $fh, '>:raw', "$path.tmp") or die "could not open $path.tmp: $!";
	$tree->write_tree($fh);
	close($fh) or die "could not write $path.tmp: $!";
	rename("$path.tmp", $path) or die "could not rename $path.tmp: $!";
	return;
}

my $regions = q{
	SELECT geoshard.add_region('us-west-2', 45.52, -122.68);
	SELECT geoshard.add_region('us-east-1', 38.9, -77.0);
	SELECT geoshard.add_region('eu-central-1', 50.11, 8.68);
	SELECT geoshard.add_region('ap-southeast-1', 1.29, 103.85);
	SELECT geoshard.add_region('ap-southeast-2', -33.87, 151.21);
};

my $node = PostgreSQL::Test::Cluster->new('country_default');
$node->init;
my $dir = $node->data_dir;
make_country_mmdb("$dir/country.mmdb");
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
geoshard.geoip_database = '$dir/country.mmdb'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION geoshard');
$node->safe_psql('postgres', $regions);

# 2. A Country file: the country's point (New York for US, Sydney for AU).
is( $node->safe_psql(
		'postgres', q{SELECT route_region(ip) || ' ' || (e->>'reason') || ' ' ||
			(e->'client'->>'source') || ' ' || (e->'client'->>'location_source') || ' ' ||
			(e->'client'->>'accuracy_radius_km') || ' ' || (e->>'latency_source')
		FROM (VALUES ('192.0.2.1'::inet), ('198.51.100.1')) v(ip), route_region_explain(ip) e
		ORDER BY ip}),
	"us-east-1 country_location mmdb country 8000 country\n"
	  . "ap-southeast-2 country_location mmdb country 3300 country",
	'a Country file routes from the country\'s point, and says so');
is( $node->safe_psql(
		'postgres', q{SELECT latitude IS NULL, country, source FROM geoip_lookup('192.0.2.1')}),
	't|US|mmdb',
	'geoip_lookup still reports the file\'s answer: no coordinates');
is( $node->safe_psql(
		'postgres', q{SELECT route_region('203.0.113.1') || ' ' || (route_region_explain('203.0.113.1')->>'reason')}),
	'ap-southeast-1 no_client_location',
	'a country without a point (BV) leaves the client unlocated');

# 3. geoshard.default_region from postgresql.conf reaches a running session.
my $session = $node->background_psql('postgres', on_error_stop => 0);
is($session->query_safe(q{SELECT route_region('10.0.0.1')}),
	'ap-southeast-1', 'without a default: cost, then id');
$node->append_conf('postgresql.conf', "geoshard.default_region = 'eu-central-1'\n");
$node->reload;
ok( $node->poll_query_until(
		'postgres', q{SELECT route_region('10.0.0.1')}, 'eu-central-1'),
	'a new session routes unlocated clients to the default region');
is( $session->query_safe(
		q{SELECT route_region('10.0.0.1') || ' ' || (route_region_explain('10.0.0.1')->>'reason')}),
	'eu-central-1 default_region',
	'and so does the running session, after the reload');
is($session->query_safe(q{SELECT route_region('192.0.2.1')}),
	'us-east-1', 'located clients are unaffected');
$session->quit;

# ... and ALTER DATABASE sets one per database.
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION geoshard');
$node->safe_psql('other', $regions);
$node->safe_psql('postgres', q{ALTER DATABASE other SET geoshard.default_region = 'us-west-2'});
is($node->safe_psql('other', q{SELECT route_region('10.0.0.1')}),
	'us-west-2', 'ALTER DATABASE gives a database its own default region');
is($node->safe_psql('postgres', q{SELECT route_region('10.0.0.1')}),
	'eu-central-1', 'leaving the others alone');

# 4. Measurements belong to geoshard.database.
$node->safe_psql('postgres',
	q{SELECT geoshard.observe_latency('192.0.2.99', 'ap-southeast-1', 1)});
my $measured = q{SELECT route_region('192.0.2.1') || ' ' ||
	(route_region_explain('192.0.2.1')->'client'->>'measured_regions')};
is($node->safe_psql('postgres', $measured),
	'ap-southeast-1 1', 'a measurement steers routing in geoshard.database');
is($node->safe_psql('other', $measured),
	'us-east-1 0', 'but not in another database');
my ($ret, $stdout, $stderr) = $node->psql('other',
	q{SELECT geoshard.observe_latency('192.0.2.99', 'us-west-2', 1)});
like(
	$stderr,
	qr/ERROR:  observed latencies are kept only for the database named by geoshard.database\n.*HINT:  Connect to that database/,
	'another database cannot record measurements');

# geoshard.database moves to "other": postgres' measurements stay behind.
$node->append_conf('postgresql.conf', "geoshard.database = 'other'\n");
$node->reload;
ok( $node->poll_query_until(
		'other', q{SELECT current_setting('geoshard.database')}, 'other'),
	'geoshard.database now names "other"');
is($node->safe_psql('other', $measured),
	'us-east-1 0', 'the new database does not see the old one\'s measurements');
is($node->safe_psql('postgres', $measured),
	'us-east-1 0', 'nor does the old one use them any more');
$node->safe_psql('other',
	q{SELECT geoshard.observe_latency('192.0.2.99', 'us-west-2', 1)});
is($node->safe_psql('other', $measured),
	'us-west-2 1', 'the new database records and uses its own');
($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT geoshard.observe_latency('192.0.2.99', 'us-west-2', 1)});
like($stderr, qr/observed latencies are kept only for the database named by geoshard.database/,
	'and the old one can no longer record');

$node->stop;
done_testing();
