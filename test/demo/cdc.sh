#!/usr/bin/env bash
# test/demo/cdc.sh DIR PORT REDIS_PORT: the CDC part of make demo.  Adds a
# sink for the demo's pins, changes a few pins and shows the events arriving
# in the Redis stream demo:pins (docs/cdc.md#publishing-to-redis-streams).
set -euo pipefail

DIR=$1
PORT=$2
REDIS_PORT=$3
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
if [ "$(id -u)" -eq 0 ]; then RUNAS=(runuser -u postgres --); else RUNAS=(); fi
sql() { "${RUNAS[@]}" "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres -d geoshard_demo -c "$1"; }
# poll a boolean query for up to 10 s
until_true() {
	for _ in $(seq 1 100); do
		[ "$(sql "$1")" = t ] && return 0
		sleep 0.1
	done
	echo "geoshard demo: timed out waiting for: $1" >&2
	return 1
}

echo
echo "== CDC: pin changes arriving in the Redis stream demo:pins"
sql "SELECT geoshard.add_cdc_sink('demo_pins', 'demo:{table}', '{\"include-tables\": \"public.pins\"}')" >/dev/null
until_true "SELECT state = 'streaming' FROM geoshard.cdc_status WHERE sink = 'demo_pins'"
sql "INSERT INTO pins (campus, title, lat, lon) VALUES ('University of Sydney', 'new pin', -33.8886, 151.1873);
     UPDATE pins SET title = 'renamed pin' WHERE id = 1;
     DELETE FROM pins WHERE id = 2;"
until_true "SELECT lag_bytes = 0 AND published >= 3 FROM geoshard.cdc_status WHERE sink = 'demo_pins'"
redis-cli -p "$REDIS_PORT" --no-raw XRANGE demo:pins - +
sql "SELECT 'sink ' || sink || ': ' || state || ', ' || published || ' events published, last id ' || last_id
     FROM geoshard.cdc_status"
