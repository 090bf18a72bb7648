#!/usr/bin/env bash
# test/demo/demo.sh: start (or stop) a throwaway PostgreSQL with geoshard
# preloaded, load the demo data and show the showcase queries.
#
#   demo.sh start   # set up and leave the server running
#   demo.sh stop    # stop it and remove its files
#
# GEOSHARD_DEMO_DIR (default /tmp/geoshard-demo) and GEOSHARD_DEMO_PORT
# (default 5488) choose where it lives; a loopback redis-server for the CDC
# and Redis view parts listens on GEOSHARD_DEMO_REDIS_PORT (default 5489), and the metrics worker
# serves /metrics and the status page on GEOSHARD_DEMO_METRICS_PORT (default 9188).  The raft part's three
# nodes listen on GEOSHARD_DEMO_RAFT_PORT (default 5490) and the two ports after it.  As root, the server
# and psql run as the unprivileged postgres user.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
DIR=${GEOSHARD_DEMO_DIR:-/tmp/geoshard-demo}
PORT=${GEOSHARD_DEMO_PORT:-5488}
REDIS_PORT=${GEOSHARD_DEMO_REDIS_PORT:-5489}
METRICS_PORT=${GEOSHARD_DEMO_METRICS_PORT:-9188}
RAFT_PORT=${GEOSHARD_DEMO_RAFT_PORT:-5490}

if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi
run() { "${RUNAS[@]}" env PATH="$PGBIN:$PATH" "$@"; }

case "${1:-}" in
start)
	if [ -f "$DIR/data/postmaster.pid" ]; then
		echo "geoshard demo: already running in $DIR; run 'make demo-stop' first" >&2
		exit 1
	fi
	rm -rf "$DIR"
	mkdir -p "$DIR"
	cp "$HERE/data.sql" "$HERE/showcase.sql" "$DIR/"
	# a small GeoIP file placing the documentation address ranges in cities
	perl "$HERE/../geoip/make-test-mmdb.pl" "$DIR/demo.mmdb"
	chown -R "$OWNER" "$DIR"
	run initdb -D "$DIR/data" -A trust -U postgres >/dev/null
	cat >>"$DIR/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'geoshard'
geoshard.node_id = 1
geoshard.database = 'geoshard_demo'
geoshard.geoip_database = '$DIR/demo.mmdb'
# CDC: pin changes published into Redis Streams (cdc.sh)
wal_level = logical
output_plugin_libraries = 'pgoutput, test_decoding, geoshard'
geoshard.redis_url = 'redis://127.0.0.1:$REDIS_PORT'
# the metrics worker's /metrics and status page
geoshard.metrics_listen = '127.0.0.1:$METRICS_PORT'
CONF
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
	run pg_ctl -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null
	run createdb -h "$DIR" -p "$PORT" -U postgres geoshard_demo
	# the README's tour creates its own tables: it gets an empty database
	run createdb -h "$DIR" -p "$PORT" -U postgres tour
	echo "geoshard demo: loading 100,000 pins around five campuses..."
	run psql -X -q -h "$DIR" -p "$PORT" -U postgres -d geoshard_demo -f "$DIR/data.sql" >/dev/null
	run psql -X -h "$DIR" -p "$PORT" -U postgres -d geoshard_demo -f "$DIR/showcase.sql"
	PG_CONFIG="$PG_CONFIG" "$HERE/failover.sh" "$DIR" "$PORT"
	PG_CONFIG="$PG_CONFIG" "$HERE/cdc.sh" "$DIR" "$PORT" "$REDIS_PORT"
	PG_CONFIG="$PG_CONFIG" "$HERE/redisview.sh" "$DIR" "$PORT" "$REDIS_PORT"
	PG_CONFIG="$PG_CONFIG" "$HERE/raft.sh" start "$DIR" "$RAFT_PORT"
	echo
	echo "Status page: http://127.0.0.1:$METRICS_PORT/ (docs/observe.md); the routing metrics:"
	echo "  curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep '^geoshard_route_decisions_total'"
	curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" | grep '^geoshard_route_decisions_total' | grep -v ' 0$' |
		sed 's/^/  /' || echo "  (no answer: is port $METRICS_PORT free? set GEOSHARD_DEMO_METRICS_PORT)"
	echo
	echo "The demo server is running. Connect to the demo data, or to the empty database"
	echo "'tour' for the README's quick tour, with:"
	if [ "$(id -u)" -eq 0 ]; then
		echo "  runuser -u postgres -- $PGBIN/psql -h $DIR -p $PORT -d geoshard_demo   # or -d tour"
	else
		echo "  $PGBIN/psql -h $DIR -p $PORT -d geoshard_demo   # or -d tour"
	fi
	echo "The raft group's three nodes listen on ports $RAFT_PORT-$((RAFT_PORT + 2)) (socket directory $DIR/raft)."
	echo "Stop it with: make demo-stop"
	;;
stop)
	# the health part's endpoints (failover.sh)
	if [ -f "$DIR/endpoints.pids" ]; then
		while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$DIR/endpoints.pids"
	fi
	PG_CONFIG="$PG_CONFIG" "$HERE/raft.sh" stop "$DIR"
	if [ -f "$DIR/data/postmaster.pid" ]; then
		run pg_ctl -D "$DIR/data" -m fast -w stop >/dev/null
	fi
	if [ -f "$DIR/redis.pid" ]; then
		kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
	fi
	rm -rf "$DIR"
	echo "geoshard demo: stopped"
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
