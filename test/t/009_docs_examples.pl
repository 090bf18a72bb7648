# Proves that the SQL examples of README.md and docs/*.md run as written: each
# page gets a fresh server (geoshard preloaded, geoshard.node_id = 1, as the
# docs ask for), and its ```sql blocks run top to bottom in one psql session in
# database postgres, starting from nothing: a page's own set-up creates the
# extension, tables, roles and data it uses.  A block announced by the line
# "<!-- doc-test: fails -->" must fail (it shows an error); every other block
# must succeed.  Every fence must name its language, so that no SQL hides in
# an unnamed one.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $src = $ENV{GEOSHARD_SRC}
  or BAIL_OUT('GEOSHARD_SRC must name the source tree (test/run-tests.sh sets it)');

my @pages = ('README.md', map { s{^\Q$src\E/}{}r } sort glob("$src/docs/*.md"));

# The page's sql blocks as [line, fails, text], and its unnamed fences' lines.
sub sql_blocks
{
	my ($text) = @_;
	my (@blocks, @unnamed, $in, $lang, $start, $fails, $body, $prev);
	my $n = 0;
	$prev = '';
	foreach my $line (split /\n/, $text)
	{
		$n++;
		if (!$in && $line =~ /^\s*```\s*(\S*)/)
		{
			($in, $lang, $start, $body) = (1, $1, $n, '');
			$fails = $prev =~ /^<!-- doc-test: fails -->\s*$/;
			push @unnamed, $n if $lang eq '';
		}
		elsif ($in && $line =~ /^\s*```\s*$/)
		{
			push @blocks, [ $start, $fails, $body ] if $lang eq 'sql';
			$in = 0;
		}
		elsif ($in)
		{
			$body .= "$line\n";
		}
		$prev = $line if $line =~ /\S/;
	}
	return (\@blocks, \@unnamed);
}

foreach my $page (@pages)
{
	my ($blocks, $unnamed) = sql_blocks(slurp_file("$src/$page"));
	is("@$unnamed", '', "$page: every fence names its language");
	next unless @$blocks;

	# One psql script for the page; "-- doc-test:" echoes say where we are.
	my $script = "\\set ON_ERROR_STOP 1\n";
	foreach my $b (@$blocks)
	{
		my ($line, $fails, $body) = @$b;
		$script .= "\\echo '-- doc-test: $page line $line'\n";
		if ($fails)
		{
			$script .= "\\set ON_ERROR_STOP 0\n\\set LAST_ERROR_SQLSTATE 00000\n"
			  . $body
			  . "\\set ON_ERROR_STOP 1\n"
			  . "SELECT :'LAST_ERROR_SQLSTATE' <> '00000' AS doc_test_failed \\gset\n"
			  . "\\if :doc_test_failed\n\\else\n"
			  . "\\echo '-- doc-test: expected an error from the block at $page line $line'\n"
			  . "SELECT doc_test_block_did_not_fail;\n\\endif\n";
		}
		else
		{
			$script .= $body;
		}
	}

	(my $name = $page) =~ s/\W/_/g;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'geoshard'\ngeoshard.node_id = 1\njit = off\n"
		  # docs/cdc.md decodes with the geoshard output plugin
		  . "wal_level = logical\nmax_replication_slots = 4\n"
		  . "output_plugin_libraries = 'pgoutput, test_decoding, geoshard, wal2json'\n");
	$node->start;

	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', '-' ],
		'<', \$script, '>', \$out, '2>', \$err);
	ok($ok, "$page: " . scalar(@$blocks) . ' sql blocks run as written');
	if (!$ok)
	{
		my @where = $out =~ /^-- doc-test: (.*)$/mg;
		diag("last block started: " . ($where[-1] // 'none'));
		diag(substr($err, -3000));
	}
	$node->stop;
}

done_testing();
