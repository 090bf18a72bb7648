#!/usr/bin/env bash
# test/bench/routing.sh: the routing benchmark.  Measures route_region(ip)
# against a router written in SQL, side by side and interleaved in one run,
# on a throwaway PostgreSQL cluster, and prints a Markdown summary against
# the routing goal: route_region costs at most 1 us per call and at most
# 0.05x the SQL router, and clients the file does not place (misses,
# private addresses) cost no more than clients it does.
#
#   - a generated GeoIP2-City-like .mmdb (make-bench-mmdb.pl) the size of
#     GeoLite2-City: 3M networks (about 60 MB), IPv4 /16../24 and IPv6
#     /32../48, sharing 150k distinct records (cities) as real City files
#     share them; 20 regions at cloud region coordinates, all with default
#     cost, capacity and load;
#   - route_region(ip): marginal ns/call over 1M random clients inside
#     those networks (SELECT count(route_region(ip)) minus a plain scan);
#   - the same over 200k public IPv4 addresses no network holds (misses)
#     and 200k private addresses (10/8, 172.16/12, 192.168/16, 100.64/10,
#     fd00::/8), with geoshard.geoip_networks empty;
#   - the peer: the client's network found through ip4r GiST indexes on the
#     same networks (ip4r and ip6r, plain index scans: its fastest plan),
#     then ORDER BY haversine(...), id LIMIT 1 over geoshard.regions, as a
#     LATERAL subquery per client, over the first 200k of the clients (it
#     costs about ten times more; a marginal per call does not depend on
#     how many calls);
#   - diagnostics: geoip_lookup(ip) alone, the peer's GiST lookup alone, the
#     peer over one iprange index, geoip_lookup with the scoring in SQL;
#   - checks, before any timing: both routers give the same region for 20k
#     sampled clients, the file finds every one of them, and the peer's
#     plan probes its GiST indexes.
# The summary also goes to test/bench/results/routing-<date>.md (gitignored).
#
# Usage: test/bench/routing.sh
# geoshard must already be installed (make install), with ip4r
# (postgresql-15-ip4r) and libmaxmind-db-writer-perl.  Servers refuse to run
# as root, so when started by root the server and psql run as the
# unprivileged postgres user.
#
# Knobs (environment): BENCH_ROUTE_IPS (1000000 clients), BENCH_ROUTE_PEER_IPS
# (200000, clients the SQL router runs over, at most BENCH_ROUTE_IPS; also
# the number of misses and of private addresses), BENCH_ROUTE_NETWORKS
# (3000000), BENCH_ROUTE_RECORDS (150000, distinct records the networks
# share; at most BENCH_ROUTE_NETWORKS), BENCH_ROUTE_SAMPLE (20000, clients
# compared), BENCH_ROUTE_ROUNDS (7), BENCH_ROUTE_SEED (1, the networks),
# BENCH_KEEP=1 keeps the scratch directory, BENCH_ROUTE_MMDB=file.mmdb uses
# a file make-bench-mmdb.pl wrote before (and its .tsv) instead of
# generating one (about 2 minutes at the default size).
#
# Exit status: 0 when the run completed and both routers agreed for every
# sampled client (goals that are not met are reported, not failures); 1
# when answers differ; 2 on a setup or run error.
set -Eeuo pipefail
# Any failed command is a run error (2), never mistaken for "answers differ" (1).
trap 'echo "geoshard routing bench: failed at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_DIR="$SRC/test/bench"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

IPS=${BENCH_ROUTE_IPS:-1000000}
PEER_IPS=${BENCH_ROUTE_PEER_IPS:-200000}
NETWORKS=${BENCH_ROUTE_NETWORKS:-3000000}
RECORDS=${BENCH_ROUTE_RECORDS:-150000}
SAMPLE=${BENCH_ROUTE_SAMPLE:-20000}
ROUNDS=${BENCH_ROUTE_ROUNDS:-7}
SEED=${BENCH_ROUTE_SEED:-1}

die() {
	echo "geoshard routing bench: $*" >&2
	exit 2
}

for knob in IPS PEER_IPS NETWORKS RECORDS SAMPLE ROUNDS; do
	[[ ${!knob} =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUTE_$knob must be a positive integer, not \"${!knob}\""
done
[[ $SEED =~ ^[0-9]+$ ]] || die "BENCH_ROUTE_SEED must be a non-negative integer, not \"$SEED\""
[ "$PEER_IPS" -le "$IPS" ] || PEER_IPS=$IPS
[ "$SAMPLE" -le "$IPS" ] || SAMPLE=$IPS
[ "$RECORDS" -le "$NETWORKS" ] || RECORDS=$NETWORKS

# prerequisites ---------------------------------------------------------------

[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found; install postgresql-server-dev-15 (make deps)"
PGBIN=$("$PG_CONFIG" --bindir)
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)

for bin in initdb pg_ctl psql; do
	[ -x "$PGBIN/$bin" ] || die "$PGBIN/$bin not found; install postgresql-15"
done
{ [ -f "$EXTDIR/geoshard.control" ] && [ -f "$PKGLIBDIR/geoshard.so" ]; } ||
	die "geoshard is not installed in $PKGLIBDIR; run make install"
for ext in ip4r:postgresql-15-ip4r pg_prewarm:postgresql-15; do
	[ -f "$EXTDIR/${ext%%:*}.control" ] ||
		die "extension ${ext%%:*} is not installed; apt-get install ${ext#*:}"
done
perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null ||
	die "perl cannot load MaxMind::DB::Writer::Tree; apt-get install libmaxmind-db-writer-perl"

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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-routing.XXXXXX")
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

cp "$BENCH_DIR"/routing_*.sql "$WORK/"
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

if [ -n "${BENCH_ROUTE_MMDB:-}" ]; then
	# a file generated before (with its .tsv), to compare builds on the same data
	phase "copying $BENCH_ROUTE_MMDB and its .tsv"
	cp "$BENCH_ROUTE_MMDB" "$WORK/bench.mmdb" && cp "${BENCH_ROUTE_MMDB%.mmdb}.tsv" "$WORK/bench.tsv" ||
		die "BENCH_ROUTE_MMDB must name a .mmdb file with its .tsv beside it"
	MMDB_NOTE="reused $BENCH_ROUTE_MMDB, $(stat -c %s "$WORK/bench.mmdb") bytes; the knobs must match how it was made"
else
	phase "generating $WORK/bench.mmdb: $NETWORKS networks, $RECORDS records, seed $SEED"
	perl "$BENCH_DIR/make-bench-mmdb.pl" "$WORK/bench.mmdb" "$NETWORKS" "$SEED" "$RECORDS" 2>"$WORK/mmdb.log" ||
		{ cat "$WORK/mmdb.log" >&2; die "make-bench-mmdb.pl failed"; }
	MMDB_NOTE=$(sed 's/^[^:]*: //' "$WORK/mmdb.log")
fi
echo "  $MMDB_NOTE"
chown -R "$OWNER" "$WORK"

phase "starting a scratch cluster in $WORK, port $PORT"
run initdb -D "$WORK/data" -A trust -U postgres -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 ||
	{ cat "$WORK/initdb.log" >&2; die "initdb failed"; }
# Per-call timings must be single-process and free of JIT; the cluster is
# throwaway, so durability is off to keep the load short.
cat >>"$WORK/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PORT
shared_preload_libraries = 'geoshard'
geoshard.geoip_database = '$WORK/bench.mmdb'
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

phase "loading 20 regions, $NETWORKS networks (ip4r GiST indexes), $IPS clients, misses, private addresses; prewarm"
psql_bench -f "$WORK/routing_setup.sql" -v tsv="$WORK/bench.tsv" -v ips="$IPS" \
	-v peer_ips="$PEER_IPS" -v sample="$SAMPLE" | sed 's/^/  /'

phase "checks: route_region vs the SQL router over $SAMPLE clients; mmdb hits; the SQL router's plan"
psql_bench -f "$WORK/routing_check.sql" | tee "$WORK/check.txt" | sed 's/^/  /'

# Rounds run in one session, so caches stay warm; round 0 is the warm-up.
phase "per-call costs: $ROUNDS interleaved rounds; route_region over $IPS clients, the SQL router over $PEER_IPS"
for round in $(seq 0 "$ROUNDS"); do
	echo "SELECT bench.run_round($round);"
done >"$WORK/rounds.sql"
chown "$OWNER" "$WORK/rounds.sql"
psql_bench -At -f "$WORK/rounds.sql"

phase "report"
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
VERSIONS=$(psql_bench -At -c "SELECT format('PostgreSQL %s; %s', current_setting('server_version'),
	string_agg(extname || ' ' || extversion, ', ' ORDER BY extname))
	FROM pg_extension WHERE extname <> 'plpgsql'")
COMMIT=$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)
LIB_NOTE=
# a reinstall of the same build (same hash) changes nothing measured
if [ "$(lib_id | cut -d, -f1)" != "${LIB_ID%%,*}" ]; then
	LIB_NOTE=" (geoshard.so was replaced during the run, now $(lib_id); every session used the build loaded at server start)"
	echo "geoshard routing bench: note: geoshard.so was replaced during the run" >&2
fi

psql_bench -At -v ips="$IPS" -v peer_ips="$PEER_IPS" -v sample="$SAMPLE" \
	-f "$WORK/routing_report.sql" >"$WORK/report.md"

{
	echo "# geoshard benchmark (routing), $START_TIME"
	echo
	echo "- machine: $(nproc) cores, ${CPU:-unknown CPU}, $MEM RAM, $(uname -sr)"
	echo "- software: $VERSIONS"
	echo "- geoshard.so measured: sha256 $LIB_ID$LIB_NOTE; source tree $COMMIT"
	echo "- data: generated GeoIP2-City-like mmdb, $NETWORKS networks sharing $RECORDS records (seed $SEED; $MMDB_NOTE);" \
		"20 regions; $IPS clients, $PEER_IPS of them for the SQL router, $SAMPLE compared;" \
		"$PEER_IPS misses and $PEER_IPS private addresses; geoshard.geoip_networks empty"
	echo "- settings: jit=off, max_parallel_workers_per_gather=0, shared_buffers=1GB," \
		"enable_bitmapscan=off (the SQL router's fastest plan);" \
		"$ROUNDS rounds after a warm-up, order rotated each round; medians of per-round marginals"
	echo "- run time: $SECONDS s; load average (1, 5, 15 min): $LOAD_START at start," \
		"$(cut -d' ' -f1-3 /proc/loadavg) at the end (the benchmark keeps about one core busy)"
	echo
	cat "$WORK/report.md"
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
if mkdir -p "$RESULTS_DIR" 2>/dev/null && cp "$WORK/result.md" "$RESULTS_DIR/routing-$STAMP.md" 2>/dev/null; then
	echo
	echo "(written to $RESULTS_DIR/routing-$STAMP.md)"
else
	echo "geoshard routing bench: could not write $RESULTS_DIR/routing-$STAMP.md" >&2
fi

identical=$(psql_bench -At -c 'SELECT count(*) > 0 AND bool_and(geoshard IS NOT DISTINCT FROM peer) FROM bench.route_check')
[ "$identical" = t ] || exit 1
