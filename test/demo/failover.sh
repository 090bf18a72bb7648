#!/usr/bin/env bash
# test/demo/failover.sh: the health part of `make demo`.  Gives each demo
# region a small local HTTP endpoint (python3 -m http.server), kills
# us-west-2's, shows the health worker opening its breaker and route_region
# moving Seattle's clients, then brings it back: half_open, then closed.
# The endpoints keep running with the demo server; demo.sh stop ends them
# (their pids are in $DIR/endpoints.pids).
#
# Usage (from demo.sh): failover.sh DIR PORT
set -euo pipefail

DIR=$1
PORT=$2
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
if [ "$(id -u)" -eq 0 ]; then RUNAS=(runuser -u postgres --); else RUNAS=(); fi
sql() { "${RUNAS[@]}" "$PGBIN/psql" -X -q -A -t -h "$DIR" -p "$PORT" -U postgres -d geoshard_demo -c "$1"; }
show() { "${RUNAS[@]}" "$PGBIN/psql" -X -q -h "$DIR" -p "$PORT" -U postgres -d geoshard_demo -c "$1"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# poll until the query returns t; a demo may sleep, a test may not
until_true() {
	for _ in $(seq 300); do
		[ "$(sql "$1")" = t ] && return 0
		sleep 0.05
	done
	echo "geoshard demo: gave up waiting for: $1" >&2
	return 1
}
serve() {
	# the endpoint runs as the demo's owner, so that demo.sh stop can end it
	"${RUNAS[@]}" python3 -m http.server "$1" --bind 127.0.0.1 --directory "$DIR" >/dev/null 2>&1 &
	echo $! >>"$DIR/endpoints.pids"
}

mkdir -p "$DIR/ports"
for region in us-west-2 us-east-1 eu-central-1 ap-southeast-1 ap-northeast-1; do
	port=$(free_port)
	echo "$port" >"$DIR/ports/$region"
	serve "$port"
	sql "SELECT geoshard.update_region('$region', endpoint => 'http://127.0.0.1:$port/')" >/dev/null
done

echo
echo '== 8. Health: every region has a local HTTP endpoint, probed every 500 ms'
until_true "SELECT bool_and(state = 'closed' AND consecutive_successes > 0) FROM geoshard.region_health"
show "SELECT region, endpoint, state, round(smoothed_rtt_ms::numeric, 2) AS rtt_ms FROM geoshard.region_health ORDER BY region"

echo "== us-west-2's endpoint dies (kill); Seattle's clients move within interval x failures + timeout (1.75 s)"
pid=$(head -n 1 "$DIR/endpoints.pids")
t0=$(date +%s.%N)
kill "$pid"
until_true "SELECT route_region('192.0.2.10') <> 'us-west-2'"
t1=$(date +%s.%N)
printf 'failover after %.2f s\n' "$(echo "$t1 - $t0" | bc)"
show "SELECT route_region('192.0.2.10') AS seattle_now, route_region_explain('192.0.2.10') ->> 'reason' AS reason,
             e.value ->> 'region' AS excluded, e.value ->> 'why' AS why
      FROM jsonb_array_elements(route_region_explain('192.0.2.10') -> 'excluded') e"
show "SELECT region, from_state, to_state, reason, error FROM geoshard.health_events ORDER BY id"

echo "== it comes back: half_open after the cooldown (5 s), closed after 2 good probes"
serve "$(cat "$DIR/ports/us-west-2")"
until_true "SELECT state = 'closed' FROM geoshard.region_health WHERE region = 'us-west-2'"
show "SELECT region, from_state, to_state, reason FROM geoshard.health_events ORDER BY id"
show "SELECT route_region('192.0.2.10') AS seattle_again"
