#!/usr/bin/env bash
# test/bench/redisview.sh: the Redis views benchmark (make bench-redisview):
# a radius read on a geo view (GEOSEARCH on the keys redis_view_search
# names) beside the same exact radius query in PostgreSQL with the covering
# GiST index, per read and at 16 concurrent readers; and commit-to-Redis
# freshness at a fixed write rate.  The method is in test/bench/redisview.py;
# the summary also goes to test/bench/results/redisview-<date>.md (gitignored).
#
# Usage: test/bench/redisview.sh
# geoshard must already be installed (make install), with redis-server.
# Servers refuse to run as root, so when started by root everything runs as
# postgres.  Knobs (environment): BENCH_RV_PINS (1000000), BENCH_RV_RADIUS
# (500 m), BENCH_RV_SECONDS (10 per read test), BENCH_RV_RATE (5000 rows/s),
# BENCH_RV_FRESH_SECONDS (20), BENCH_RV_ONLY (freshness: skip the read tests),
# BENCH_RV_RETURN (coords: ids with coordinates;
# ids: ids alone), BENCH_RV_CONF (extra lines for postgresql.conf), BENCH_KEEP=1
# keeps the scratch directory.
set -Eeuo pipefail
trap 'echo "geoshard redisview bench: failed at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
command -v redis-server >/dev/null || { echo "geoshard redisview bench: redis-server not found (apt-get install redis-server)" >&2; exit 2; }
[ -f "$("$PG_CONFIG" --pkglibdir)/geoshard.so" ] || { echo "geoshard redisview bench: geoshard is not installed; run make install" >&2; exit 2; }

if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi
PGPORT=${BENCH_RV_PGPORT:-55492}
REDISPORT=${BENCH_RV_REDISPORT:-56492}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-bench-redisview.XXXXXX")
chown "$OWNER" "$WORK"
redis_pid=
cleanup() {
	"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
	[ -z "$redis_pid" ] || kill "$redis_pid" 2>/dev/null || true
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

redis-server --port "$REDISPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
	>"$WORK/redis.log" 2>&1 &
redis_pid=$!

cd "$WORK"
"${RUNAS[@]}" "$PGBIN/initdb" -D "$WORK/data" -A trust >/dev/null
cat >>"$WORK/data/postgresql.conf" <<CONF
port = $PGPORT
unix_socket_directories = '$WORK'
listen_addresses = ''
shared_preload_libraries = 'geoshard'
wal_level = logical
output_plugin_libraries = 'pgoutput, test_decoding, geoshard'
geoshard.database = 'postgres'
geoshard.health_enabled = off
geoshard.redis_url = 'redis://127.0.0.1:$REDISPORT'
max_wal_size = '4GB'
shared_buffers = '256MB'
jit = off
${BENCH_RV_CONF:-}
CONF
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w start >/dev/null

mkdir -p "$SRC/test/bench/results"
out="$SRC/test/bench/results/redisview-$(date +%Y%m%d-%H%M%S).md"
"${RUNAS[@]}" env PGBIN="$PGBIN" WORK="$WORK" SRC="$SRC" BENCH_RV_PGPORT="$PGPORT" BENCH_RV_REDISPORT="$REDISPORT" \
	BENCH_RV_PINS="${BENCH_RV_PINS:-1000000}" BENCH_RV_RADIUS="${BENCH_RV_RADIUS:-500}" \
	BENCH_RV_SECONDS="${BENCH_RV_SECONDS:-10}" BENCH_RV_RATE="${BENCH_RV_RATE:-5000}" \
	BENCH_RV_FRESH_SECONDS="${BENCH_RV_FRESH_SECONDS:-20}" BENCH_RV_RETURN="${BENCH_RV_RETURN:-coords}" \
	BENCH_RV_ONLY="${BENCH_RV_ONLY:-}" \
	python3 "$SRC/test/bench/redisview.py" | tee "$out"
