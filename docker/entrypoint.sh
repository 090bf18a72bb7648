#!/usr/bin/env bash
# docker/entrypoint.sh: the geoshard image's entrypoint.  On the first start it
# creates the data directory from the environment; on every start it writes
# the settings the environment gives, runs PostgreSQL (as the postgres user,
# its log on the container's output) and, for a member of a Raft group, makes
# sure the node is in the group: the founder bootstraps it, the others join
# through a peer.  Every step first looks at what exists, so a restarted
# container never initialises, bootstraps or joins twice (docker/README.md).
#
# Environment:
#   GEOSHARD_NODE_ID        this node's geoshard.node_id (required; never changes)
#   GEOSHARD_NODE_NAME      its name in the group (default n<id>)
#   GEOSHARD_DATABASE       the database of geoshard's workers (default postgres)
#   GEOSHARD_ADVERTISE_HOST the host name the peers reach this node at (default: hostname)
#   GEOSHARD_BOOTSTRAP      on: this node founds the group when no peer has one
#   GEOSHARD_PEERS          the other members, "host[:port] ..." (commas allowed)
#   GEOSHARD_JOIN_TIMEOUT   seconds to wait for the peers when joining (default 300)
#   GEOSHARD_REDIS_URL      geoshard.redis_url (CDC sinks, Redis views)
#   GEOSHARD_METRICS_PASSWORD  serves /metrics and the status page on port 9188 with it
#   GEOSHARD_RESOLV_OPTIONS resolver options added to /etc/resolv.conf (default
#                           "timeout:1 attempts:1"; empty: none)
#   POSTGRES_PASSWORD       the postgres superuser's password (required; peers use
#                           it to join this node to the group)
#   GEOSHARD_RAFT_PASSWORD  the password of geoshard_raft, the role the raft
#                           workers log in as (required with a group)
# Passwords are never printed; they reach psql through its environment.
#
# Arguments starting with "-" are passed to postgres; any other command is run
# instead of the server (docker run ... geoshard bash).
set -euo pipefail

if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	exec "$@"
fi

log() { echo "geoshard-entrypoint: $*" >&2; }
die() { log "$*"; exit 1; }

NODE_ID=${GEOSHARD_NODE_ID:-}
if ! [[ "$NODE_ID" =~ ^[1-9][0-9]{0,9}$ ]] || [ "$NODE_ID" -gt 2147483647 ]; then
	die "GEOSHARD_NODE_ID must be a node id from 1 to 2147483647, not \"$NODE_ID\""
fi
NODE_NAME=${GEOSHARD_NODE_NAME:-n$NODE_ID}
DB=${GEOSHARD_DATABASE:-postgres}
ADVERTISE=${GEOSHARD_ADVERTISE_HOST:-$(hostname)}
BOOTSTRAP=${GEOSHARD_BOOTSTRAP:-off}
PEERS=${GEOSHARD_PEERS:-}
PEERS=${PEERS//,/ }
JOIN_TIMEOUT=${GEOSHARD_JOIN_TIMEOUT:-300}
RAFT=off
if [ "$BOOTSTRAP" = on ] || [ -n "${PEERS// /}" ]; then
	RAFT=on
fi
: "${PGDATA:=/var/lib/postgresql/data}"
SOCKETS=/var/run/postgresql
MARKER=$PGDATA/geoshard-node-id
PGHOME=/var/lib/postgresql

[ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD must be set (the postgres superuser's password)"
if [ "$RAFT" = on ] && [ -z "${GEOSHARD_RAFT_PASSWORD:-}" ]; then
	die "GEOSHARD_RAFT_PASSWORD must be set on a member of a raft group"
fi
export POSTGRES_PASSWORD GEOSHARD_RAFT_PASSWORD

# While a stopped or starting peer's name neither resolves nor fails (podman's
# aardvark-dns), what looks it up synchronously waits, up to 40 s with glibc's
# default resolver timeouts: this script's psql calls and proposals forwarded
# from a follower (the raft worker looks names up in the background;
# docker/README.md).  Short timeouts bound the wait; the runtime writes the
# file afresh at every start.
RESOLV_OPTIONS=${GEOSHARD_RESOLV_OPTIONS-timeout:1 attempts:1}
if [ -n "$RESOLV_OPTIONS" ] && [ -w /etc/resolv.conf ] && ! grep -q '^options.*timeout:' /etc/resolv.conf; then
	echo "options $RESOLV_OPTIONS" >>/etc/resolv.conf || log "could not add resolver options to /etc/resolv.conf"
fi

# Run as the postgres user (the server refuses root).
if [ "$(id -u)" -eq 0 ]; then
	as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups env HOME="$PGHOME" "$@"; }
	mkdir -p "$PGDATA" "$SOCKETS"
	chown postgres:postgres "$PGDATA" "$SOCKETS"
	chmod 700 "$PGDATA"
else
	as_pg() { "$@"; }
fi
psql_local() { as_pg psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$SOCKETS" -d "$DB" "$@"; }
# psql_peer HOST PORT ARGS...: as postgres on a peer, with POSTGRES_PASSWORD
psql_peer() {
	local host=$1 port=$2
	shift 2
	as_pg env PGPASSWORD="$POSTGRES_PASSWORD" PGCONNECT_TIMEOUT=3 psql -X -q -A -t -v ON_ERROR_STOP=1 \
		-h "$host" -p "$port" -U postgres -d "$DB" "$@"
}
# a value for postgresql.conf: quoted, quotes doubled
conf_quote() { printf "'%s'" "${1//\'/\'\'}"; }

# The settings the environment gives, rewritten at every start (postgresql.conf
# includes the file; ALTER SYSTEM still overrides it).
write_settings() {
	local f=$PGDATA/geoshard.conf
	{
		echo "# written by geoshard-entrypoint at every start, from the environment"
		echo "listen_addresses = '*'"
		echo "shared_preload_libraries = 'geoshard'"
		echo "wal_level = logical"
		# PostgreSQL 15.19 and later refuse other output plugins unless listed
		# (grep reads to the end: with -q, postgres would die of SIGPIPE and fail the pipe)
		if as_pg postgres --describe-config 2>/dev/null | grep '^output_plugin_libraries' >/dev/null; then
			echo "output_plugin_libraries = 'pgoutput, test_decoding, geoshard'"
		fi
		echo "geoshard.node_id = $NODE_ID"
		echo "geoshard.database = $(conf_quote "$DB")"
		if [ -n "${GEOSHARD_REDIS_URL:-}" ]; then
			echo "geoshard.redis_url = $(conf_quote "$GEOSHARD_REDIS_URL")"
		fi
		if [ -n "${GEOSHARD_METRICS_PASSWORD:-}" ]; then
			echo "geoshard.metrics_listen = '0.0.0.0:9188'"
			echo "geoshard.metrics_password = $(conf_quote "$GEOSHARD_METRICS_PASSWORD")"
		fi
	} >"$f.new"
	chmod 600 "$f.new"
	[ "$(id -u)" -ne 0 ] || chown postgres:postgres "$f.new"
	mv "$f.new" "$f"

	# the raft workers log in to their peers as geoshard_raft with this password
	if [ "$RAFT" = on ]; then
		local pw=${GEOSHARD_RAFT_PASSWORD//\\/\\\\}
		pw=${pw//:/\\:}
		printf '*:*:*:geoshard_raft:%s\n' "$pw" >"$PGHOME/.pgpass"
		chmod 600 "$PGHOME/.pgpass"
		[ "$(id -u)" -ne 0 ] || chown postgres:postgres "$PGHOME/.pgpass"
	fi
}

# First start: a new cluster, the extension, the roles, the init scripts.
initialise() {
	log "initialising $PGDATA for node $NODE_ID ($NODE_NAME)"
	as_pg initdb -D "$PGDATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
		--auth-local=peer --auth-host=scram-sha-256 >/dev/null
	cat >"$PGDATA/pg_hba.conf" <<-'HBA'
	# written by geoshard-entrypoint: the socket for the container's postgres
	# user, passwords (SCRAM) over the network
	local all all peer
	host  all all all scram-sha-256
	HBA
	echo "include = 'geoshard.conf'" >>"$PGDATA/postgresql.conf"
	write_settings
	as_pg pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w -t 60 start >/dev/null

	if [ "$DB" != postgres ]; then
		# psql interpolates variables in its input, not in -c
		as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$SOCKETS" -d postgres -v db="$DB" \
			<<<'CREATE DATABASE :"db"' >/dev/null
	fi
	# passwords through \getenv: never on a command line
	psql_local >/dev/null <<-'SQL'
	CREATE EXTENSION geoshard;
	\getenv pw POSTGRES_PASSWORD
	ALTER ROLE postgres PASSWORD :'pw';
	SQL
	if [ "$RAFT" = on ]; then
		psql_local >/dev/null <<-'SQL'
		\getenv pw GEOSHARD_RAFT_PASSWORD
		CREATE ROLE geoshard_raft LOGIN PASSWORD :'pw';
		GRANT USAGE ON SCHEMA geoshard TO geoshard_raft;
		GRANT EXECUTE ON FUNCTION geoshard.raft_receive(bytea) TO geoshard_raft;
		GRANT EXECUTE ON FUNCTION geoshard.raft_forward(bytea) TO geoshard_raft;
		GRANT EXECUTE ON FUNCTION geoshard.raft_exchange(bytea) TO geoshard_raft;
		SQL
	fi

	local f founder=false
	[ "$BOOTSTRAP" = on ] && founder=true
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sql)
				log "running $f"
				psql_local -v node_id="$NODE_ID" -v node_name="$NODE_NAME" \
					-v founder="$founder" -f "$f" >/dev/null
				;;
			*.sh)
				log "running $f"
				GEOSHARD_FOUNDER=$founder bash "$f"
				;;
			*) [ -e "$f" ] && log "ignoring $f" ;;
		esac
	done

	as_pg pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
	echo "$NODE_ID" >"$MARKER"
	log "initialised"
}

# The cluster id of the group of the first peer that is a voter of a group
# with a leader, and that peer's address, as "cluster_id host port"; nothing
# when none is.  (Not through a standby: it may still be joining itself.)
find_group() {
	local peer host port cid
	for peer in $PEERS; do
		host=${peer%%:*}
		port=5432
		[ "$peer" = "$host" ] || port=${peer##*:}
		cid=$(psql_peer "$host" "$port" -c "SELECT s.cluster_id FROM geoshard.raft_status s
			JOIN geoshard.nodes n ON n.id = s.node AND n.role = 'voter' WHERE s.leader IS NOT NULL" 2>/dev/null) || continue
		if [ -n "$cid" ]; then
			echo "$cid $host $port"
			return 0
		fi
	done
	return 1
}

# Make this node a voter of the group: bootstrap, or join through a peer.
raft_setup() {
	local deadline=$((SECONDS + JOIN_TIMEOUT)) in_group role group cid host port conninfo err joining
	local patience=$((SECONDS + 30))
	conninfo="host=$ADVERTISE port=5432 dbname=$DB user=geoshard_raft"
	until psql_local -c 'SELECT 1' >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || die "the server did not accept connections"
		sleep 1
	done
	in_group=$(psql_local -c 'SELECT count(*) FROM geoshard.raft_status' 2>&1) ||
		die "could not read geoshard.raft_status: $in_group"
	if [ "$in_group" = 1 ]; then
		role=$(psql_local -c "SELECT role FROM geoshard.nodes WHERE id = $NODE_ID" 2>&1) || role=
		if [ "$role" = voter ]; then
			log "node $NODE_ID is a voter of raft group $(psql_local -c 'SELECT cluster_id FROM geoshard.raft_status'); nothing to do"
			return 0
		fi
	elif [ "$BOOTSTRAP" = on ]; then
		# never a second group: when a peer has one, join it instead
		if ! group=$(find_group); then
			if ! cid=$(psql_local -v name="$NODE_NAME" -v conninfo="$conninfo" 2>&1 \
				<<<"SELECT geoshard.raft_bootstrap(:'name', :'conninfo')"); then
				die "could not bootstrap the raft group: $cid"
			fi
			log "node $NODE_ID bootstrapped raft group $cid"
			return 0
		fi
		log "a peer already has a raft group ($group); joining it instead of bootstrapping"
	fi

	log "joining the raft group through one of: $PEERS"
	while :; do
		if group=$(find_group); then
			read -r cid host port <<<"$group"
			role=$(psql_peer "$host" "$port" -c "SELECT role FROM geoshard.nodes WHERE id = $NODE_ID" 2>&1) || role=error
			in_group=$(psql_local -c 'SELECT count(*) FROM geoshard.raft_status' 2>&1) || in_group=error
			if [ "$in_group" = 0 ] && [ "$role" = voter ]; then
				die "node $NODE_ID is a voter of raft group $cid but has no raft state (was its data volume replaced?); remove it with SELECT geoshard.raft_remove_node($NODE_ID) on a member, then restart this container"
			fi
			if [ "$role" = voter ]; then
				log "node $NODE_ID is a voter of raft group $cid"
				return 0
			fi
			# One membership change at a time: wait (30 s at most, in case
			# a node died half-way) while another node is still a standby.
			joining=$(psql_peer "$host" "$port" -c "SELECT string_agg(name, ', ') FROM geoshard.nodes
				WHERE role = 'standby' AND id <> $NODE_ID" 2>/dev/null) || joining=
			if [ -n "$joining" ] && [ "$SECONDS" -lt "$patience" ]; then
				log "waiting while $joining joins"
				sleep 2
				continue
			fi
			err=
			if [ "$in_group" = 0 ]; then
				err=$(psql_local -v cid="$cid" <<<"SELECT geoshard.raft_join(:'cid')" 2>&1 >/dev/null) || true
			fi
			if [ -z "$err" ] && { [ "$role" = standby ] || [ "$role" = spare ]; }; then
				# a join that stopped half-way: remove the node and add it again
				psql_peer "$host" "$port" -c "SELECT geoshard.raft_remove_node($NODE_ID)" >/dev/null 2>&1 || true
			fi
			[ "$in_group" != error ] || err=$in_group
			if [ -z "$err" ] && [ "$role" != error ]; then
				err=$(psql_peer "$host" "$port" -v name="$NODE_NAME" -v conninfo="$conninfo" \
					<<<"SELECT geoshard.raft_add_node($NODE_ID, :'name', :'conninfo')" 2>&1 >/dev/null) && {
					log "node $NODE_ID joined raft group $cid through $host"
					return 0
				}
			fi
			log "could not join through $host yet: $(head -n 1 <<<"${err:-$role}")"
		fi
		[ "$SECONDS" -lt "$deadline" ] ||
			die "found no raft group to join within ${JOIN_TIMEOUT}s; restart the container to try again"
		# at different moments on different nodes, so that two joins rarely collide
		sleep $((1 + RANDOM % 3))
	done
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	initialise
elif [ ! -f "$MARKER" ]; then
	die "$PGDATA holds a cluster that geoshard-entrypoint did not finish initialising; remove the volume to start afresh"
elif [ "$(cat "$MARKER")" != "$NODE_ID" ]; then
	die "$PGDATA belongs to node $(cat "$MARKER"), not to GEOSHARD_NODE_ID $NODE_ID"
else
	write_settings
fi

pg_pid=
setup_pid=
# shellcheck disable=SC2317  # called by the traps
stop() {
	[ -z "$setup_pid" ] || kill "$setup_pid" 2>/dev/null || true
	[ -z "$pg_pid" ] || kill "-$1" "$pg_pid" 2>/dev/null || true
}
# docker stop sends SIGINT (STOPSIGNAL); SIGTERM gets the same fast shutdown
trap 'stop INT' INT TERM
trap 'stop QUIT' QUIT

# not through as_pg: a function would run in a subshell of its own, and
# pg_pid would be that subshell (which ignores SIGINT) rather than the server
# (and without the secrets of the environment: the server does not need them)
unset_secrets=(-u POSTGRES_PASSWORD -u GEOSHARD_RAFT_PASSWORD -u GEOSHARD_REDIS_URL -u GEOSHARD_METRICS_PASSWORD)
if [ "$(id -u)" -eq 0 ]; then
	setpriv --reuid=postgres --regid=postgres --init-groups \
		env "${unset_secrets[@]}" HOME="$PGHOME" postgres -D "$PGDATA" "$@" &
else
	env "${unset_secrets[@]}" postgres -D "$PGDATA" "$@" &
fi
pg_pid=$!
if [ "$RAFT" = on ]; then
	raft_setup &
	setup_pid=$!
fi
# the server's exit status is the container's
status=0
while kill -0 "$pg_pid" 2>/dev/null; do
	wait "$pg_pid" && status=0 || status=$?
done
exit "$status"
