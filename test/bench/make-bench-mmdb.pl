#!/usr/bin/perl
# test/bench/make-bench-mmdb.pl: write a GeoIP2-City-like MaxMind DB file of
# random networks for the routing benchmark (test/bench/routing.sh), and the
# same networks as a tab-separated file for the benchmark's SQL peer.
#
# Usage: make-bench-mmdb.pl OUTPUT NETWORKS SEED [RECORDS]
#   OUTPUT    the .mmdb file; the networks go to OUTPUT with .tsv for .mmdb
#   NETWORKS  how many networks (IPv4 and IPv6 together)
#   SEED      integer; the same seed gives the same networks and locations
#   RECORDS   how many distinct records (cities) the networks share; by
#             default every network has its own.  Real City files share:
#             GeoLite2-City has a few million networks and a few hundred
#             thousand distinct records, and a record cache depends on it.
#
# About 97% of the networks are IPv4, /16 to /24 (mostly /21 to /24, as in
# real GeoIP data), spread over the public unicast space and never
# overlapping; the rest are IPv6 /32 to /48 in 2400::/6, one per /32.  Each
# has a country, a city name and a location with lat -60..70 and lon
# -180..180 in steps of 0.0001 degrees.  A coordinate is k / 10000 for an
# integer k, which the .tsv prints with four decimals: PostgreSQL parses
# that text to the same double the file stores, so both routers see
# identical locations.
#
# The .tsv has one line per network: network (CIDR), latitude, longitude,
# country, with no header.
use strict;
use warnings FATAL => 'all';

use MaxMind::DB::Writer::Tree;
use Time::HiRes qw(time);

my ($output, $count, $seed, $records) = @ARGV;
die "usage: $0 OUTPUT NETWORKS SEED [RECORDS]\n"
  unless defined $seed && $count =~ /^[1-9][0-9]*$/ && $seed =~ /^[0-9]+$/
  && (!defined $records || $records =~ /^[1-9][0-9]*$/);
$records //= $count;
(my $tsv = $output) =~ s/(\.mmdb)?$/.tsv/;
die "OUTPUT must end in .mmdb\n" if $tsv eq $output;

# Perl's rand() is its own drand48 on every platform, so a seed gives the
# same file everywhere.
srand($seed);

# Share of each prefix length among the IPv4 networks, in percent.
my @ipv4_lengths = (
	[ 16, 2 ], [ 17, 2 ], [ 18, 4 ], [ 19, 6 ], [ 20, 10 ],
	[ 21, 12 ], [ 22, 18 ], [ 23, 16 ], [ 24, 30 ],
);
my $ipv6_share = 0.03;

# Ranges no client routes from (RFC 6890 and multicast): never allocated.
my @reserved = qw(0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8
  169.254.0.0/16 172.16.0.0/12 192.0.0.0/24 192.0.2.0/24 192.88.99.0/24
  192.168.0.0/16 198.18.0.0/15 198.51.100.0/24 203.0.113.0/24 224.0.0.0/3);

# Countries with their continent and English name.
my @countries = (
	[ 'US', 'NA', 'United States' ], [ 'CA', 'NA', 'Canada' ],
	[ 'MX', 'NA', 'Mexico' ],        [ 'BR', 'SA', 'Brazil' ],
	[ 'AR', 'SA', 'Argentina' ],     [ 'CL', 'SA', 'Chile' ],
	[ 'GB', 'EU', 'United Kingdom' ], [ 'DE', 'EU', 'Germany' ],
	[ 'FR', 'EU', 'France' ],        [ 'NL', 'EU', 'Netherlands' ],
	[ 'SE', 'EU', 'Sweden' ],        [ 'IT', 'EU', 'Italy' ],
	[ 'ES', 'EU', 'Spain' ],         [ 'PL', 'EU', 'Poland' ],
	[ 'RU', 'EU', 'Russia' ],        [ 'TR', 'AS', 'Turkey' ],
	[ 'AE', 'AS', 'United Arab Emirates' ], [ 'IN', 'AS', 'India' ],
	[ 'CN', 'AS', 'China' ],         [ 'JP', 'AS', 'Japan' ],
	[ 'KR', 'AS', 'South Korea' ],   [ 'SG', 'AS', 'Singapore' ],
	[ 'ID', 'AS', 'Indonesia' ],     [ 'AU', 'OC', 'Australia' ],
	[ 'NZ', 'OC', 'New Zealand' ],   [ 'ZA', 'AF', 'South Africa' ],
	[ 'NG', 'AF', 'Nigeria' ],       [ 'EG', 'AF', 'Egypt' ],
	[ 'KE', 'AF', 'Kenya' ],         [ 'MA', 'AF', 'Morocco' ],
);
my @time_zones = map { sprintf('Etc/GMT%+d', $_) } -12 .. 12;

# Types for every key the records use; the writer refuses unknown keys.
my %types = (
	city            => 'map',
	continent       => 'map',
	code            => 'utf8_string',
	country         => 'map',
	iso_code        => 'utf8_string',
	names           => 'map',
	en              => 'utf8_string',
	location        => 'map',
	latitude        => 'double',
	longitude       => 'double',
	accuracy_radius => 'uint16',
	time_zone       => 'utf8_string',
);

# One bit per IPv4 /24: set when allocated or reserved.
my $taken = "\0" x (1 << 21);

sub ipv4_text
{
	my ($n) = @_;
	return join('.', unpack('C4', pack('N', $n)));
}

sub mark
{
	my ($first24, $n24) = @_;
	vec($taken, $_, 1) = 1 for $first24 .. $first24 + $n24 - 1;
}

for my $net (@reserved)
{
	my ($addr, $len) = split m{/}, $net;
	my $n24 = $len >= 24 ? 1 : 1 << (24 - $len);
	mark(unpack('N', pack('C4', split /\./, $addr)) >> 8, $n24);
}

# Draw a prefix length from @ipv4_lengths.
sub ipv4_length
{
	my $r = rand(100);
	for my $l (@ipv4_lengths)
	{
		return $l->[0] if ($r -= $l->[1]) < 0;
	}
	return $ipv4_lengths[-1][0];
}

# A random free IPv4 network of the drawn length, as [text, first /24].
sub ipv4_network
{
	for (1 .. 1000)
	{
		my $len = ipv4_length();
		my $n24 = 1 << (24 - $len);
		my $first24 = int(rand(1 << 24)) & ~($n24 - 1);
		# all of its /24s free: a byte at a time where the block is aligned
		my $free;
		if ($n24 >= 8)
		{
			$free = substr($taken, $first24 >> 3, $n24 >> 3) !~ /[^\0]/;
		}
		else
		{
			$free = !grep { vec($taken, $_, 1) } $first24 .. $first24 + $n24 - 1;
		}
		next unless $free;
		mark($first24, $n24);
		return ipv4_text($first24 << 8) . "/$len";
	}
	die "could not place an IPv4 network after 1000 draws; ask for fewer\n";
}

my %ipv6_taken;

# A random IPv6 network, /32 to /48, alone in its /32 within 2400::/6.
sub ipv6_network
{
	for (1 .. 1000)
	{
		my $hi = 0x2400 + int(rand(0x400));
		my $lo = int(rand(0x10000));
		next if $ipv6_taken{"$hi:$lo"}++;
		my $len = 32 + int(rand(17));
		my $sub = $len == 32 ? 0 : int(rand(1 << ($len - 32))) << (48 - $len);
		return sprintf('%x:%x:%x::/%d', $hi, $lo, $sub, $len);
	}
	die "could not place an IPv6 network after 1000 draws\n";
}

sub record
{
	my ($index, $lat, $lon) = @_;
	my ($iso, $continent, $name) = @{ $countries[ int(rand(@countries)) ] };
	return {
		continent => { code => $continent },
		country   => { iso_code => $iso, names => { en => $name } },
		city      => { names => { en => sprintf('Bench City %d', $index) } },
		location  => {
			latitude        => $lat,
			longitude       => $lon,
			accuracy_radius => 1 + int(rand(500)),
			time_zone       => $time_zones[ int(($lon + 180) / 15 + 0.5) % @time_zones ],
		},
	};
}

my $t0 = time;
my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version    => 6,
	# 28-bit records, like GeoIP2-City: with 24 bits, the nodes of 100k
	# networks plus a data section of 100k distinct records would not fit
	# the 2^24 addressable records
	record_size   => 28,
	database_type => 'GeoIP2-City',
	languages     => ['en'],
	description   => { en => "geoshard routing benchmark, $count networks, seed $seed" },
	# our ranges avoid the reserved ones; keep the writer from second-guessing
	remove_reserved_networks => 0,
	alias_ipv6_to_ipv4       => 1,
	map_key_type_callback    => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
);

# The shared records, drawn on first use; each network picks one uniformly.
my @pool;

open(my $out, '>', $tsv) or die "could not open $tsv: $!\n";
for my $index (1 .. $count)
{
	my $network = rand() < $ipv6_share ? ipv6_network() : ipv4_network();
	my $slot = $records == $count ? $index - 1 : int(rand($records));
	my $entry = $pool[$slot];
	unless ($entry)
	{
		my $lat = (-600000 + int(rand(1300001))) / 10000;
		my $lon = (-1800000 + int(rand(3600001))) / 10000;
		$entry = [ $lat, $lon, record($slot + 1, $lat, $lon) ];
		# with a record per network, nothing is shared: keep no pool
		$pool[$slot] = $entry unless $records == $count;
	}
	my ($lat, $lon, $data) = @$entry;
	$tree->insert_network($network, $data);
	printf $out "%s\t%.4f\t%.4f\t%s\n", $network, $lat, $lon, $data->{country}{iso_code};
}
close($out) or die "could not write $tsv: $!\n";
my $t1 = time;

open(my $fh, '>:raw', $output) or die "could not open $output: $!\n";
$tree->write_tree($fh);
close($fh) or die "could not write $output: $!\n";

printf STDERR "%s: %d networks (%d distinct records) inserted in %.1f s, written in %.1f s, %d bytes\n",
  $output, $count, $records, $t1 - $t0, time - $t1, -s $output;
