#!/usr/bin/env bash
# test/bench/health.sh: the health benchmark (make bench-health): detection
# and failover of the health worker against the bound interval x failures +
# timeout, beside HAProxy with the same check settings, and the worker's CPU
# at 256 regions.  The method is in test/bench/health.py; the summary also
# goes to test/bench/results/health-<date>.md (gitignored).
#
# Usage: test/bench/health.sh
# geoshard must already be installed (make install), with haproxy.  Servers
# refuse to run as root, so when started by root everything runs as postgres.
# Knobs (environment): BENCH_HEALTH_TRIALS (30 per mode),
# BENCH_HEALTH_SERVERS (8), BENCH_HEALTH_CPU_SECONDS (30), BENCH_KEEP=1 keeps
# the scratch directory.
set -Eeuo pipefail
trap 'echo "geoshard health bench: failed at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
command -v haproxy >/dev/null || { echo "geoshard health bench: haproxy not found (apt-get install haproxy)" >&2; exit 2; }
[ -f "$("$PG_CONFIG" --pkglibdir)/geoshard.so" ] || { echo "geoshard health bench: geoshard is not installed; run make install" >&2; exit 2; }

if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-bench-health.XXXXXX")
chown "$OWNER" "$WORK"
cleanup() {
	"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$SRC/test/bench/results"
out="$SRC/test/bench/results/health-$(date +%Y%m%d-%H%M%S).md"
# runuser keeps the working directory, which postgres may not be able to read
(cd "$WORK" && "${RUNAS[@]}" env PGBIN="$PGBIN" WORK="$WORK" \
	BENCH_HEALTH_TRIALS="${BENCH_HEALTH_TRIALS:-30}" BENCH_HEALTH_SERVERS="${BENCH_HEALTH_SERVERS:-8}" \
	BENCH_HEALTH_CPU_SECONDS="${BENCH_HEALTH_CPU_SECONDS:-30}" \
	python3 "$SRC/test/bench/health.py") | tee "$out"
