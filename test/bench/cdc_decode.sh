#!/usr/bin/env bash
# test/bench/cdc_decode.sh: the CDC decoding benchmark (make bench-cdc): the
# time to decode 200k single-row transactions with pg_recvlogical --endpos,
# and the bytes written per row, for slots of test_decoding, wal2json
# (format 2, its defaults, and with the fields geoshard sends by default:
# include-xids, include-timestamp, include-lsn, include-pk) and geoshard (its
# defaults, with begin/commit records like the peers, and without xid and
# commit time), in one run.  Every trial decodes the same WAL from a fresh slot of each
# plugin, in an order rotated trial by trial; figures are medians over
# trials.  The summary also goes to test/bench/results/cdc_decode-<date>.md
# (gitignored).
#
# Usage: test/bench/cdc_decode.sh
# geoshard must already be installed (make install), with wal2json
# (postgresql-15-wal2json).  Servers refuse to run as root, so when started
# by root everything runs as postgres.  Knobs (environment):
# BENCH_CDC_ROWS (200000), BENCH_CDC_TRIALS (5), BENCH_KEEP=1 keeps the
# scratch directory.
set -Eeuo pipefail
trap 'echo "geoshard cdc bench: failed at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
LIBDIR=$("$PG_CONFIG" --pkglibdir)
ROWS=${BENCH_CDC_ROWS:-200000}
TRIALS=${BENCH_CDC_TRIALS:-5}
[ -f "$LIBDIR/geoshard.so" ] || { echo "geoshard cdc bench: geoshard is not installed; run make install" >&2; exit 2; }
[ -f "$LIBDIR/wal2json.so" ] ||
	{ echo "geoshard cdc bench: wal2json not found (apt-get install postgresql-15-wal2json)" >&2; exit 2; }

if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-bench-cdc.XXXXXX")
chown "$OWNER" "$WORK"
cleanup() {
	"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

run() { "${RUNAS[@]}" env PATH="$PGBIN:$PATH" "$@"; }
PORT=$((20000 + RANDOM % 20000))
run initdb -D "$WORK/data" -A trust >/dev/null
cat >>"$WORK/data/postgresql.conf" <<EOF
port = $PORT
unix_socket_directories = '$WORK'
listen_addresses = ''
shared_preload_libraries = 'geoshard'
geoshard.health_enabled = off
wal_level = logical
max_replication_slots = 64
max_wal_senders = 8
output_plugin_libraries = 'pgoutput, test_decoding, geoshard, wal2json'
fsync = off
synchronous_commit = off
jit = off
EOF
run pg_ctl -D "$WORK/data" -l "$WORK/log" -w start >/dev/null
PSQL=(psql -X -q -At -h "$WORK" -p "$PORT" -d postgres -v ON_ERROR_STOP=1)

# the peers, as name|plugin|options
PEERS=(
	"test_decoding|test_decoding|"
	"wal2json|wal2json|format-version=2"
	"wal2json_full|wal2json|format-version=2 include-xids=true include-timestamp=true include-lsn=true include-pk=true"
	"geoshard|geoshard|"
	"geoshard_bc|geoshard|include-begin-commit=on"
	"geoshard_min|geoshard|include-xids=off include-timestamp=off"
)

run "${PSQL[@]}" <<'EOF'
CREATE EXTENSION geoshard;
CREATE TABLE pins (id bigint PRIMARY KEY, lat float8, lon float8, note text, created timestamptz);
CREATE PROCEDURE load(n int) LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..n LOOP
		INSERT INTO pins VALUES (i, 47.6 + i * 1e-6, -122.3 - i * 1e-6, 'pin ' || i, now());
		COMMIT;
	END LOOP;
END $$;
EOF
for t in $(seq 1 "$TRIALS"); do
	for peer in "${PEERS[@]}"; do
		IFS='|' read -r name plugin _ <<<"$peer"
		run "${PSQL[@]}" -c "SELECT 'x' FROM pg_create_logical_replication_slot('${name}_$t', '$plugin')" >/dev/null
	done
done
run "${PSQL[@]}" -c "CALL load($ROWS)"
END=$(run "${PSQL[@]}" -c "SELECT pg_current_wal_lsn()")

declare -A TIMES BYTES
for t in $(seq 1 "$TRIALS"); do
	n=${#PEERS[@]}
	for k in $(seq 0 $((n - 1))); do
		IFS='|' read -r name plugin options <<<"${PEERS[$(((k + t) % n))]}"
		opts=()
		for o in $options; do opts+=(-o "$o"); done
		start=$(date +%s.%N)
		bytes=$(run pg_recvlogical -h "$WORK" -p "$PORT" -d postgres -S "${name}_$t" --start \
			--endpos="$END" --no-loop -f - "${opts[@]}" | wc -c)
		end=$(date +%s.%N)
		TIMES[$name]+="$(echo "$end - $start" | bc) "
		BYTES[$name]=$bytes
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

mkdir -p "$SRC/test/bench/results"
out="$SRC/test/bench/results/cdc_decode-$(date +%Y%m%d-%H%M%S).md"
{
	echo "CDC decoding: $ROWS single-row transactions, $TRIALS trials, pg_recvlogical --endpos (tree $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC'))"
	echo
	echo "| plugin | options | median s | range s | bytes/row | time vs test_decoding |"
	echo "|---|---|---|---|---|---|"
	base=$(echo "${TIMES[test_decoding]}" | median)
	for peer in "${PEERS[@]}"; do
		IFS='|' read -r name plugin options <<<"$peer"
		med=$(echo "${TIMES[$name]}" | median)
		lo=$(echo "${TIMES[$name]}" | tr ' ' '\n' | grep . | sort -g | head -1)
		hi=$(echo "${TIMES[$name]}" | tr ' ' '\n' | grep . | sort -g | tail -1)
		printf '| %s | %s | %.2f | %.2f-%.2f | %.1f | %.2fx |\n' "$plugin" "${options:-defaults}" "$med" "$lo" "$hi" \
			"$(echo "${BYTES[$name]} / $ROWS" | bc -l)" "$(echo "$med / $base" | bc -l)"
	done
} | tee "$out"
