# test/GeoipTest.pm: helpers shared by the TAP tests that use MaxMind DB
# files (prove runs with -I test, see test/run-tests.sh).
package GeoipTest;

use strict;
use warnings FATAL => 'all';

use Exporter qw(import);
use File::Basename qw(dirname);
use Time::HiRes qw(usleep);

use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(make_mmdb poll_session);

my $writer = dirname(__FILE__) . '/geoip/make-test-mmdb.pl';

# Write a test database (variant "first" or "second" of
# test/geoip/make-test-mmdb.pl); through a temporary file and rename(), as
# files in use must be replaced.
sub make_mmdb
{
	my ($path, $variant) = @_;
	$variant //= 'first';
	system($^X, $writer, "$path.tmp", $variant) == 0
	  or die "$writer failed: $?";
	rename("$path.tmp", $path) or die "could not rename $path.tmp: $!";
	return;
}

# Run $sql in a background session until it returns $expected, for up to
# the default timeout: sessions notice reloads and file changes on their
# own schedule.
sub poll_session
{
	my ($session, $sql, $expected) = @_;
	my $result = '';

	for (my $i = 0; $i < 10 * $PostgreSQL::Test::Utils::timeout_default; $i++)
	{
		# An error is "not yet" too: a session may still be acting on the
		# setting it had before the reload it has not processed yet.
		my $failed;
		($result, $failed) = $session->query($sql);
		$result = "error: $session->{stderr}" if $failed;
		$session->{stderr} = '';
		return 1 if !$failed && $result eq $expected;
		usleep(100_000);
	}
	diag "last result: $result";
	return 0;
}

1;
