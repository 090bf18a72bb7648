#!/usr/bin/env bash
# test/bench/metrics.sh: the cost of geoshard's metrics on route_region.
# One throwaway cluster, one session: SELECT count(route_region(ip)) over
# random clients that a generated GeoIP file places, with
# geoshard.metrics_enabled on, off and on again (an A/A control showing the
# noise), interleaved round by round (the order reversed every other
# round), minus a plain scan of the same clients; the report gives each
# variant's median marginal ns/call, by the backend's CPU time and by wall
# time, against the goal (metrics on <= 1.02 x off).  With counting on, each
# call also works out its reason (RouteReasonOf) and adds three counters:
# its GeoIP result, its location source and its reason.
# Then the same under concurrency, where shared counters would contend:
# pgbench runs at 1, 2 and 8 clients, each client running batches of
# route_region over the first BENCH_METRICS_BATCH clients, each batch
# counting on, off, on again or a plain scan, drawn at random; each batch
# records its wall time and its backend's CPU time.
#
# Usage: test/bench/metrics.sh  (geoshard installed; libmaxmind-db-writer-perl)
# Knobs: BENCH_METRICS_IPS (100000 clients), BENCH_METRICS_NETWORKS
# (200000), BENCH_METRICS_ROUNDS (40), BENCH_METRICS_CLIENTS ("1 2 8"),
# BENCH_METRICS_CONC_ROUNDS (3), BENCH_METRICS_CONC_SECONDS (10 per run),
# BENCH_METRICS_BATCH (2000 calls), BENCH_KEEP=1 keeps the scratch dir.
# The summary also goes to test/bench/results/metrics-<date>.md.
set -Eeuo pipefail
trap 'echo "geoshard metrics bench: failed at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_DIR="$SRC/test/bench"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
IPS=${BENCH_METRICS_IPS:-100000}
NETWORKS=${BENCH_METRICS_NETWORKS:-200000}
ROUNDS=${BENCH_METRICS_ROUNDS:-40}
CONC_ROUNDS=${BENCH_METRICS_CONC_ROUNDS:-3}
CONC_SECONDS=${BENCH_METRICS_CONC_SECONDS:-10}
BATCH=${BENCH_METRICS_BATCH:-2000}
CLIENTS=${BENCH_METRICS_CLIENTS:-1 2 8}
for c in $CLIENTS; do
	[[ $c =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_METRICS_CLIENTS must list positive integers" >&2; exit 2; }
done
for knob in IPS NETWORKS ROUNDS CONC_ROUNDS CONC_SECONDS BATCH; do
	v=BENCH_METRICS_$knob
	[[ ${!knob} =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive integer" >&2; exit 2; }
done

PGBIN=$("$PG_CONFIG" --bindir)
if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi
run() {
	"${RUNAS[@]}" env PATH="$PGBIN:$PATH" LC_ALL=C "$@"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-metrics.XXXXXX")
STARTED=
cleanup() {
	local status=$?
	[ -z "$STARTED" ] || run pg_ctl -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 || true
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "(scratch directory kept: $WORK)" >&2; else rm -rf "$WORK"; fi
	exit "$status"
}
trap cleanup EXIT

PORT=$((20000 + RANDOM % 40000))
START_TIME=$(date -u '+%Y-%m-%d %H:%M UTC')
STAMP=$(date -u '+%Y%m%d-%H%M%S')
SECONDS=0

echo "== generating $NETWORKS networks"
perl "$BENCH_DIR/make-bench-mmdb.pl" "$WORK/bench.mmdb" "$NETWORKS" 1 $((NETWORKS / 10)) 2>"$WORK/mmdb.log" ||
	{ cat "$WORK/mmdb.log" >&2; exit 2; }
cp "$BENCH_DIR"/metrics_setup.sql "$BENCH_DIR"/metrics_report.sql "$BENCH_DIR"/metrics_concurrency_report.sql "$WORK/"
chown -R "$OWNER" "$WORK"

echo "== scratch cluster in $WORK, port $PORT"
run initdb -D "$WORK/data" -A trust -U postgres -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1
cat >>"$WORK/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PORT
shared_preload_libraries = 'geoshard'
geoshard.database = 'bench'
geoshard.health_enabled = off
geoshard.geoip_database = '$WORK/bench.mmdb'
jit = off
max_parallel_workers_per_gather = 0
autovacuum = off
fsync = off
CONF
STARTED=1
run pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
run psql -X -q -h "$WORK" -p "$PORT" -d postgres -c 'CREATE DATABASE bench'
bench() {
	run psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d bench "$@"
}

echo "== loading $IPS clients"
bench -f "$WORK/metrics_setup.sql" -v tsv="$WORK/bench.tsv" -v ips="$IPS" -v batch="$BATCH"
n=$(bench -At -c 'SELECT count(*) FROM bench.clients')
hits=$(bench -At -c "SELECT count(*) FILTER (WHERE source = 'mmdb') FROM (SELECT (geoip_lookup(ip)).source FROM bench.clients LIMIT 10000) s")
echo "  $n clients; GeoIP file hits in the first 10000: $hits"

echo "== $ROUNDS rounds after a warm-up (on, off, on again, scan; order reversed every other round)"
for round in $(seq 0 "$ROUNDS"); do
	echo "SELECT bench.run_round($round);"
done >"$WORK/rounds.sql"
chown "$OWNER" "$WORK/rounds.sql"
bench -At -f "$WORK/rounds.sql" >/dev/null

echo "== concurrent: clients $CLIENTS, $CONC_ROUNDS rounds of ${CONC_SECONDS}s runs (each batch on, off, on again or scan at random)"
printf '%s\n' '\set variant random(0, 3)' 'SELECT bench.run_batch(:round, :clients, :variant);' >"$WORK/batch.pgbench"
chown "$OWNER" "$WORK/batch.pgbench"
for round in $(seq 0 "$CONC_ROUNDS"); do
	for clients in $CLIENTS; do
		# round 0 warms up, for 2 s
		run pgbench -n -h "$WORK" -p "$PORT" -c "$clients" -j "$clients" \
			-T "$([ "$round" -gt 0 ] && echo "$CONC_SECONDS" || echo 2)" \
			-D round="$round" -D clients="$clients" -f "$WORK/batch.pgbench" bench >"$WORK/pgbench.log" 2>&1 ||
			{ cat "$WORK/pgbench.log" >&2; exit 2; }
	done
	[ "$round" -gt 0 ] || bench -c 'TRUNCATE bench.batch_timings'
done

CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
	echo "# geoshard benchmark (metrics overhead), $START_TIME"
	echo
	echo "- machine: $(nproc) cores, ${CPU:-unknown CPU}; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- source tree $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown); 20 regions;" \
		"$n clients inside $NETWORKS generated networks (every lookup a GeoIP file hit); one session"
	echo
	bench -At -v ips="$n" -f "$WORK/metrics_report.sql"
	echo
	echo "Concurrent clients (pgbench, $CONC_ROUNDS rounds of ${CONC_SECONDS}s runs per number of clients, batches of $BATCH route_region calls):"
	echo
	bench -At -v batch="$BATCH" -f "$WORK/metrics_concurrency_report.sql"
} >"$WORK/result.md"
cat "$WORK/result.md"
mkdir -p "$BENCH_DIR/results" && cp "$WORK/result.md" "$BENCH_DIR/results/metrics-$STAMP.md" &&
	echo "(written to $BENCH_DIR/results/metrics-$STAMP.md)"
