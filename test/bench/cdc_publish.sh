#!/usr/bin/env bash
# test/bench/cdc_publish.sh: the cdc publisher's benchmark (make bench-cdc):
# throughput of a backlog into Redis Streams, and commit-to-stream freshness
# under a fixed write rate.  The method is in test/bench/cdc_publish.py; the
# summary also goes to test/bench/results/cdc-publish-<date>.md (gitignored).
#
# Usage: test/bench/cdc_publish.sh
# geoshard must already be installed (make install), with redis-server.
# Servers refuse to run as root, so when started by root everything runs as
# postgres.  Knobs (environment): BENCH_CDC_EVENTS (200000), BENCH_CDC_RATE
# (5000 rows/s), BENCH_CDC_SECONDS (20), BENCH_CDC_CONF (extra lines for
# postgresql.conf), BENCH_KEEP=1 keeps the scratch directory.
set -Eeuo pipefail
trap 'echo "geoshard cdc bench: failed at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
command -v redis-server >/dev/null || { echo "geoshard cdc bench: redis-server not found (apt-get install redis-server)" >&2; exit 2; }
[ -f "$("$PG_CONFIG" --pkglibdir)/geoshard.so" ] || { echo "geoshard cdc bench: geoshard is not installed; run make install" >&2; exit 2; }

if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi
PGPORT=${BENCH_CDC_PGPORT:-55491}
REDISPORT=${BENCH_CDC_REDISPORT:-56491}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-bench-cdc.XXXXXX")
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
jit = off
${BENCH_CDC_CONF:-}
CONF
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w start >/dev/null
"${RUNAS[@]}" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PGPORT" -d postgres <<'SQL'
CREATE EXTENSION geoshard;
CREATE TABLE pins (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);
-- n transactions of rows rows each
CREATE PROCEDURE write_pins(n int, rows int) LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1 .. n LOOP
		INSERT INTO pins (name) SELECT 'pin ' || g FROM generate_series(1, rows) g;
		COMMIT;
	END LOOP;
END $$;
SQL

mkdir -p "$SRC/test/bench/results"
out="$SRC/test/bench/results/cdc-publish-$(date +%Y%m%d-%H%M%S).md"
"${RUNAS[@]}" env PGBIN="$PGBIN" WORK="$WORK" BENCH_CDC_PGPORT="$PGPORT" BENCH_CDC_REDISPORT="$REDISPORT" \
	BENCH_CDC_EVENTS="${BENCH_CDC_EVENTS:-200000}" BENCH_CDC_RATE="${BENCH_CDC_RATE:-5000}" \
	BENCH_CDC_SECONDS="${BENCH_CDC_SECONDS:-20}" \
	python3 "$SRC/test/bench/cdc_publish.py" | tee "$out"
