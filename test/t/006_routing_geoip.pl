# Proves that geoip_lookup answers IPv4 and IPv6 addresses from a MaxMind DB
# file, falls back to geoshard.geoip_networks, follows a new
# geoshard.geoip_database and a replaced file in a running session without
# reconnecting, and that a corrupt file gives an error naming it (and a
# WARNING at reload) while the server stays up.
use strict;
use warnings FATAL => 'all';

use File::Copy qw(copy);
use Time::HiRes qw(usleep);

use GeoipTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Run $sql in a session until it fails with an error matching $pattern.
sub poll_session_error
{
	my ($session, $sql, $pattern) = @_;
	my $stderr = '';

	for (my $i = 0; $i < 10 * $PostgreSQL::Test::Utils::timeout_default; $i++)
	{
		my (undef, $failed) = $session->query($sql);

		$stderr = $session->{stderr};
		$session->{stderr} = '';
		return 1 if $failed && $stderr =~ $pattern;
		usleep(100_000);
	}
	diag "last error: $stderr";
	return 0;
}

my $node = PostgreSQL::Test::Cluster->new('geoip');
$node->init;
my $dir = $node->data_dir;
make_mmdb("$dir/first.mmdb", 'first');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
geoshard.geoip_database = '$dir/first.mmdb'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION geoshard');

my $lookup = q{SELECT country, latitude, longitude, accuracy_radius_km, source
	FROM geoip_lookup('%s')};

my %first = (
	'192.0.2.10'       => 'US|47.6|-122.3|20|mmdb',
	'198.51.100.20'    => 'DE|52.52|13.4|50|mmdb',
	'203.0.113.30'     => 'SG|1.29|103.85|10|mmdb',
	'2001:db8::1'      => 'JP|35.68|139.69|100|mmdb',
	'2001:db8:ffff::9' => 'JP|35.68|139.69|100|mmdb',
	'::ffff:192.0.2.10' => 'US|47.6|-122.3|20|mmdb',
);
for my $ip (sort keys %first)
{
	is($node->safe_psql('postgres', sprintf($lookup, $ip)),
		$first{$ip}, "file answers for $ip");
}

# The table answers what the file does not know; the file wins where both do.
$node->safe_psql(
	'postgres', q{INSERT INTO geoshard.geoip_networks VALUES
	('100.64.0.0/10', 'NZ', -41.29, 174.78, 30),
	('2001:db9::/32', 'BR', -23.55, -46.63, NULL),
	('192.0.2.0/24', 'XX', 0, 0, 0)});
is($node->safe_psql('postgres', sprintf($lookup, '100.64.1.2')),
	'NZ|-41.29|174.78|30|table', 'IPv4 address only in the table');
is($node->safe_psql('postgres', sprintf($lookup, '2001:db9::5')),
	'BR|-23.55|-46.63||table', 'IPv6 address only in the table');
is($node->safe_psql('postgres', sprintf($lookup, '192.0.2.10')),
	'US|47.6|-122.3|20|mmdb', 'the file wins over the table');
is($node->safe_psql('postgres', sprintf($lookup, '192.0.3.1')),
	'||||', 'an address nobody knows: all NULL');

# A long-lived session follows a new setting after a reload.
# on_error_stop => 0: the session must outlive the errors it is shown
my $session = $node->background_psql('postgres', on_error_stop => 0);
is($session->query_safe(sprintf($lookup, '192.0.2.10')),
	'US|47.6|-122.3|20|mmdb', 'session reads the first file');
make_mmdb("$dir/second.mmdb", 'second');
$node->safe_psql('postgres',
	qq{ALTER SYSTEM SET geoshard.geoip_database = '$dir/second.mmdb'; SELECT pg_reload_conf()});
ok( poll_session(
		$session, sprintf($lookup, '192.0.2.10'), 'CA|49.28|-123.12|5|mmdb'),
	'session reads the second file after a reload');
is($session->query_safe(sprintf($lookup, '2001:db8::1')),
	'KR|37.57|126.98|200|mmdb', 'and answers IPv6 from it');

# Replacing the file at the same path is noticed without any reload.
make_mmdb("$dir/second.mmdb", 'first');
ok( poll_session(
		$session, sprintf($lookup, '203.0.113.30'), 'SG|1.29|103.85|10|mmdb'),
	'session reads the replaced file');

# A corrupt file: a WARNING at reload, then an error naming the file.
my $corrupt = "$dir/corrupt.mmdb";
open(my $fh, '>:raw', $corrupt) or die "could not write $corrupt: $!";
print $fh pack('C*', map { ($_ * 37 + 11) % 256 } 1 .. 4096);
close($fh);
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres',
	qq{ALTER SYSTEM SET geoshard.geoip_database = '$corrupt'; SELECT pg_reload_conf()});
$node->wait_for_log(qr/WARNING:  could not open GeoIP database "\Q$corrupt\E"/,
	$log_offset);
pass('reload warns about the corrupt file');
ok( poll_session_error(
		$session, sprintf($lookup, '192.0.2.10'),
		qr/ERROR:  could not open GeoIP database "\Q$corrupt\E": The MaxMind DB file contains invalid metadata/
	),
	'lookup errors naming the corrupt file');
is($session->query_safe('SELECT 1'), '1', 'the session still works');

# Valid metadata over a garbage search tree: MMDB_open succeeds, lookups fail.
my $bad_tree = "$dir/bad-tree.mmdb";
copy("$dir/first.mmdb", $bad_tree) or die "could not copy: $!";
open($fh, '+<:raw', $bad_tree) or die "could not open $bad_tree: $!";
print $fh "\xff" x 64;
close($fh);
$session->query_safe(qq{SET geoshard.geoip_database = '$bad_tree'});
$session->query(sprintf($lookup, '192.0.2.10'));
like($session->{stderr}, qr/ERROR:  invalid data in GeoIP database "\Q$bad_tree\E"/,
	'a corrupt search tree errors naming the file');
$session->{stderr} = '';
$session->query_safe('RESET geoshard.geoip_database');

is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');

# Back to a good file: the session recovers.  Until the postmaster has
# read the new setting (new sessions show it), the session may still be
# told to use the corrupt file, and a lookup there is an error.
$node->safe_psql('postgres',
	qq{ALTER SYSTEM SET geoshard.geoip_database = '$dir/second.mmdb'; SELECT pg_reload_conf()});
$node->poll_query_until('postgres',
	qq{SELECT current_setting('geoshard.geoip_database') = '$dir/second.mmdb'})
  or die 'the reload was not seen';
ok( poll_session(
		$session, sprintf($lookup, '198.51.100.20'), 'DE|52.52|13.4|50|mmdb'),
	'session recovers once the setting names a good file');

$session->quit;
$node->stop;
done_testing();
