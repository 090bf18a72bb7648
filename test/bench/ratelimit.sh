#!/usr/bin/env bash
# test/bench/ratelimit.sh: the rate limiting benchmark (make bench-ratelimit).
# rate_limit() against two peers, in one run on one machine:
#   - a PL/pgSQL token bucket, one upsert per decision on an unlogged table
#     (test/bench/ratelimit_setup.sql);
#   - a Redis GCRA Lua script (test/bench/ratelimit_gcra.lua) called with
#     EVALSHA by redis-benchmark over loopback TCP, one round trip per
#     decision (no pipelining);
# and prints a Markdown summary against the goal: at most 300 ns per call.
#
#   - ns per call: SELECT count(*) FILTER (WHERE rate_limit(...)) over
#     generate_series, minus the same loop without the call (the empty loop
#     computes the same key), median of the rounds' marginals; one key, and
#     10000 keys; the PL/pgSQL bucket over 10000 keys on fewer rows;
#   - decisions per second at 1, 2 and 8 clients, each client one decision
#     per round trip: pgbench -M prepared (SELECT 1 as the floor every SQL
#     limiter shares), redis-benchmark for Redis; one hot key (100/s, burst
#     10: mostly refused) and 10000 random keys (mostly allowed); median of
#     the rounds.
# The summary also goes to test/bench/results/ratelimit-<date>.md (gitignored).
#
# Usage: test/bench/ratelimit.sh
# geoshard must already be installed (make install), with pgbench,
# redis-server and redis-tools (redis-cli, redis-benchmark).  Servers refuse
# to run as root, so when started by root everything runs as postgres.
# Knobs (environment): BENCH_RL_ROWS (1000000, rows of the per-call loops;
# the PL/pgSQL one runs a tenth), BENCH_RL_SECONDS (5, per pgbench run),
# BENCH_RL_REQUESTS (100000, per redis-benchmark run), BENCH_RL_ROUNDS (3),
# BENCH_KEEP=1 keeps the scratch directory.
#
# Exit status: 0 when the run completed (a goal that is not met is reported,
# not a failure); 2 on a setup or run error.
set -Eeuo pipefail
trap 'echo "geoshard ratelimit bench: failed at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_DIR="$SRC/test/bench"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
ROWS=${BENCH_RL_ROWS:-1000000}
RUN_SECONDS=${BENCH_RL_SECONDS:-5}
REQUESTS=${BENCH_RL_REQUESTS:-100000}
ROUNDS=${BENCH_RL_ROUNDS:-3}
CLIENTS="1 2 8"

die() {
	echo "geoshard ratelimit bench: $*" >&2
	exit 2
}

for knob in ROWS RUN_SECONDS REQUESTS ROUNDS; do
	[[ ${!knob} =~ ^[1-9][0-9]*$ ]] || die "$knob must be a positive integer, not \"${!knob}\""
done

[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found; install postgresql-server-dev-15 (make deps)"
PGBIN=$("$PG_CONFIG" --bindir)
[ -f "$("$PG_CONFIG" --pkglibdir)/geoshard.so" ] || die "geoshard is not installed; run make install"
for bin in initdb pg_ctl psql pgbench; do
	[ -x "$PGBIN/$bin" ] || die "$PGBIN/$bin not found; install postgresql-15"
done
for bin in redis-server redis-cli redis-benchmark; do
	command -v "$bin" >/dev/null || die "$bin not found; apt-get install redis-server redis-tools"
done

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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-bench-ratelimit.XXXXXX")
STARTED=
REDIS_PID=
cleanup() {
	local status=$?
	[ -z "$REDIS_PID" ] || kill "$REDIS_PID" 2>/dev/null || true
	[ -z "$STARTED" ] || run pg_ctl -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 || true
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

cp "$BENCH_DIR/ratelimit_setup.sql" "$BENCH_DIR/ratelimit_gcra.lua" "$WORK/"
chown -R "$OWNER" "$WORK"
# runuser keeps the working directory, which postgres may not be able to read
cd "$WORK"

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && [ ! -e "/tmp/.s.PGSQL.$p" ] &&
			[ ! -e "/var/run/postgresql/.s.PGSQL.$p" ]; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}
PORT=$(free_port)
RPORT=$(free_port)

START_TIME=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
STAMP=$(date -u '+%Y%m%d-%H%M%S')

echo "== scratch cluster in $WORK (port $PORT), redis-server on 127.0.0.1:$RPORT" >&2
run initdb -D "$WORK/data" -A trust -U postgres -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 ||
	{ cat "$WORK/initdb.log" >&2; die "initdb failed"; }
# Per-call loops must be single-process and free of JIT.  The clients use
# the Unix socket, as an application server beside the database would.
cat >>"$WORK/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PORT
shared_preload_libraries = 'geoshard'
geoshard.health_enabled = off
jit = off
max_parallel_workers_per_gather = 0
autovacuum = off
fsync = off
max_connections = 40
EOF
run pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
STARTED=1
run psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d postgres -c 'CREATE DATABASE bench'
run psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d bench -f "$WORK/ratelimit_setup.sql"

run redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
	--logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 1 100); do
	run redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && break
	sleep 0.1
done
SHA=$(run redis-cli -p "$RPORT" SCRIPT LOAD "$(cat "$WORK/ratelimit_gcra.lua")")
[[ $SHA =~ ^[0-9a-f]{40}$ ]] || die "SCRIPT LOAD answered \"$SHA\""

median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Milliseconds each statement of a psql script took, one line each.
timings() {
	run psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d bench -o /dev/null -c '\timing on' -f "$1" |
		sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}

# 1. ns per call -------------------------------------------------------------
PL_ROWS=$((ROWS / 10))
cat >"$WORK/percall.sql" <<EOF
SELECT count(*) FILTER (WHERE g >= 0) FROM generate_series(1, $ROWS) g;
SELECT count(*) FILTER (WHERE rate_limit('bench', 1e9, 100000000)) FROM generate_series(1, $ROWS) g;
SELECT count(*) FILTER (WHERE ('k' || (g % 10000)) IS NOT NULL) FROM generate_series(1, $ROWS) g;
SELECT count(*) FILTER (WHERE rate_limit('k' || (g % 10000), 1e9, 100000000)) FROM generate_series(1, $ROWS) g;
SELECT count(*) FILTER (WHERE ('k' || (g % 10000)) IS NOT NULL) FROM generate_series(1, $PL_ROWS) g;
SELECT count(*) FILTER (WHERE plpgsql_rate_limit('k' || (g % 10000), 1e9, 100000000)) FROM generate_series(1, $PL_ROWS) g;
EOF
echo "== ns per call: $ROUNDS rounds of $ROWS rows (PL/pgSQL: $PL_ROWS)" >&2
: >"$WORK/percall.tsv"
for r in $(seq 1 "$ROUNDS"); do
	mapfile -t t < <(timings "$WORK/percall.sql")
	[ "${#t[@]}" -eq 6 ] || die "expected 6 timings from percall.sql, got ${#t[@]}"
	awk -v rows="$ROWS" -v pl="$PL_ROWS" -v a="${t[0]}" -v b="${t[1]}" -v c="${t[2]}" -v d="${t[3]}" \
		-v e="${t[4]}" -v f="${t[5]}" 'BEGIN {
		printf "%.1f\t%.1f\t%.1f\t%.1f\n", a * 1e6 / rows, (b - a) * 1e6 / rows, (d - c) * 1e6 / rows, (f - e) * 1e6 / pl
	}' >>"$WORK/percall.tsv"
done
LOOP_NS=$(cut -f1 "$WORK/percall.tsv" | median)
ONE_NS=$(cut -f2 "$WORK/percall.tsv" | median)
MANY_NS=$(cut -f3 "$WORK/percall.tsv" | median)
PL_NS=$(cut -f4 "$WORK/percall.tsv" | median)

# 2. decisions per second ----------------------------------------------------
cat >"$WORK/select1.pgbench" <<'EOF'
SELECT 1;
EOF
cat >"$WORK/geo_hot.pgbench" <<'EOF'
SELECT rate_limit('hot', 100, 10);
EOF
cat >"$WORK/geo_many.pgbench" <<'EOF'
\set k random(1, 10000)
SELECT rate_limit('user:' || :k, 100, 10);
EOF
cat >"$WORK/pl_hot.pgbench" <<'EOF'
SELECT plpgsql_rate_limit('hot', 100, 10);
EOF
cat >"$WORK/pl_many.pgbench" <<'EOF'
\set k random(1, 10000)
SELECT plpgsql_rate_limit('user:' || :k, 100, 10);
EOF
chown "$OWNER" "$WORK"/*.pgbench

pgbench_tps() {
	local script=$1 clients=$2 jobs
	jobs=$((clients < 2 ? clients : 2))
	run pgbench -n -M prepared -h "$WORK" -p "$PORT" -c "$clients" -j "$jobs" -T "$RUN_SECONDS" \
		-f "$WORK/$script.pgbench" bench 2>&1 |
		sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p'
}

redis_rps() {
	local key=$1 clients=$2
	run redis-benchmark -h 127.0.0.1 -p "$RPORT" -c "$clients" -n "$REQUESTS" -r 10000 --csv \
		EVALSHA "$SHA" 1 "$key" 100 10 1 | awk -F'"' 'NR == 2 { print $4 }'
}

echo "== decisions per second: $ROUNDS rounds, pgbench ${RUN_SECONDS} s, redis-benchmark $REQUESTS requests" >&2
declare -A TPS
for r in $(seq 1 "$ROUNDS"); do
	for c in $CLIENTS; do
		for s in select1 geo_hot geo_many pl_hot pl_many; do
			v=$(pgbench_tps "$s" "$c")
			[ -n "$v" ] || die "pgbench $s -c $c gave no tps"
			TPS[$s,$c]+="$v "
		done
		v=$(redis_rps hot "$c"); [ -n "$v" ] || die "redis-benchmark gave no rate"
		TPS[redis_hot,$c]+="$v "
		v=$(redis_rps 'user:__rand_int__' "$c"); [ -n "$v" ] || die "redis-benchmark gave no rate"
		TPS[redis_many,$c]+="$v "
	done
	echo "   round $r done" >&2
done
med() {
	tr ' ' '\n' <<<"${TPS[$1,$2]}" | grep . | median
}

# 3. summary -----------------------------------------------------------------
out="$SRC/test/bench/results/ratelimit-$STAMP.md"
mkdir -p "$(dirname "$out")"
{
	echo "### Run of $START_TIME (\`make bench-ratelimit\`, tree $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown))"
	echo
	echo "$(nproc) cores, $(redis-server --version | awk '{ print $1, $3 }'), PostgreSQL $(run psql -X -At -h "$WORK" -p "$PORT" -d bench -c 'SHOW server_version')."
	echo
	echo "#### ns per call (median of $ROUNDS rounds; marginal = loop with the call minus the same loop without it)"
	echo
	echo "| call | ns per call | goal |"
	echo "|---|---:|---|"
	echo "| empty loop (count over generate_series, $ROWS rows) | $LOOP_NS | |"
	echo "| rate_limit, one key | $ONE_NS | $(awk -v v="$ONE_NS" 'BEGIN { print (v <= 300 ? "met (<= 300)" : "NOT met (<= 300)") }') |"
	echo "| rate_limit, 10000 keys | $MANY_NS | $(awk -v v="$MANY_NS" 'BEGIN { print (v <= 300 ? "met (<= 300)" : "NOT met (<= 300)") }') |"
	echo "| PL/pgSQL token bucket, 10000 keys ($PL_ROWS rows) | $PL_NS | |"
	echo "| ratio PL/pgSQL / rate_limit (10000 keys) | $(awk -v a="$PL_NS" -v b="$MANY_NS" 'BEGIN { printf "%.0fx", a / b }') | |"
	echo
	echo "#### Decisions per second (median of $ROUNDS rounds; one decision per client round trip)"
	echo
	echo "| limiter | key(s) | 1 client | 2 clients | 8 clients |"
	echo "|---|---|---:|---:|---:|"
	row() {
		printf '| %s | %s |' "$1" "$2"
		for c in $CLIENTS; do printf ' %.0f |' "$(med "$3" "$c")"; done
		echo
	}
	row "SELECT 1 (pgbench floor)" "-" select1
	row "rate_limit" "one hot key" geo_hot
	row "rate_limit" "10000 keys" geo_many
	row "PL/pgSQL token bucket" "one hot key" pl_hot
	row "PL/pgSQL token bucket" "10000 keys" pl_many
	row "Redis GCRA (EVALSHA)" "one hot key" redis_hot
	row "Redis GCRA (EVALSHA)" "10000 keys" redis_many
	echo
	echo "#### Ratios at 8 clients, 10000 keys"
	echo
	awk -v g="$(med geo_many 8)" -v p="$(med pl_many 8)" -v r="$(med redis_many 8)" -v s="$(med select1 8)" 'BEGIN {
		printf "- rate_limit / PL/pgSQL bucket: %.2fx\n", g / p
		printf "- rate_limit / Redis EVALSHA: %.2fx\n", g / r
		printf "- rate_limit / SELECT 1: %.2f (near 1: the round trip, not the decision, sets the rate)\n", g / s
	}'
} | tee "$out"
