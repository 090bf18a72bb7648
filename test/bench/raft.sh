#!/usr/bin/env bash
# test/bench/raft.sh: the raft benchmark (make bench-raft): commit latency of
# one proposal at a time on a three-node group beside a single node's
# synchronous commit, a three-member etcd cluster, and two floors that any
# majority commit over this machine's disk and over libpq pays (the disk's: a
# plain upsert on three nodes until two returned; the transport's: a plain
# upsert relayed by one node to the two others); leader stopped -> first
# write accepted by the new leader, beside etcd at the same heartbeat and
# election timeout; throughput with 1, 16 and 64 concurrent proposers.  The
# method is in test/bench/raft.py; the summary also goes to
# test/bench/results/raft-<date>.md (gitignored).
#
# Usage: test/bench/raft.sh
# geoshard must already be installed (make install), with etcd-server,
# python3-etcd3 and python3-psycopg2 (test/install-deps.sh).  Servers refuse
# to run as root, so when started by root everything runs as postgres.
# Knobs (environment): BENCH_RAFT_OPS (2000 calls per system),
# BENCH_RAFT_TRIALS (50 failovers per system), BENCH_RAFT_SECONDS (10 per
# throughput run), BENCH_RAFT_PGPORT (55530: ports +1..+3 and +9),
# BENCH_RAFT_ETCDPORT (23790: ports +1..+3 and +11..+13),
# BENCH_RAFT_HEARTBEAT_MS and BENCH_RAFT_ELECTION_MS (30 and 150, geoshard's
# defaults; both systems get them), BENCH_KEEP=1 keeps the scratch directory.
set -Eeuo pipefail
trap 'echo "geoshard raft bench: failed at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
command -v etcd >/dev/null || { echo "geoshard raft bench: etcd not found (apt-get install etcd-server)" >&2; exit 2; }
/usr/bin/python3 -c 'import etcd3, psycopg2' 2>/dev/null ||
	{ echo "geoshard raft bench: python3-etcd3 and python3-psycopg2 are needed (test/install-deps.sh)" >&2; exit 2; }
[ -f "$("$PG_CONFIG" --pkglibdir)/geoshard.so" ] || { echo "geoshard raft bench: geoshard is not installed; run make install" >&2; exit 2; }

if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-bench-raft.XXXXXX")
chown "$OWNER" "$WORK"
cleanup() {
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$SRC/test/bench/results"
out="$SRC/test/bench/results/raft-$(date +%Y%m%d-%H%M%S).md"
# raft.py stops every server it started, also when it fails
cd "$WORK"
"${RUNAS[@]}" env PGBIN="$PGBIN" WORK="$WORK" \
	BENCH_RAFT_OPS="${BENCH_RAFT_OPS:-2000}" BENCH_RAFT_TRIALS="${BENCH_RAFT_TRIALS:-50}" \
	BENCH_RAFT_SECONDS="${BENCH_RAFT_SECONDS:-10}" BENCH_RAFT_PGPORT="${BENCH_RAFT_PGPORT:-55530}" \
	BENCH_RAFT_ETCDPORT="${BENCH_RAFT_ETCDPORT:-23790}" \
	BENCH_RAFT_HEARTBEAT_MS="${BENCH_RAFT_HEARTBEAT_MS:-30}" BENCH_RAFT_ELECTION_MS="${BENCH_RAFT_ELECTION_MS:-150}" \
	/usr/bin/python3 "$SRC/test/bench/raft.py" | tee "$out"
