#!/usr/bin/env bash
# test/demo/raft.sh: the raft part of make demo.  Three more servers on
# loopback (ports PORT..PORT+2) form one raft group (docs/raft.md); a
# replicated setting changed on a follower appears on all three; the leader
# is stopped (pg_ctl -m immediate) and the new leader is shown taking over,
# with the time it took; the old leader comes back and catches up.  The three
# keep running with the demo; demo.sh stop ends them.
#
# Usage (from demo.sh): raft.sh start DIR PORT | raft.sh stop DIR
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi
ACTION=$1
DIR=$2/raft

if [ "$ACTION" = stop ]; then
	for i in 1 2 3; do
		if [ -f "$DIR/n$i/postmaster.pid" ]; then
			"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DIR/n$i" -m fast -w stop >/dev/null || true
		fi
	done
	exit 0
fi

BASE=$3
port() { echo $((BASE + $1 - 1)); }
conninfo() { echo "host=127.0.0.1 port=$(port "$1") dbname=postgres user=geoshard_raft"; }
# on node N: sql N "query" (unaligned), show N "query" (a table)
sql() { "${RUNAS[@]}" "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$DIR" -p "$(port "$1")" -U postgres -d postgres -c "$2"; }
show() { "${RUNAS[@]}" "$PGBIN/psql" -X -q -h "$DIR" -p "$(port "$1")" -U postgres -d postgres -c "$2"; }
now() { date +%s.%N; }
# the node the given nodes agree leads, once they do (at most 30 s)
leader_of() {
	local i out leaders
	for _ in $(seq 600); do
		leaders=
		for i in "$@"; do
			out=$(sql "$i" "SELECT CASE WHEN role = 'leader' THEN node ELSE leader END FROM geoshard.raft_status" 2>/dev/null) || out=
			leaders="$leaders ${out:-none}"
		done
		leaders=$(tr ' ' '\n' <<<"$leaders" | sort -u | grep .)
		# one leader, and one of the given nodes (survivors still name a stopped one for a while)
		if [ "$(grep -c . <<<"$leaders")" = 1 ] && grep -qw -- "$leaders" <<<"$*"; then
			echo "$leaders"
			return 0
		fi
		sleep 0.05
	done
	echo "geoshard demo: the raft nodes $* agree on no leader" >&2
	return 1
}
# the settings as node N has them, waiting (at most 10 s) until it has applied its whole log
settings_of() {
	for _ in $(seq 200); do
		[ "$(sql "$1" 'SELECT applied_index = commit_index FROM geoshard.raft_status')" = t ] && break
		sleep 0.05
	done
	sql "$1" "SELECT coalesce(string_agg(key || ' = ' || value, ', ' ORDER BY key), '(none)') FROM geoshard.settings"
}

mkdir -p "$DIR"
chown "$OWNER" "$DIR"
for i in 1 2 3; do
	"${RUNAS[@]}" "$PGBIN/initdb" -D "$DIR/n$i" -A trust -U postgres >/dev/null
	cat >>"$DIR/n$i/postgresql.conf" <<CONF
port = $(port "$i")
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
shared_preload_libraries = 'geoshard'
geoshard.node_id = $i
geoshard.database = 'postgres'
geoshard.health_enabled = off
CONF
	"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DIR/n$i" -l "$DIR/n$i.log" -w start >/dev/null
	sql "$i" "CREATE EXTENSION geoshard;
	          CREATE ROLE geoshard_raft LOGIN;
	          GRANT USAGE ON SCHEMA geoshard TO geoshard_raft;
	          GRANT EXECUTE ON FUNCTION geoshard.raft_receive(bytea) TO geoshard_raft;
	          -- followers forward proposals to the leader through raft_forward, where it exists
	          DO \$\$ BEGIN IF to_regprocedure('geoshard.raft_forward(bytea)') IS NOT NULL THEN GRANT EXECUTE ON FUNCTION geoshard.raft_forward(bytea) TO geoshard_raft; END IF; END \$\$;
	          GRANT EXECUTE ON FUNCTION geoshard.raft_exchange(bytea) TO geoshard_raft;" >/dev/null
done

echo
echo "== 10. Raft: three nodes on loopback (ports $(port 1)-$(port 3)) form one group"
cluster=$(sql 1 "SELECT geoshard.raft_bootstrap('n1', '$(conninfo 1)')")
leader_of 1 >/dev/null
for i in 2 3; do
	sql "$i" "SELECT geoshard.raft_join('$cluster')" >/dev/null
	sql "$(leader_of 1)" "SELECT geoshard.raft_add_node($i, 'n$i', '$(conninfo "$i")')" >/dev/null
done
leader=$(leader_of 1 2 3)
show "$leader" "SELECT id, name, role, conninfo FROM geoshard.nodes ORDER BY id"
for i in 1 2 3; do
	sql "$i" "SELECT format('node %s: %s in term %s, leader %s', node, role, term, leader) FROM geoshard.raft_status"
done

follower=$(for i in 1 2 3; do [ "$i" = "$leader" ] || echo "$i"; done | head -n 1)
echo
echo "== a setting and a region, changed on follower $follower, appear on all three"
echo "   (the follower forwards each proposal to the leader and returns once it applied it itself)"
echo "n$follower=# SELECT geoshard.raft_set_setting('demo.greeting', 'hello from node $follower');"
sql "$follower" "SELECT geoshard.raft_set_setting('demo.greeting', 'hello from node $follower')" >/dev/null
echo "n$follower=# SELECT geoshard.add_region('eu-central', 50.11, 8.68, 'Frankfurt');"
sql "$follower" "SELECT geoshard.add_region('eu-central', 50.11, 8.68, 'Frankfurt')" >/dev/null
for i in 1 2 3; do
	echo "node $i: $(settings_of "$i"); regions: $(sql "$i" "SELECT string_agg(id || ' (' || name || ')', ', ' ORDER BY id) FROM geoshard.regions")"
done

echo
echo "== the leader, node $leader, is stopped (pg_ctl -m immediate)"
survivors=$(for i in 1 2 3; do [ "$i" = "$leader" ] || echo "$i"; done | xargs)
# Each survivor watches in a session of its own, opened beforehand (a new
# psql costs tens of ms): the moment it knows another leader, then the moment
# a proposal it makes commits (refused, or timed out after 100 ms, while there
# is none).  It prints both as epoch seconds, and the new leader.
watchers=()
for i in $survivors; do
	sql "$i" "SET application_name = 'geoshard demo watcher';
	          SET geoshard.raft_propose_timeout_ms = 100;
	          DO \$\$
	          DECLARE
	              deadline timestamptz := clock_timestamp() + interval '60 s';
	              lead bigint;
	              elected numeric;
	          BEGIN
	              LOOP
	                  SELECT CASE WHEN role = 'leader' THEN node ELSE leader END INTO lead FROM geoshard.raft_status;
	                  EXIT WHEN lead IS NOT NULL AND lead <> $leader;
	                  IF clock_timestamp() > deadline THEN RAISE 'no new leader within 60 s'; END IF;
	                  PERFORM pg_sleep(0.002);
	              END LOOP;
	              elected := extract(epoch FROM clock_timestamp());
	              LOOP
	                  BEGIN
	                      PERFORM geoshard.raft_set_setting('demo.leader', format('node %s', lead));
	                      EXIT;
	                  EXCEPTION WHEN OTHERS THEN
	                      IF clock_timestamp() > deadline THEN RAISE; END IF;
	                      PERFORM pg_sleep(0.001);
	                  END;
	              END LOOP;
	              PERFORM set_config('demo.takeover', format('%s|%s|%s', elected,
	                                 extract(epoch FROM clock_timestamp()), lead), false);
	          END \$\$;
	          SELECT current_setting('demo.takeover')" >"$DIR/takeover$i" &
	watchers+=($!)
done
# the watchers are connected and looking before the leader stops
for i in $survivors; do
	for _ in $(seq 200); do
		[ "$(sql "$i" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'geoshard demo watcher' AND state = 'active'")" = 1 ] && break
		sleep 0.05
	done
done
t0=$(now)
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DIR/n$leader" -m immediate -w stop >/dev/null
failed=0
for pid in "${watchers[@]}"; do
	wait "$pid" || failed=$((failed + 1))
done
# one survivor that saw the takeover is enough (the other may have lost its session)
if [ "$failed" = "${#watchers[@]}" ]; then
	echo "geoshard demo: no new raft leader took over (see $DIR/n*.log)" >&2
	exit 1
fi
# the earliest of the survivors' observations
read -r elected _ new < <(sort -t'|' -k1,1n "$DIR"/takeover* | head -n 1 | tr '|' ' ')
committed=$(sort -t'|' -k2,2n "$DIR"/takeover* | head -n 1 | cut -d'|' -f2)
LC_ALL=C printf 'node %s leads after %.2f s, and commits its first entry after %.2f s\n' \
	"$new" "$(echo "$elected - $t0" | bc)" "$(echo "$committed - $t0" | bc)"
for i in $survivors; do
	sql "$i" "SELECT format('node %s: %s in term %s, leader %s', node, role, term, leader) FROM geoshard.raft_status"
done

echo
echo "== node $leader comes back as a follower and catches up"
for _ in $(seq 100); do
	"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DIR/n$leader" -l "$DIR/n$leader.log" -w start >/dev/null 2>&1 && break
	sleep 0.1
done
leader_of 1 2 3 >/dev/null
for i in 1 2 3; do
	echo "node $i: $(sql "$i" "SELECT role FROM geoshard.raft_status"); $(settings_of "$i")"
done
