# Proves that geoip_lookup reads every common .mmdb layout (GeoIP2, DB-IP,
# IPinfo, ip-location-db), detected per file or forced by
# geoshard.geoip_layout, and warns about a file that gives no country and no
# location; that private and reserved addresses skip the file unless the
# file places them; that the in-memory copy of geoshard.geoip_networks
# follows every change (other sessions, rollbacks, TRUNCATE, privileges, a
# table too big to copy); and that one statement answers from one file even
# when the file is replaced while it runs.
use strict;
use warnings FATAL => 'all';

use GeoipTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('layouts');
$node->init;
my $dir = $node->data_dir;
make_mmdb("$dir/$_.mmdb", $_)
  for qw(first second private dbip ipinfo ipinfo-latitude iplocationdb asn);
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'geoshard'
geoshard.geoip_database = '$dir/first.mmdb'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION geoshard');

my $lookup = q{SELECT country, latitude, longitude, accuracy_radius_km, source
	FROM geoip_lookup('%s')};

# Look $ip up with $file in a new session; returns (stdout, stderr).
sub lookup_with
{
	my ($file, $ip, $settings) = @_;
	my ($stdout, $stderr);
	$settings //= '';
	$node->psql(
		'postgres',
		qq{SET client_min_messages = warning; $settings
		SET geoshard.geoip_database = '$dir/$file.mmdb'; } . sprintf($lookup, $ip),
		stdout => \$stdout,
		stderr => \$stderr);
	return ($stdout, $stderr);
}

# --- layouts ----------------------------------------------------------------

my %expected = (
	first             => [ 'US|47.6|-122.3|20|mmdb', 'JP|35.68|139.69|100|mmdb' ],
	dbip              => [ 'US|47.6|-122.3|20|mmdb', 'JP|35.68|139.69|100|mmdb' ],
	ipinfo            => [ 'US|47.6|-122.3||mmdb',   'JP|35.68|139.69||mmdb' ],
	'ipinfo-latitude' => [ 'US|47.6|-122.3||mmdb',   'JP|35.68|139.69||mmdb' ],
	iplocationdb      => [ 'US|47.6|-122.3||mmdb',   'JP|35.68|139.69||mmdb' ],
);
for my $file (sort keys %expected)
{
	my ($out4, $err4) = lookup_with($file, '192.0.2.10');
	my ($out6) = lookup_with($file, '2001:db8::1');
	is($out4, $expected{$file}[0], "$file layout: IPv4 address");
	is($out6, $expected{$file}[1], "$file layout: IPv6 address");
	is($err4, '', "$file layout: no warning");
}

# Forcing the layout that the file has changes nothing; forcing another one
# leaves the file without answers, and says so.
my ($out, $err) = lookup_with('ipinfo', '198.51.100.20', q{SET geoshard.geoip_layout = 'ipinfo';});
is($out, 'DE|52.52|13.4||mmdb', 'ipinfo file read with the ipinfo layout forced');
($out, $err) = lookup_with('ipinfo', '198.51.100.20', q{SET geoshard.geoip_layout = 'maxmind';});
is($out, '||||', 'ipinfo file read as maxmind: nothing');
like(
	$err,
	qr/WARNING:  GeoIP database "[^"]*ipinfo\.mmdb" gives no country and no location\nDETAIL:  Its first records, read with the maxmind layout \(set by geoshard.geoip_layout\), have neither a country code nor coordinates\./,
	'... and a warning naming the file and the forced layout');
($out, $err) = lookup_with('iplocationdb', '203.0.113.30', q{SET geoshard.geoip_layout = 'iplocationdb';});
is($out, 'SG|1.29|103.85||mmdb', 'iplocationdb file with its layout forced');

# A bad value and a non-superuser are refused.
($out, $err) = ('', '');
$node->psql('postgres', q{SET geoshard.geoip_layout = 'geoip2'}, stderr => \$err);
like($err, qr/ERROR:  invalid value for parameter "geoshard.geoip_layout": "geoip2"\nHINT:  Available values: auto, maxmind, ipinfo, iplocationdb\./,
	'unknown layouts are refused');
$node->safe_psql('postgres', 'CREATE ROLE layout_user LOGIN');
$node->psql('postgres', q{SET geoshard.geoip_layout = 'ipinfo'}, stderr => \$err,
	extra_params => [ '-U', 'layout_user' ]);
like($err, qr/ERROR:  permission denied to set parameter "geoshard.geoip_layout"/,
	'only superusers set the layout');

# A file with no country and no location: a WARNING at SET, at reload (in
# the log) and in a session that opens it; lookups fall back to the table.
($out, $err) = lookup_with('asn', '192.0.2.10');
is($out, '||||', 'ASN file: no answer');
like($err, qr/WARNING:  GeoIP database "[^"]*asn\.mmdb" gives no country and no location\nDETAIL:  Its first records, read with the maxmind layout \(detected\), have neither a country code nor coordinates\.\nHINT:  Use a City or Country database, or set geoshard.geoip_layout to the layout of the file\./,
	'ASN file: a warning with detail and hint');
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres',
	qq{ALTER SYSTEM SET geoshard.geoip_database = '$dir/asn.mmdb'; SELECT pg_reload_conf()});
$node->wait_for_log(qr/WARNING:  GeoIP database "\Q$dir\E\/asn\.mmdb" gives no country and no location/,
	$log_offset);
pass('reload logs the warning');
$node->safe_psql('postgres',
	qq{ALTER SYSTEM SET geoshard.geoip_database = '$dir/first.mmdb'; SELECT pg_reload_conf()});
$node->poll_query_until('postgres',
	sprintf($lookup, '192.0.2.10'), 'US|47.6|-122.3|20|mmdb')
  or die 'the first file is not back';

# --- private and reserved addresses -------------------------------------------

# A public file has no data there: the file is skipped, the table answers.
is($node->safe_psql('postgres', sprintf($lookup, '10.1.2.3')), '||||',
	'private address, public file, empty table: unknown');
$node->safe_psql('postgres', q{INSERT INTO geoshard.geoip_networks VALUES
	('10.0.0.0/8', 'DE', 50.11, 8.68, 5),
	('fe80::/10', 'FR', 48.86, 2.35, NULL),
	('192.0.2.0/25', 'XX', 0, 0, 0)});
is($node->safe_psql('postgres', sprintf($lookup, '10.1.2.3')), 'DE|50.11|8.68|5|table',
	'private address: the table answers');
is($node->safe_psql('postgres', sprintf($lookup, 'fe80::1')), 'FR|48.86|2.35||table',
	'IPv6 link-local: the table answers');
is($node->safe_psql('postgres', sprintf($lookup, '::ffff:10.1.2.3')), 'DE|50.11|8.68|5|table',
	'IPv4-mapped private address: looked up as IPv4');
is($node->safe_psql('postgres', sprintf($lookup, '::ffff:192.0.2.10')), 'US|47.6|-122.3|20|mmdb',
	'IPv4-mapped public address: the file, as IPv4');
for my $ip (qw(127.0.0.1 169.254.1.1 172.16.5.4 192.168.1.1 100.64.0.1 224.0.0.1 255.255.255.255 ::1 :: fc00::1 ff02::1))
{
	is($node->safe_psql('postgres', sprintf($lookup, $ip)), '||||', "reserved $ip: unknown");
}
# A file that places private ranges answers for them.
($out) = lookup_with('private', '10.1.2.3');
is($out, 'NZ|-41.29|174.78|30|mmdb', 'a file that places 10.0.0.0/8 answers for it');
($out) = lookup_with('private', 'fd12::1');
is($out, 'NO|59.91|10.75|40|mmdb', 'a file that places fd00::/8 answers for it');
($out) = lookup_with('private', '172.16.0.1');
is($out, '||||', 'but not for the ranges it does not place');

# --- the table's copy follows changes --------------------------------------------

my $session = $node->background_psql('postgres', on_error_stop => 0);
is($session->query_safe(sprintf($lookup, '198.18.0.1')), '||||', 'session: unknown at first');
$node->safe_psql('postgres',
	q{INSERT INTO geoshard.geoip_networks VALUES ('198.18.0.0/15', 'BR', -23.55, -46.63, 7)});
is($session->query_safe(sprintf($lookup, '198.18.0.1')), 'BR|-23.55|-46.63|7|table',
	'session: sees a row another session committed');
$node->safe_psql('postgres',
	q{UPDATE geoshard.geoip_networks SET country = 'AR' WHERE network = '198.18.0.0/15'});
is($session->query_safe(sprintf($lookup, '198.18.0.1')), 'AR|-23.55|-46.63|7|table',
	'session: sees an update');
is( $session->query_safe(
		q{BEGIN; DELETE FROM geoshard.geoip_networks WHERE network = '198.18.0.0/15';}
		  . sprintf($lookup, '198.18.0.1')
		  . q{; ROLLBACK; } . sprintf($lookup, '198.18.0.1')),
	"||||\nAR|-23.55|-46.63|7|table",
	'session: its own delete, then the rollback');
$node->safe_psql('postgres', q{TRUNCATE geoshard.geoip_networks});
is($session->query_safe(sprintf($lookup, '10.1.2.3')), '||||', 'session: sees TRUNCATE');

# Privileges are checked per role, also when the copy is warm.
$node->safe_psql('postgres', q{INSERT INTO geoshard.geoip_networks VALUES ('10.0.0.0/8', 'DE', 50.11, 8.68, 5);
	CREATE ROLE geoip_reader; REVOKE SELECT ON geoshard.geoip_networks FROM PUBLIC});
$session->query(q{SET ROLE geoip_reader; } . sprintf($lookup, '10.1.2.3'));
like($session->{stderr}, qr/ERROR:  permission denied for table geoip_networks/,
	'a role without SELECT on the table gets an error');
$session->{stderr} = '';
$node->safe_psql('postgres', q{GRANT SELECT ON geoshard.geoip_networks TO geoip_reader});
is($session->query_safe(sprintf($lookup, '10.1.2.3')), 'DE|50.11|8.68|5|table',
	'after GRANT it reads the table');
$session->query_safe('RESET ROLE');

# A table too big to copy is queried per lookup, with the same answers.
$node->safe_psql('postgres', q{INSERT INTO geoshard.geoip_networks
	SELECT set_masklen('11.0.0.0'::inet + g * 256, 24)::cidr, 'CA', 45.5, -73.57, 3
	FROM generate_series(0, 100000) g});
is($session->query_safe(sprintf($lookup, '11.0.1.7')), 'CA|45.5|-73.57|3|table',
	'a big table answers');
is($session->query_safe(sprintf($lookup, '10.1.2.3')), 'DE|50.11|8.68|5|table',
	'a big table: the most specific network wins');
is($session->query_safe(sprintf($lookup, '13.0.0.1')), '||||', 'a big table: unknown address');
$node->safe_psql('postgres', q{TRUNCATE geoshard.geoip_networks; GRANT SELECT ON geoshard.geoip_networks TO PUBLIC});

# --- one statement, one file ---------------------------------------------------------

# The statement looks up, waits on an advisory lock while the file is
# replaced and more than a second passes, then looks up again: both answers
# come from the file it started with.  The next statement sees the new one.
$node->safe_psql('postgres', q{
CREATE FUNCTION two_lookups() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	a text;
	b text;
BEGIN
	SELECT country INTO a FROM geoip_lookup('192.0.2.10');
	PERFORM pg_advisory_lock(4242);
	PERFORM pg_advisory_unlock(4242);
	SELECT country INTO b FROM geoip_lookup('192.0.2.10');
	RETURN a || ',' || b;
END
$$});
my $holder = $node->background_psql('postgres');
$holder->query_safe('SELECT pg_advisory_lock(4242)');
my $runner = $node->background_psql('postgres');
is($runner->query_safe(sprintf($lookup, '192.0.2.10')), 'US|47.6|-122.3|20|mmdb',
	'runner: the first file');
$runner->query_until(qr/started/, q{\echo started
SELECT two_lookups();
});
$node->poll_query_until('postgres',
	q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted}, '1')
  or die 'the statement never waited';
make_mmdb("$dir/first.mmdb", 'second');
$node->poll_query_until('postgres',
	q{SELECT now() - query_start > interval '1.5 s' FROM pg_stat_activity WHERE query LIKE 'SELECT two_lookups()%'})
  or die 'the statement did not run long enough';
is($node->safe_psql('postgres', sprintf($lookup, '192.0.2.10')), 'CA|49.28|-123.12|5|mmdb',
	'a new session reads the replaced file');
$holder->query_safe('SELECT pg_advisory_unlock(4242)');
is($runner->query_safe(''), 'US,US', 'the statement answered from its first file only');
is($runner->query_safe(sprintf($lookup, '192.0.2.10')), 'CA|49.28|-123.12|5|mmdb',
	'the next statement reads the replaced file');

$holder->quit;
$runner->quit;
$session->quit;
$node->stop;
done_testing();
