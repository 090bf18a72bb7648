# test/RaftTest.pm: raft groups of real PostgreSQL nodes for TAP tests and the
# demo's checks: nodes (on loopback, or inside a network namespace the test
# created), the leader every live node agrees on, proposals that follow the
# leadership, and a dump of every replicated table to compare nodes by.
package RaftTest;

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

# id -> PostgreSQL::Test::Cluster, and id -> the conninfo peers reach it by;
# a test may import both: use RaftTest qw(%node %conninfo)
use Exporter 'import';
our @EXPORT_OK = qw(%node %conninfo);
our (%node, %conninfo);

# The tables the group replicates, compared row by row.  Tables that are not
# replicated yet are empty on every node and compare equal.
our @REPLICATED = qw(settings nodes regions geo_fences shards);

# RaftTest::new_node($id, netns => name, address => ip, conf => text):
# an initialized, started node with geoshard created and the role peers call
# raft_receive as.  With netns, the server runs inside that namespace and
# listens on address (and its Unix socket, through which the test talks to it).
sub new_node
{
	my ($id, %opts) = @_;
	my $n = PostgreSQL::Test::Cluster->new("raft$id");
	$n->init;
	$n->append_conf('postgresql.conf',
		"shared_preload_libraries = 'geoshard'\ngeoshard.node_id = $id\n"
		  . "geoshard.health_enabled = off\njit = off\n" . ($opts{conf} // ''));
	my $host = $n->host;
	if (defined $opts{netns})
	{
		$n->{raft_netns} = $opts{netns};
		$n->append_conf('postgresql.conf', "listen_addresses = '$opts{address}'\n");
		$n->append_conf('pg_hba.conf', "host all all $opts{address}/16 trust\n");
		$host = $opts{address};
	}
	start($n);
	$n->safe_psql(
		'postgres', q{
		CREATE EXTENSION geoshard;
		CREATE ROLE geoshard_raft LOGIN;
		GRANT USAGE ON SCHEMA geoshard TO geoshard_raft;
		GRANT EXECUTE ON FUNCTION geoshard.raft_receive(bytea) TO geoshard_raft;
		-- followers forward proposals to the leader through raft_forward, where it exists
		DO $$ BEGIN IF to_regprocedure('geoshard.raft_forward(bytea)') IS NOT NULL THEN GRANT EXECUTE ON FUNCTION geoshard.raft_forward(bytea) TO geoshard_raft; END IF; END $$;
		-- and exchange messages in one call each way, where raft_exchange exists
		DO $$ BEGIN IF to_regprocedure('geoshard.raft_exchange(bytea)') IS NOT NULL THEN GRANT EXECUTE ON FUNCTION geoshard.raft_exchange(bytea) TO geoshard_raft; END IF; END $$;
	});
	$conninfo{$id} = "host=$host port=" . $n->port . " dbname=postgres user=geoshard_raft";
	$node{$id} = $n;
	return $n;
}

sub conninfo { return $conninfo{ $_[0] } }

# Start a node, inside its namespace if it has one.  After a SIGKILL or an
# immediate stop the old postmaster's children take a moment to exit: retry
# until the start succeeds (a failed start leaves a stale pid: forget it).
sub start
{
	my ($n) = @_;
	foreach (1 .. 300)
	{
		my $ok;
		if (defined $n->{raft_netns})
		{
			$ok = PostgreSQL::Test::Utils::system_log('ip', 'netns', 'exec', $n->{raft_netns},
				'pg_ctl', '-w', '-D', $n->data_dir, '-l', $n->logfile,
				'-o', '--cluster-name=' . $n->name, 'start') == 0;
			$n->_update_pid($ok ? 1 : -1);
		}
		else
		{
			$ok = $n->start(fail_ok => 1);
		}
		return 1 if $ok;
		$n->{_pid} = undef;
		select(undef, undef, undef, 0.1);
	}
	BAIL_OUT('node ' . $n->name . ' does not start');
}

# The leader's id once every given node agrees on one of them that calls
# itself leader, else undef.
sub agreed_leader
{
	my @ids = @_;
	my %seen;
	foreach my $id (@ids)
	{
		my ($ret, $out) = $node{$id}->psql('postgres',
			"SELECT role || ' ' || coalesce(leader, 0) FROM geoshard.raft_status");
		return undef if $ret != 0 || $out eq '';
		my ($role, $leader) = split / /, $out;
		return undef if $leader == 0 || ($role eq 'leader') != ($leader == $id);
		$seen{$leader} = 1;
	}
	my @leaders = keys %seen;
	return undef unless @leaders == 1 && grep { $_ == $leaders[0] } @ids;
	return $leaders[0];
}

# Wait (at most 60 s) until the given nodes agree on a leader among them.
sub wait_leader
{
	my @ids = @_;
	my $deadline = time + 60;
	while (time < $deadline)
	{
		my $l = agreed_leader(@ids);
		return $l if defined $l;
		select(undef, undef, undef, 0.05);
	}
	return undef;
}

# Run a proposal on the leader the given nodes agree on, retrying while the
# leadership moves; returns its output.
sub propose
{
	my ($sql, @ids) = @_;
	foreach (1 .. 100)
	{
		my $l = wait_leader(@ids);
		next unless defined $l;
		my ($ret, $out, $err) = $node{$l}->psql('postgres', $sql);
		return $out if $ret == 0;
		die "proposal failed: $err" unless $err =~ /not the raft leader|no leader|leadership changed|lost the raft leadership/;
	}
	die "no leader accepted: $sql";
}

# Every replicated table of a node, row by row in a fixed order.
sub dump_tables
{
	my ($id) = @_;
	return join("\n",
		map {
			"$_: "
			  . $node{$id}->safe_psql('postgres',
				"SELECT coalesce(string_agg(t::text, ' ' ORDER BY t::text), '') FROM geoshard.$_ t")
		} @REPLICATED);
}

# Has the node applied everything it knows is committed, and is that all of
# its log?  Returns the applied index then, else undef.
sub settled
{
	my ($id) = @_;
	my ($ret, $out) = $node{$id}->psql('postgres',
		'SELECT applied_index FROM geoshard.raft_status WHERE applied_index = commit_index AND commit_index = last_index');
	return $ret == 0 && $out ne '' ? $out : undef;
}

# Wait (at most 30 s) until the given nodes have settled at one applied index
# with identical replicated tables; one assertion.  Returns the dump.
sub same_tables_ok
{
	my ($what, @ids) = @_;
	my $deadline = time + 30;
	my %dump;
	while (time < $deadline)
	{
		my %index = map { $_ => settled($_) } @ids;
		if (!grep { !defined } values %index)
		{
			my %distinct = map { $_ => 1 } values %index;
			if (keys %distinct == 1)
			{
				%dump = map { $_ => dump_tables($_) } @ids;
				my %d = map { $_ => 1 } values %dump;
				if (keys %d == 1)
				{
					pass("$what: nodes @ids have identical replicated tables at index " . $index{ $ids[0] });
					return $dump{ $ids[0] };
				}
			}
		}
		select(undef, undef, undef, 0.1);
	}
	fail("$what: nodes @ids have identical replicated tables");
	diag("node $_:\n" . ($dump{$_} // dump_tables($_))) foreach @ids;
	return undef;
}

1;
