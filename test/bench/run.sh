#!/usr/bin/env bash
# test/bench/run.sh: the geo benchmark.  Measures geoshard against its peers
# in one run, side by side and interleaved, on a throwaway PostgreSQL cluster,
# and prints Markdown detail tables and a summary against the geo goals of
# the design map's performance table:
#   - marginal ns/row of quadkey(lat, lon, 23) vs q3c_ang2ipix and ST_GeoHash;
#   - marginal ns/row of haversine vs earthdistance <@>;
#   - radius queries (100 m, 1 km, 5 km) on 1M points vs PostGIS geography +
#     GiST: server-side time, identical rows, planning time, and end to end
#     with pgbench -M prepared;
#   - exact k-NN (geoshard's two-phase query) vs PostGIS geography <->:
#     identical ids and server-side time (no goal yet);
#   - CRDT merges (crdt.sql): marginal ns/row of two-node merges vs jsonb ||
#     jsonb and vs a per-node maximum written in SQL, or_set merges of 10,
#     100 and 1000 elements, WAL bytes per merge-UPDATE vs an int8
#     counter UPDATE, and crdt_merge_agg over 10,000 states
#     (crdt_merge_agg.sql).
# The summary also goes to test/bench/results/geo-<date>.md (gitignored).
#
# Usage: test/bench/run.sh          (`make bench` installs, then runs this)
# The extension must already be installed, with PostGIS, q3c and contrib.
# Servers refuse to run as root, so when started by root the server, psql
# and pgbench run as the unprivileged postgres user.
#
# Knobs (environment): BENCH_ROWS (1000000 points per table), BENCH_CENTRES
# (200), BENCH_ROUNDS (7, radius and k-NN loops), BENCH_ROW_ROUNDS (15, per-row
# costs), BENCH_PLAN_CENTRES (20), BENCH_PGBENCH_SECONDS (5),
# BENCH_PGBENCH_ROUNDS (3), BENCH_CRDT_ROWS (1000000 two-node states),
# BENCH_WAL_UPDATES (20000), BENCH_KEEP=1 keeps the scratch directory.
#
# Exit status: 0 when the run completed and every radius result set and k-NN
# answer matched PostGIS (goals that are not met are reported, not
# failures); 1 when answers differ; 2 on a setup or run error.
set -Eeuo pipefail
# Any failed command is a run error (2), never mistaken for "answers differ" (1).
trap 'echo "geoshard bench: failed at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_DIR="$SRC/test/bench"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

ROWS=${BENCH_ROWS:-1000000}
CENTRES=${BENCH_CENTRES:-200}
ROUNDS=${BENCH_ROUNDS:-7}
ROW_ROUNDS=${BENCH_ROW_ROUNDS:-15}
PLAN_CENTRES=${BENCH_PLAN_CENTRES:-20}
PGBENCH_SECONDS=${BENCH_PGBENCH_SECONDS:-5}
PGBENCH_ROUNDS=${BENCH_PGBENCH_ROUNDS:-3}
CRDT_ROWS=${BENCH_CRDT_ROWS:-1000000}
WAL_UPDATES=${BENCH_WAL_UPDATES:-20000}

# The box the radius-query points fill: lat 47..48, lon -122.5..-121.5.
LAT0=47
LON0=-122.5
BOX=1
# neighbours per k-NN query
KNN_K=10

die() {
	echo "geoshard bench: $*" >&2
	exit 2
}

for knob in ROWS CENTRES ROUNDS ROW_ROUNDS PLAN_CENTRES PGBENCH_SECONDS PGBENCH_ROUNDS CRDT_ROWS WAL_UPDATES; do
	[[ ${!knob} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$knob must be a positive integer, not \"${!knob}\""
done

# prerequisites ---------------------------------------------------------------

[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found; install postgresql-server-dev-15 (make deps)"
PGBIN=$("$PG_CONFIG" --bindir)
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)

for bin in initdb pg_ctl psql pgbench; do
	[ -x "$PGBIN/$bin" ] || die "$PGBIN/$bin not found; install postgresql-15"
done
[ -f "$EXTDIR/geoshard.control" ] && [ -f "$PKGLIBDIR/geoshard.so" ] ||
	die "geoshard is not installed in $PKGLIBDIR; run make install (or make bench)"
for ext in postgis:postgresql-15-postgis-3 q3c:postgresql-15-q3c \
	earthdistance:postgresql-15 cube:postgresql-15 pg_prewarm:postgresql-15; do
	[ -f "$EXTDIR/${ext%%:*}.control" ] ||
		die "extension ${ext%%:*} is not installed; apt-get install ${ext#*:}"
done

if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || die "running as root needs the postgres user (package postgresql-15)"
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi

run() {
	"${RUNAS[@]}" env PATH="$PGBIN:$PATH" LC_ALL=C "$@"
}

# scratch cluster -------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-bench.XXXXXX")
STARTED=
cleanup() {
	local status=$?
	if [ -n "$STARTED" ]; then
		run pg_ctl -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 ||
			run pg_ctl -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ "$status" -ne 0 ] && [ "$status" -ne 1 ] && [ -f "$WORK/server.log" ]; then
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
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$BENCH_DIR"/*.sql "$BENCH_DIR"/*.pgbench "$WORK/"
chown -R "$OWNER" "$WORK"
# runuser keeps the working directory, which postgres may not be able to read
cd "$WORK"

# Only a Unix socket in the scratch directory is used; the port still has to
# be one no other server uses, since it names the socket and the lock file.
PORT=
for _ in $(seq 1 100); do
	p=$((20000 + RANDOM % 40000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && [ ! -e "/tmp/.s.PGSQL.$p" ] &&
		[ ! -e "/var/run/postgresql/.s.PGSQL.$p" ]; then
		PORT=$p
		break
	fi
done
[ -n "$PORT" ] || die "no free port found"

psql_bench() {
	run psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d bench "$@"
}

START_TIME=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
STAMP=$(date -u '+%Y%m%d-%H%M%S')
SECONDS=0
phase() {
	printf '\n== %s (at %d s)\n' "$*" "$SECONDS"
}

phase "starting a scratch cluster in $WORK, port $PORT"
run initdb -D "$WORK/data" -A trust -U postgres -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 ||
	{ cat "$WORK/initdb.log" >&2; die "initdb failed"; }
# Per-row timings must be single-process and free of JIT; the cluster is
# throwaway, so durability is off to keep the load short.
cat >>"$WORK/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PORT
shared_preload_libraries = 'geoshard'
jit = off
max_parallel_workers_per_gather = 0
max_parallel_maintenance_workers = 0
shared_buffers = 1GB
work_mem = 64MB
maintenance_work_mem = 512MB
autovacuum = off
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = 8GB
checkpoint_timeout = 1h
EOF
# With shared_preload_libraries every backend runs the build the postmaster
# loaded, so identify that build now; a reinstall later in the run is noted.
lib_id() {
	echo "$(sha256sum "$PKGLIBDIR/geoshard.so" | cut -c1-12), installed $(date -u -r "$PKGLIBDIR/geoshard.so" '+%Y-%m-%d %H:%M:%S UTC')"
}
LIB_ID=$(lib_id)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=1
run pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null ||
	die "the server did not start"
run psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d postgres -c 'CREATE DATABASE bench'

phase "loading $ROWS worldwide points, $ROWS points in a ${BOX}-degree box, $CENTRES centres; indexes; prewarm"
psql_bench -f "$WORK/setup.sql" -v rows="$ROWS" -v centres="$CENTRES" \
	-v lat0="$LAT0" -v lon0="$LON0" -v box="$BOX" -v knn_k="$KNN_K" | sed 's/^/  /'

# Rounds run in one session, so caches stay warm; round 0 is the warm-up.
run_suite() {
	local suite=$1 rounds=$2 script="$WORK/rounds-$1.sql"
	: >"$script"
	for round in $(seq 0 "$rounds"); do
		echo "SELECT bench.run_round('$suite', $round);" >>"$script"
	done
	chown "$OWNER" "$script"
	psql_bench -At -f "$script"
}

phase "per-row costs: $ROW_ROUNDS interleaved rounds over $ROWS rows"
run_suite rows "$ROW_ROUNDS"

phase "checks: identical radius rows and k-NN ids for every centre; planning time"
psql_bench -v plan_centres="$PLAN_CENTRES" -v knn_k="$KNN_K" -f "$WORK/check.sql" | tee "$WORK/check.txt"

phase "radius queries, server side: $ROUNDS interleaved rounds of $CENTRES queries per radius and system"
run_suite radius "$ROUNDS"

phase "nearest neighbours (k = $KNN_K), server side: $ROUNDS interleaved rounds of $CENTRES queries per system"
run_suite knn "$ROUNDS"

phase "radius queries, end to end: pgbench -M prepared, $PGBENCH_ROUNDS interleaved rounds of ${PGBENCH_SECONDS} s"
mapfile -t RADII < <(psql_bench -At -F ' ' -c 'SELECT radius, label FROM bench.radii ORDER BY radius')
for round in $(seq 1 "$PGBENCH_ROUNDS"); do
	if [ $((round % 2)) -eq 1 ]; then systems=(geoshard postgis); else systems=(postgis geoshard); fi
	for entry in "${RADII[@]}"; do
		radius=${entry%% *}
		label=${entry#* }
		for system in "${systems[@]}"; do
			if ! out=$(run pgbench -n -M prepared -c 1 -T "$PGBENCH_SECONDS" \
				-D lat0="$LAT0" -D lon0="$LON0" -D box="$BOX" -D radius="$radius" \
				-f "$WORK/e2e-$system.pgbench" -h "$WORK" -p "$PORT" bench 2>&1); then
				echo "$out" >&2
				die "pgbench failed for $system $label"
			fi
			latency=$(awk '/^latency average/ { print $4 }' <<<"$out")
			tps=$(awk '/^tps/ { print $3 }' <<<"$out")
			failed=$(awk '/^number of failed transactions/ { print $5 }' <<<"$out")
			if [ -z "$latency" ] || [ -z "$tps" ] || [ "${failed:-0}" != 0 ]; then
				echo "$out" >&2
				die "could not read pgbench's result for $system $label"
			fi
			printf '  round %d  %-8s %-6s %8.1f tps  %8.3f ms\n' "$round" "$system" "$label" "$tps" "$latency"
			psql_bench -c "INSERT INTO bench.timings (suite, name, round, ms, tps)
				VALUES ('e2e', '$system $label', $round, $latency, $tps)"
		done
	done
done

phase "CRDT: loading $CRDT_ROWS two-node states and or_set pairs"
psql_bench -f "$WORK/crdt.sql" -v crdt_rows="$CRDT_ROWS"

phase "CRDT merges: $ROW_ROUNDS interleaved rounds"
run_suite crdt "$ROW_ROUNDS"
run_suite orset "$ROW_ROUNDS"

phase "CRDT: WAL bytes over $WAL_UPDATES single-row UPDATEs each"
psql_bench -c "CALL bench.wal_per_update('int8 n = n + 1', 'UPDATE wal_counters SET n = n + 1 WHERE id = \$1', $WAL_UPDATES)" \
	-c "CALL bench.wal_per_update('g_counter merge', 'UPDATE wal_counters SET c = crdt_merge(c, format(''{\"1\":%s}'', \$2)::g_counter) WHERE id = \$1', $WAL_UPDATES)"

phase "CRDT: crdt_merge_agg over 10,000 states"
psql_bench -f "$WORK/crdt_merge_agg.sql" >"$WORK/merge_agg.txt"

phase "report"
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
VERSIONS=$(psql_bench -At -c "SELECT format('PostgreSQL %s; %s', current_setting('server_version'),
	string_agg(extname || ' ' || extversion, ', ' ORDER BY extname))
	FROM pg_extension WHERE extname <> 'plpgsql'")
COMMIT=$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)
LIB_NOTE=
if [ "$(lib_id)" != "$LIB_ID" ]; then
	LIB_NOTE=" (geoshard.so was replaced during the run, now $(lib_id); every session used the build loaded at server start)"
	echo "geoshard bench: note: geoshard.so was replaced during the run" >&2
fi

psql_bench -At -v rows="$ROWS" -v centres="$CENTRES" -v pgbench_seconds="$PGBENCH_SECONDS" -v knn_k="$KNN_K" \
	-f "$WORK/report.sql" >"$WORK/report.md"
psql_bench -At -v crdt_rows="$CRDT_ROWS" -f "$WORK/crdt_report.sql" >"$WORK/crdt_report.md"

{
	echo "# geoshard benchmark (geo, crdt), $START_TIME"
	echo
	echo "- machine: $(nproc) cores, ${CPU:-unknown CPU}, $MEM RAM, $(uname -sr)"
	echo "- software: $VERSIONS"
	echo "- geoshard.so measured: sha256 $LIB_ID$LIB_NOTE; source tree $COMMIT"
	echo "- settings: jit=off, max_parallel_workers_per_gather=0, shared_buffers=1GB;" \
		"$ROWS rows per table, $CENTRES centres, $ROW_ROUNDS per-row rounds, $ROUNDS radius rounds," \
		"$PGBENCH_ROUNDS x ${PGBENCH_SECONDS} s pgbench runs; medians throughout"
	echo "- run time: $SECONDS s; load average (1, 5, 15 min): $LOAD_START at start," \
		"$(cut -d' ' -f1-3 /proc/loadavg) at the end (the benchmark keeps about one core busy)"
	echo
	cat "$WORK/report.md"
	echo
	cat "$WORK/crdt_report.md"
	echo
	echo "#### crdt_merge_agg over 10,000 states (median ms of 5 runs)"
	echo
	echo '```'
	cat "$WORK/merge_agg.txt"
	echo '```'
	echo
	echo "### Checks and plans"
	echo
	echo '```'
	cat "$WORK/check.txt"
	echo '```'
} >"$WORK/result.md"

# stdout already showed the checks and plans above
echo
sed '/^### Checks and plans$/,$d' "$WORK/result.md"

RESULTS_DIR="$BENCH_DIR/results"
if mkdir -p "$RESULTS_DIR" 2>/dev/null && cp "$WORK/result.md" "$RESULTS_DIR/geo-$STAMP.md" 2>/dev/null; then
	echo
	echo "(written to $RESULTS_DIR/geo-$STAMP.md)"
else
	echo "geoshard bench: could not write $RESULTS_DIR/geo-$STAMP.md" >&2
fi

identical=$(psql_bench -At -c 'SELECT (SELECT count(*) > 0 AND bool_and(geoshard = postgis) FROM bench.radius_check)
	AND (SELECT count(*) > 0 AND bool_and(geoshard = postgis) FROM bench.knn_check)')
[ "$identical" = t ] || exit 1
