# test/RedisTest.pm: a real redis-server on a loopback port for TAP tests and
# benchmarks, and a minimal RESP client to look into it (no Redis module in
# Debian's Perl): start, stop, restart on the same port, commands.
package RedisTest;

use strict;
use warnings FATAL => 'all';

use IO::Socket::INET;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

# servers still running when the test ends (also by die or BAIL_OUT) are stopped
my @servers;
END { $_->stop for grep { defined } @servers; }

# RedisTest->new(password => ..., args => [...]): a server on a free port
sub new
{
	my ($class, %opts) = @_;
	my $self = bless {
		port => $opts{port} // PostgreSQL::Test::Cluster::get_free_port(),
		password => $opts{password},
		args => $opts{args} // [],
	}, $class;
	$self->start;
	push @servers, $self;
	return $self;
}

sub port { return $_[0]->{port} }

# redis://[:password@]127.0.0.1:port[/db]
sub url
{
	my ($self, $db) = @_;
	my $auth = defined $self->{password} ? ":$self->{password}@" : '';
	return "redis://${auth}127.0.0.1:$self->{port}" . (defined $db ? "/$db" : '');
}

sub start
{
	my ($self) = @_;
	my @cmd = (
		'redis-server', '--port', $self->{port}, '--bind', '127.0.0.1', '--save', '',
		'--appendonly', 'no', @{ $self->{args} });
	push @cmd, '--requirepass', $self->{password} if defined $self->{password};
	$self->{handle} = IPC::Run::start(\@cmd, '<', \undef, '>&', \my $out);
	# up when it answers
	for (1 .. 100 * $PostgreSQL::Test::Utils::timeout_default)
	{
		my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}", Timeout => 1);
		if ($sock)
		{
			close $sock;
			return;
		}
		select(undef, undef, undef, 0.01);
	}
	die "redis-server on port $self->{port} did not start";
}

sub stop
{
	my ($self) = @_;
	return unless $self->{handle};
	$self->{handle}->kill_kill;
	$self->{handle} = undef;
	delete $self->{sock};
}

# SIGKILL: no shutdown, no save (a crash)
sub crash
{
	my ($self) = @_;
	return unless $self->{handle};
	$self->{handle}->signal('KILL');
	$self->{handle}->finish;
	$self->{handle} = undef;
	delete $self->{sock};
}

sub _connect
{
	my ($self, $db) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}", Timeout => 10)
	  or die "cannot connect to redis on $self->{port}: $!";
	$self->{sock} = $sock;
	$self->{db} = undef;
	$self->_call('AUTH', $self->{password}) if defined $self->{password};
	return $sock;
}

sub _read
{
	my ($sock) = @_;
	my $line = <$sock>;
	die "redis closed the connection" unless defined $line;
	$line =~ s/\r\n$//;
	my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));
	return $rest if $type eq '+' || $type eq ':';
	return { error => $rest } if $type eq '-';
	if ($type eq '$')
	{
		return undef if $rest < 0;
		my $buf = '';
		while (length($buf) < $rest + 2)
		{
			my $n = read($sock, $buf, $rest + 2 - length($buf), length($buf));
			die "short read from redis" unless $n;
		}
		return substr($buf, 0, $rest);
	}
	if ($type eq '*')
	{
		return undef if $rest < 0;
		return [ map { _read($sock) } 1 .. $rest ];
	}
	die "unexpected reply from redis: $line";
}

sub _call
{
	my ($self, @args) = @_;
	my $sock = $self->{sock};
	my $req = '*' . scalar(@args) . "\r\n";
	$req .= '$' . length($_) . "\r\n$_\r\n" for @args;
	print $sock $req;
	return _read($sock);
}

# $redis->cmd([db,] 'XRANGE', ...): one command's reply (errors as {error => ...})
sub cmd
{
	my ($self, @args) = @_;
	my $db = ($args[0] =~ /^\d+$/) ? shift @args : 0;
	$self->_connect unless $self->{sock} && $self->{sock}->connected;
	if (!defined $self->{db} || $self->{db} != $db)
	{
		$self->_call('SELECT', $db);
		$self->{db} = $db;
	}
	return $self->_call(@args);
}

# ids of a stream's entries, in stream order
sub stream_ids
{
	my ($self, $db, $key) = @_;
	my $entries = $self->cmd($db, 'XRANGE', $key, '-', '+');
	return [ map { $_->[0] } @$entries ];
}

# a stream's entries as [id, {field => value}]
sub stream_entries
{
	my ($self, $db, $key) = @_;
	my $entries = $self->cmd($db, 'XRANGE', $key, '-', '+');
	return [ map { [ $_->[0], { @{ $_->[1] } } ] } @$entries ];
}

1;
