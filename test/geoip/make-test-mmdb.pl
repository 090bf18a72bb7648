#!/usr/bin/perl
# test/geoip/make-test-mmdb.pl: write a small GeoIP2-City-like MaxMind DB
# file for the tests, with the documentation ranges placed in countries.
#
# Usage: make-test-mmdb.pl OUTPUT [first|second]
#   first  (default) 192.0.2.0/24 US, 198.51.100.0/24 DE, 203.0.113.0/24 SG,
#                    2001:db8::/32 JP
#   second           the same ranges in other countries, to show a reload
use strict;
use warnings FATAL => 'all';

use MaxMind::DB::Writer::Tree;

my ($output, $variant) = @ARGV;
die "usage: $0 OUTPUT [first|second]\n" unless defined $output;
$variant //= 'first';

sub city
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

my %networks = (
	first => [
		[ '192.0.2.0/24',    city('US', 47.6,  -122.3, 20) ],
		[ '198.51.100.0/24', city('DE', 52.52, 13.40,  50) ],
		[ '203.0.113.0/24',  city('SG', 1.29,  103.85, 10) ],
		[ '2001:db8::/32',   city('JP', 35.68, 139.69, 100) ],
	],
	second => [
		[ '192.0.2.0/24',    city('CA', 49.28, -123.12, 5) ],
		[ '198.51.100.0/24', city('FR', 48.86, 2.35,    25) ],
		[ '203.0.113.0/24',  city('AU', -33.87, 151.21, 15) ],
		[ '2001:db8::/32',   city('KR', 37.57, 126.98,  200) ],
	],
);
die "unknown variant \"$variant\"\n" unless $networks{$variant};

# Types for every key the records use; the writer refuses unknown keys.
my %types = (
	country         => 'map',
	iso_code        => 'utf8_string',
	location        => 'map',
	latitude        => 'double',
	longitude       => 'double',
	accuracy_radius => 'uint16',
);

my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version    => 6,
	record_size   => 24,
	database_type => 'GeoIP2-City',
	languages     => ['en'],
	description   => { en => 'geoshard test database' },
	# keep the documentation ranges, which the writer drops by default
	remove_reserved_networks => 0,
	alias_ipv6_to_ipv4       => 1,
	map_key_type_callback    => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
);

$tree->insert_network(@$_) for @{ $networks{$variant} };

open(my $fh, '>:raw', $output) or die "could not open $output: $!\n";
$tree->write_tree($fh);
close($fh) or die "could not write $output: $!\n";
