#!/usr/bin/env bash
# test/demo/demo.sh: start (or stop) a throwaway PostgreSQL with geoshard
# preloaded, load the demo data and show the showcase queries.
#
#   demo.sh start   # set up and leave the server running
#   demo.sh stop    # stop it and remove its files
#
# GEOSHARD_DEMO_DIR (default /tmp/geoshard-demo) and GEOSHARD_DEMO_PORT
# (default 5488) choose where it lives.  As root, the server and psql run as
# the unprivileged postgres user.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
DIR=${GEOSHARD_DEMO_DIR:-/tmp/geoshard-demo}
PORT=${GEOSHARD_DEMO_PORT:-5488}

if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi
run() { "${RUNAS[@]}" env PATH="$PGBIN:$PATH" "$@"; }
psql_demo() { run psql -X -q -h "$DIR" -p "$PORT" -U postgres -d geoshard_demo "$@"; }

# Each region gets a small HTTP endpoint on loopback that the health worker
# probes; their PIDs are kept in $DIR/endpoints/<region>.pid.
REGIONS=(us-west-2 us-east-1 eu-central-1 ap-southeast-1 ap-northeast-1)

start_endpoint() {
	local region=$1 port
	port=$(cat "$DIR/endpoints/$region.port")
	"${RUNAS[@]}" python3 -m http.server "$port" --bind 127.0.0.1 --directory "$DIR/endpoints" \
		>/dev/null 2>&1 &
	echo $! >"$DIR/endpoints/$region.pid"
}

stop_endpoints() {
	local pidfile
	for pidfile in "$DIR"/endpoints/*.pid; do
		[ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
	done
}

# Wait (at most $3 seconds) until the region's breaker is in state $2.
wait_breaker() {
	local region=$1 state=$2 limit=$3 i
	for ((i = 0; i < limit * 10; i++)); do
		[ "$(psql_demo -At -c "SELECT state FROM geoshard.region_health WHERE region = '$region'")" = "$state" ] && return 0
		sleep 0.1
	done
	echo "geoshard demo: $region did not become $state within $limit s" >&2
	return 1
}

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	return 1
}

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
CONF
	run pg_ctl -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null
	run createdb -h "$DIR" -p "$PORT" -U postgres geoshard_demo
	# the README's tour creates its own tables: it gets an empty database
	run createdb -h "$DIR" -p "$PORT" -U postgres tour
	echo "geoshard demo: loading 100,000 pins around five campuses..."
	psql_demo -f "$DIR/data.sql" >/dev/null
	mkdir -p "$DIR/endpoints"
	echo ok >"$DIR/endpoints/index.html"
	chown -R "$OWNER" "$DIR/endpoints"
	for region in "${REGIONS[@]}"; do
		free_port >"$DIR/endpoints/$region.port"
		start_endpoint "$region"
		psql_demo -c "SELECT geoshard.update_region('$region', endpoint => 'http://127.0.0.1:$(cat "$DIR/endpoints/$region.port")/')" >/dev/null
	done
	run psql -X -h "$DIR" -p "$PORT" -U postgres -d geoshard_demo -f "$DIR/showcase.sql"

	echo
	echo "== 8. Health: Oregon's endpoint dies, its clients fail over, then it comes back"
	wait_breaker us-west-2 closed 20
	psql_demo -c "SELECT region, state, endpoint, round(smoothed_rtt_ms::numeric, 2) AS rtt_ms FROM geoshard.region_health ORDER BY region"
	echo "-- killing Oregon's endpoint (pid $(cat "$DIR/endpoints/us-west-2.pid"))"
	kill "$(cat "$DIR/endpoints/us-west-2.pid")"
	start=$(date +%s%N)
	wait_breaker us-west-2 open 20
	echo "-- the health worker opened its breaker after $((($(date +%s%N) - start) / 1000000)) ms"
	psql_demo -c "SELECT region, state, consecutive_failures, last_error FROM geoshard.region_health WHERE region = 'us-west-2'" \
		-c "SELECT route_region('192.0.2.10') AS seattle_now, route_region_explain('192.0.2.10') ->> 'reason' AS reason"
	echo "-- starting it again: half-open after the cooldown, closed after two good probes"
	start_endpoint us-west-2
	wait_breaker us-west-2 closed 60
	psql_demo -c "SELECT route_region('192.0.2.10') AS seattle_back" \
		-c "SELECT region, from_state, to_state, reason, round(rtt_ms::numeric, 2) AS rtt_ms FROM geoshard.health_events WHERE region = 'us-west-2' ORDER BY at DESC LIMIT 4"
	echo
	echo "The demo server is running. Connect to the demo data, or to the empty database"
	echo "'tour' for the README's quick tour, with:"
	if [ "$(id -u)" -eq 0 ]; then
		echo "  runuser -u postgres -- $PGBIN/psql -h $DIR -p $PORT -d geoshard_demo   # or -d tour"
	else
		echo "  $PGBIN/psql -h $DIR -p $PORT -d geoshard_demo   # or -d tour"
	fi
	echo "Stop it with: make demo-stop"
	;;
stop)
	stop_endpoints
	if [ -f "$DIR/data/postmaster.pid" ]; then
		run pg_ctl -D "$DIR/data" -m fast -w stop >/dev/null
	fi
	rm -rf "$DIR"
	echo "geoshard demo: stopped"
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
