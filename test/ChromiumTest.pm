# test/ChromiumTest.pm: Debian's headless Chromium, run as the unprivileged
# user the TAP tests run as, for the status page's tests: the DOM a URL
# renders to, and a screenshot.  Each test script gets a browser profile of
# its own under tmp_check.
package ChromiumTest;

use strict;
use warnings FATAL => 'all';

use File::Basename qw(basename);
use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

sub chromium
{
	my $profile = "$PostgreSQL::Test::Utils::tmp_check/chromium-" . basename($0, '.pl');
	make_path($profile);
	$ENV{HOME} = $profile;
	return ('chromium', '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
		'--no-first-run', "--user-data-dir=$profile", '--hide-scrollbars');
}

# The DOM url renders to ('' when Chromium fails, which it says in a diag).
sub dump_dom
{
	my ($url) = @_;
	my ($dom, $err) = ('', '');
	IPC::Run::run([ chromium(), '--dump-dom', $url ], '>', \$dom, '2>', \$err, IPC::Run::timeout(120))
	  or diag("chromium --dump-dom: $err");
	return $dom;
}

# Save a screenshot of url at size ('1400,900') in file.
sub screenshot
{
	my ($url, $size, $file) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ chromium(), "--window-size=$size", "--screenshot=$file", $url ],
		'>', \$out, '2>', \$err, IPC::Run::timeout(120))
	  or diag("chromium --screenshot: $err");
	return;
}

1;
