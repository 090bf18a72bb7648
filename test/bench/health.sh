#!/usr/bin/env bash
# test/bench/health.sh: the health benchmark.  Starts a throwaway PostgreSQL
# cluster that preloads geoshard, four HTTP endpoints on loopback and HAProxy
# checking the same endpoints with the same interval, fall and timeout, then
# runs test/bench/health.py: detection (endpoint killed or frozen -> breaker
# open, HAProxy DOWN) and failover (-> route_region answers another region)
# over BENCH_HEALTH_TRIALS trials per failure mode, and the worker's CPU while
# it probes 256 regions.  Prints Markdown; the summary also goes to
# test/bench/results/health-<date>.md (gitignored).
#
# Usage: test/bench/health.sh   (`make bench-health` installs, then runs this)
# Knobs (environment): BENCH_HEALTH_TRIALS (30), BENCH_HEALTH_INTERVAL_MS
# (500), BENCH_HEALTH_TIMEOUT_MS (250), BENCH_HEALTH_FAILURES (3),
# BENCH_KEEP=1 keeps the scratch directory.
# Exit status: 0 when the run completed (goals not met are reported, not
# failures); 2 on a setup or run error.
set -Eeuo pipefail
trap 'echo "geoshard health bench: failed at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_DIR="$SRC/test/bench"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
TRIALS=${BENCH_HEALTH_TRIALS:-30}
INTERVAL=${BENCH_HEALTH_INTERVAL_MS:-500}
TIMEOUT=${BENCH_HEALTH_TIMEOUT_MS:-250}
FAILURES=${BENCH_HEALTH_FAILURES:-3}

die() {
	echo "geoshard health bench: $*" >&2
	exit 2
}

for knob in TRIALS INTERVAL TIMEOUT FAILURES; do
	[[ ${!knob} =~ ^[1-9][0-9]*$ ]] || die "$knob must be a positive integer, not \"${!knob}\""
done
[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found; run make deps"
PGBIN=$("$PG_CONFIG" --bindir)
[ -f "$("$PG_CONFIG" --pkglibdir)/geoshard.so" ] || die "geoshard is not installed; run make install"
command -v haproxy >/dev/null || die "haproxy not found; apt-get install haproxy (make deps)"
command -v python3 >/dev/null || die "python3 not found"

if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi
run() { "${RUNAS[@]}" env PATH="$PGBIN:$PATH:/usr/sbin" LC_ALL=C "$@"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-health.XXXXXX")
STARTED=
cleanup() {
	local status=$?
	if [ -n "$STARTED" ]; then
		run pg_ctl -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ "$status" -ne 0 ] && [ -f "$WORK/server.log" ]; then
		echo "== last lines of the server log ($WORK/server.log)" >&2
		tail -n 30 "$WORK/server.log" >&2
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "(scratch directory kept: $WORK)" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$status"
}
trap cleanup EXIT
cp "$BENCH_DIR/health.py" "$WORK/"
chown -R "$OWNER" "$WORK"
cd "$WORK"

# Free loopback ports: the server's (its socket name), four endpoints, HAProxy.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && [[ " $USED " != *" $p "* ]]; then
			USED="$USED $p"
			echo "$p"
			return
		fi
	done
	die "no free port found"
}
USED=
PORT=$(free_port)
USED="$USED $PORT"
PORTS=
for _ in 1 2 3 4 5; do
	p=$(free_port)
	USED="$USED $p"
	PORTS="${PORTS:+$PORTS,}$p"
done

run initdb -D "$WORK/data" -A trust -U postgres >/dev/null
cat >>"$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
shared_preload_libraries = 'geoshard'
geoshard.node_id = 1
geoshard.database = 'bench'
geoshard.health_interval = '${INTERVAL}ms'
geoshard.health_timeout = '${TIMEOUT}ms'
geoshard.breaker_failures = $FAILURES
geoshard.breaker_successes = 2
jit = off
CONF
run pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
STARTED=1
run createdb -h "$WORK" -p "$PORT" -U postgres bench
run psql -X -q -h "$WORK" -p "$PORT" -U postgres -d bench -c 'CREATE EXTENSION geoshard'

START_TIME=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
run python3 "$WORK/health.py" --pgbin "$PGBIN" --host "$WORK" --port "$PORT" --db bench \
	--work "$WORK" --ports "$PORTS" --trials "$TRIALS" --interval-ms "$INTERVAL" \
	--timeout-ms "$TIMEOUT" --failures "$FAILURES" >"$WORK/result.md"

{
	echo "# geoshard health benchmark, $START_TIME"
	echo
	echo "- machine: $(nproc) cores, $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo); $(haproxy -v | head -n 1 | cut -d' ' -f1-3)"
	echo "- source tree $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	cat "$WORK/result.md"
} | tee "$WORK/summary.md"

STAMP=$(date -u '+%Y%m%d-%H%M%S')
if mkdir -p "$BENCH_DIR/results" 2>/dev/null && cp "$WORK/summary.md" "$BENCH_DIR/results/health-$STAMP.md"; then
	echo
	echo "(written to $BENCH_DIR/results/health-$STAMP.md)"
fi
