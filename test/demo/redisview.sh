#!/usr/bin/env bash
# test/demo/redisview.sh DIR PORT REDIS_PORT: the Redis views part of make
# demo (docs/redisview.md).  Keeps the demo's pins in a geo view and shows a
# pin inserted, moved and deleted in PostgreSQL in the answers of the
# GEOSEARCH commands geoshard.redis_view_search gives; then a presence view
# whose entry expires.
set -euo pipefail

DIR=$1
PORT=$2
REDIS_PORT=$3
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
if [ "$(id -u)" -eq 0 ]; then RUNAS=(runuser -u postgres --); else RUNAS=(); fi
sql() { "${RUNAS[@]}" "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres -d geoshard_demo -c "$1"; }
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
# poll a shell condition for up to 30 s
until_ok() {
	for _ in $(seq 1 300); do
		eval "$1" && return 0
		sleep 0.1
	done
	echo "geoshard demo: timed out waiting for: $1" >&2
	return 1
}
# the members found within 200 m of (lat, lon): run every GEOSEARCH command
# that redis_view_search returns for that circle
search() {
	sql "SELECT command FROM geoshard.redis_view_search('pins', $1, $2, 200)" |
		while read -r cmd; do rcli $cmd; done
}
show_search() {
	echo "  \$ psql -Atc \"SELECT command FROM geoshard.redis_view_search('pins', $1, $2, 200)\""
	sql "SELECT command FROM geoshard.redis_view_search('pins', $1, $2, 200)" | sed 's/^/    /'
	echo "  \$ redis-cli <each command>   # members (pin ids), distance in m, coordinates"
	local out
	out=$(search "$1" "$2" | tr '\n' ' ' | sed 's/^ *//; s/ *$//')
	echo "    ${out:-(nothing)}"
}

echo
echo "== Redis views: the demo's 100,000 pins in a geo view, kept in step by the redisview worker"
sql "SELECT geoshard.add_redis_view('pins', 'pins', 'geo', '{\"shard_level\": 12}')" >/dev/null
until_ok '[ "$(sql "SELECT state = '"'"'streaming'"'"' FROM geoshard.redisview_status WHERE view = '"'"'pins'"'"'")" = t ]'
sql "SELECT 'view ' || view || ': ' || state || ', generation ' || generation || ', ' || keys || ' pins in Redis'
     FROM geoshard.redisview_status WHERE view = 'pins'"

# north of ETH Zurich, away from the demo's random pins
ID=$(sql "INSERT INTO pins (campus, title, lat, lon) VALUES ('ETH Zurich', 'demo: new pin', 47.4500, 8.6000) RETURNING id")
echo
echo "-- INSERT pin $ID at (47.4500, 8.6000); a 200 m search around it:"
until_ok '[[ " $(search 47.4500 8.6000 | tr "\n" " ") " == *" $ID "* ]]'
show_search 47.4500 8.6000

sql "UPDATE pins SET lat = 47.4530 WHERE id = $ID"
echo
echo "-- UPDATE: pin $ID moves 330 m north; the old circle no longer finds it, the new one does:"
until_ok '[[ " $(search 47.4500 8.6000 | tr "\n" " ") " != *" $ID "* ]]'
show_search 47.4500 8.6000
show_search 47.4530 8.6000

sql "DELETE FROM pins WHERE id = $ID"
echo
echo "-- DELETE: no stale entry is left"
until_ok '[[ " $(search 47.4530 8.6000 | tr "\n" " ") " != *" $ID "* ]]'
show_search 47.4530 8.6000

echo
echo "== Redis views: presence that expires (ttl_ms 3000)"
sql "CREATE TABLE here (person text PRIMARY KEY, campus text NOT NULL);
     SELECT geoshard.add_redis_view('here', 'here', 'presence', '{\"ttl_ms\": 3000, \"value\": \"campus\"}')" >/dev/null
until_ok '[ "$(sql "SELECT state = '"'"'streaming'"'"' FROM geoshard.redisview_status WHERE view = '"'"'here'"'"'")" = t ]'
sql "INSERT INTO here VALUES ('ada', 'ETH Zurich')"
KEY="geoshard:rv:here:$(rcli GET geoshard:rv:here:gen):ada"
until_ok '[ "$(rcli EXISTS "$KEY")" = 1 ]'
echo "  \$ redis-cli GET $KEY; redis-cli PTTL $KEY"
echo "    $(rcli GET "$KEY"); $(rcli PTTL "$KEY") ms left"
until_ok '[ "$(rcli EXISTS "$KEY")" = 0 ]'
echo "  3 s later: redis-cli EXISTS $KEY -> $(rcli EXISTS "$KEY") (expired; an UPDATE of the row sets it again)"
