#!/usr/bin/env bash
# test/install-deps.sh: install the Debian packages geoshard builds, tests and
# benchmarks with, when they are missing.  Idempotent; prints what it installs.
#
# Usage: test/install-deps.sh [--build | --runtime]
# Without an argument: everything make test, make demo and the benchmarks use.
# --build: only what building geoshard needs; --runtime: only what a server
# running it needs (docker/Dockerfile's build and runtime stages).
set -euo pipefail

packages=(
	postgresql-15 postgresql-server-dev-15 postgresql-client-15
	clang-14 llvm-14 make gcc libc6-dev
	libipc-run-perl
	# GeoIP: the library geoip_lookup links with, and the writer tests build .mmdb files with
	libmaxminddb-dev libmaxmind-db-writer-perl
	# health worker: HTTP probes (libcurl) and postgres:// probes (libpq); pkg-config finds libpq-fe.h
	libcurl4-openssl-dev libpq-dev pkg-config
	# peers for cross-checks and benchmarks (PostGIS stays optional at run time)
	postgresql-15-postgis-3 postgresql-15-q3c postgresql-15-ip4r
	# the health benchmark's peer
	haproxy bc
	# the cdc decoding benchmark's peer (format 2)
	postgresql-15-wal2json
	# the ratelimit benchmark's peer: a GCRA Lua script, driven by redis-benchmark
	redis-server redis-tools
	# cdc publisher: the Redis client library (redis-server above serves its tests, demo and benchmark)
	libhiredis-dev
	# observe: the metrics worker's HTTP server, the Prometheus that scrapes it (030),
	# the browser that loads the status page (031); curl for make demo
	libmicrohttpd-dev prometheus chromium curl
	# raft: the partition test (038) puts nodes in network namespaces of its own
	# (ip netns, veth pairs, a bridge) inside an unprivileged user namespace (unshare)
	iproute2 util-linux
	# the raft benchmark's peer (a three-member etcd 3.4 cluster) and its Python clients
	etcd-server python3-etcd3 python3-psycopg2
)

# The raft area links with libraft 0.22 (cowsql/raft) from bookworm-backports:
# the main suite's 0.15 has a safety bug fixed in 0.17.1 (canonical/raft #220).
RAFT_PACKAGE=libraft-dev
RAFT_SUITE=bookworm-backports
RAFT_MIN_VERSION=0.17.1
BACKPORTS_SOURCES=/etc/apt/sources.list.d/geoshard-bookworm-backports.sources

# apt_source: "URI KEYRING" of a Debian suite as apt knows it here
. "$(dirname "$0")/apt-sources.sh"

# Is the backports suite already among apt's sources (ours or the admin's)?
backports_configured() {
	grep -qsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
}

# Add bookworm-backports with the main suite's URI and keyring; idempotent.
add_backports_suite() {
	local uri keyring
	backports_configured && return 1
	read -r uri keyring < <(apt_source bookworm | head -n 1) || true
	if [ -z "${uri:-}" ]; then
		echo "geoshard: found no Debian bookworm main suite among apt's sources; add $RAFT_SUITE by hand" >&2
		exit 1
	fi
	echo "geoshard: adding the $RAFT_SUITE suite from $uri to apt's sources ($BACKPORTS_SOURCES)"
	{
		echo "# added by geoshard's test/install-deps.sh: libraft-dev >= $RAFT_MIN_VERSION"
		echo "Types: deb"
		echo "URIs: $uri"
		echo "Suites: $RAFT_SUITE"
		echo "Components: main"
		[ "$keyring" != "-" ] && echo "Signed-By: $keyring"
	} > "$BACKPORTS_SOURCES"
	return 0
}

# Is libraft-dev installed at RAFT_MIN_VERSION or later?
raft_ok() {
	local v
	v=$(dpkg-query -W -f='${Status} ${Version}' "$RAFT_PACKAGE" 2>/dev/null) || return 1
	case "$v" in "install ok installed "*) ;; *) return 1 ;; esac
	dpkg --compare-versions "${v##* }" ge "$RAFT_MIN_VERSION"
}

install_raft() {
	raft_ok && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "geoshard: installing $RAFT_PACKAGE needs root; run through sudo" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	add_backports_suite || true
	apt-get update -q
	echo "geoshard: installing $RAFT_PACKAGE from $RAFT_SUITE"
	apt-get install -y -q --no-install-recommends -t "$RAFT_SUITE" "$RAFT_PACKAGE"
	if ! raft_ok; then
		echo "geoshard: $RAFT_PACKAGE $(dpkg-query -W -f='${Version}' "$RAFT_PACKAGE" 2>/dev/null) is installed, but geoshard needs $RAFT_MIN_VERSION or later" >&2
		exit 1
	fi
}

# docker/Dockerfile: its build stage compiles, its runtime stage only runs geoshard
case "${1:-}" in
	"") ;;
	--build)
		packages=(postgresql-server-dev-15 clang-14 llvm-14 make gcc libc6-dev pkg-config
			libmaxminddb-dev libcurl4-openssl-dev libpq-dev libhiredis-dev libmicrohttpd-dev)
		;;
	--runtime)
		# the server and the libraries geoshard.so links with (ca-certificates: https probes)
		packages=(postgresql-15 libmaxminddb0 libcurl4 libpq5 libhiredis0.14 libmicrohttpd12
			ca-certificates)
		RAFT_PACKAGE=libraft0
		;;
	*)
		echo "usage: $0 [--build | --runtime]" >&2
		exit 2
		;;
esac

install_raft

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "geoshard: build and test dependencies already installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "geoshard: installing packages needs root; run through sudo" >&2
	exit 1
fi

echo "geoshard: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
