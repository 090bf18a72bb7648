#!/usr/bin/perl
# test/geoip/make-test-mmdb.pl: write a small MaxMind DB file for the tests,
# with the documentation ranges placed in countries, in one of the record
# layouts geoip_lookup reads.
#
# Usage: make-test-mmdb.pl OUTPUT [VARIANT]
#   first  (default) GeoIP2-City layout: 192.0.2.0/24 US, 198.51.100.0/24 DE,
#                    203.0.113.0/24 SG, 2001:db8::/32 JP
#   second           the same ranges in other countries, to show a reload
#   private          "first" plus 10.0.0.0/8 (NZ) and fd00::/8 (NO), as a
#                    file built for one organisation places its own ranges
#   dbip             "first" as DB-IP writes it (GeoIP2 keys, DBIP type)
#   ipinfo           "first" in IPinfo's flat layout: country, lat and lng,
#                    city, every value a string
#   ipinfo-latitude  IPinfo's flat layout with country_code, a country name
#                    and numeric latitude/longitude
#   iplocationdb     "first" in ip-location-db's flat layout: country_code,
#                    latitude, longitude, city, state1, postcode, timezone
#   asn              an ASN file: no country, no location
use strict;
use warnings FATAL => 'all';

use MaxMind::DB::Writer::Tree;

my ($output, $variant) = @ARGV;
die "usage: $0 OUTPUT [VARIANT]\n" unless defined $output;
$variant //= 'first';

# The four test places: network => [country, lat, lon, radius, city]
my @first = (
	[ '192.0.2.0/24',    'US', 47.6,  -122.3, 20,  'Seattle' ],
	[ '198.51.100.0/24', 'DE', 52.52, 13.40,  50,  'Berlin' ],
	[ '203.0.113.0/24',  'SG', 1.29,  103.85, 10,  'Singapore' ],
	[ '2001:db8::/32',   'JP', 35.68, 139.69, 100, 'Tokyo' ],
);
my @second = (
	[ '192.0.2.0/24',    'CA', 49.28,  -123.12, 5,   'Vancouver' ],
	[ '198.51.100.0/24', 'FR', 48.86,  2.35,    25,  'Paris' ],
	[ '203.0.113.0/24',  'AU', -33.87, 151.21,  15,  'Sydney' ],
	[ '2001:db8::/32',   'KR', 37.57,  126.98,  200, 'Seoul' ],
);
my @private = (
	@first,
	[ '10.0.0.0/8', 'NZ', -41.29, 174.78, 30,  'Wellington' ],
	[ 'fd00::/8',   'NO', 59.91,  10.75,  40,  'Oslo' ],
);

sub maxmind
{
	my ($country, $lat, $lon, $radius) = @_;
	return {
		country  => { iso_code => $country },
		location => {
			latitude        => $lat,
			longitude       => $lon,
			accuracy_radius => $radius,
		},
	};
}

sub ipinfo
{
	my ($country, $lat, $lon, undef, $city) = @_;
	return { country => $country, lat => "$lat", lng => "$lon", city => $city };
}

sub ipinfo_latitude
{
	my ($country, $lat, $lon, undef, $city) = @_;
	return {
		country_code => $country,
		country      => "Country $country",
		latitude     => $lat,
		longitude    => $lon,
		city         => $city,
	};
}

sub iplocationdb
{
	my ($country, $lat, $lon, undef, $city) = @_;
	return {
		country_code => $country,
		latitude     => $lat,
		longitude    => $lon,
		city         => $city,
		state1       => "State of $city",
		postcode     => '12345',
		timezone     => 'Etc/UTC',
	};
}

sub asn
{
	my ($country) = @_;
	return {
		autonomous_system_number       => 64496 + ord($country),
		autonomous_system_organization => "Network $country",
	};
}

# variant => [database_type, description, record builder, places]
my %variants = (
	first           => [ 'GeoIP2-City', 'geoshard test database', \&maxmind, \@first ],
	second          => [ 'GeoIP2-City', 'geoshard test database', \&maxmind, \@second ],
	private         => [ 'GeoIP2-City', 'geoshard test database', \&maxmind, \@private ],
	dbip            => [ 'DBIP-City-Lite', 'dbip.com IP to City Lite', \&maxmind, \@first ],
	ipinfo          => [ 'ipinfo standard_location.mmdb', 'IPinfo standard location', \&ipinfo, \@first ],
	'ipinfo-latitude' => [ 'ipinfo location', 'IPinfo location', \&ipinfo_latitude, \@first ],
	iplocationdb    => [ 'dbip-city', 'ip-location-db dbip-city', \&iplocationdb, \@first ],
	asn             => [ 'GeoLite2-ASN', 'geoshard test ASN database', \&asn, \@first ],
);
my $spec = $variants{$variant} or die "unknown variant \"$variant\"\n";
my ($type, $description, $builder, $places) = @$spec;

# Types for every key the records use; the writer refuses unknown keys.
my %types = (
	country         => 'map',
	iso_code        => 'utf8_string',
	location        => 'map',
	latitude        => 'double',
	longitude       => 'double',
	accuracy_radius => 'uint16',
	lat             => 'utf8_string',
	lng             => 'utf8_string',
	city            => 'utf8_string',
	country_code    => 'utf8_string',
	state1          => 'utf8_string',
	postcode        => 'utf8_string',
	timezone        => 'utf8_string',
	autonomous_system_number       => 'uint32',
	autonomous_system_organization => 'utf8_string',
);
# flat layouts: "country" is a string
$types{country} = 'utf8_string' if $builder == \&ipinfo || $builder == \&ipinfo_latitude;

my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version    => 6,
	record_size   => 24,
	database_type => $type,
	languages     => ['en'],
	description   => { en => $description },
	# keep the documentation and private ranges, which the writer drops by default
	remove_reserved_networks => 0,
	alias_ipv6_to_ipv4       => 1,
	map_key_type_callback    => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
);

for my $place (@$places)
{
	my ($network, @fields) = @$place;
	$tree->insert_network($network, $builder->(@fields));
}

open(my $fh, '>:raw', $output) or die "could not open $output: $!\n";
$tree->write_tree($fh);
close($fh) or die "could not write $output: $!\n";
