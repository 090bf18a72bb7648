#!/usr/bin/env bash
# test/install-deps.sh: install the Debian packages geoshard builds, tests and
# benchmarks with, when they are missing.  Idempotent; prints what it installs.
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
	# observe: the metrics worker's HTTP server, the Prometheus that scrapes it (030),
	# the browser that loads the status page (031); curl for make demo
	libmicrohttpd-dev prometheus chromium curl
)

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
