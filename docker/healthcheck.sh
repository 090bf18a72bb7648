#!/usr/bin/env bash
# docker/healthcheck.sh: the geoshard image's HEALTHCHECK.  Healthy when the
# server accepts connections, geoshard is preloaded, and, on a member of a
# raft group (GEOSHARD_BOOTSTRAP=on or GEOSHARD_PEERS set), the node is in
# the group and knows its leader.
set -eu

DB=${GEOSHARD_DATABASE:-postgres}
if [ "$(id -u)" -eq 0 ]; then
	exec setpriv --reuid=postgres --regid=postgres --init-groups env HOME=/var/lib/postgresql "$0" "$@"
fi
pg_isready -q -h /var/run/postgresql -d "$DB"
if [ "${GEOSHARD_BOOTSTRAP:-off}" = on ] || [ -n "${GEOSHARD_PEERS:-}" ]; then
	query="SELECT geoshard.is_preloaded() AND leader IS NOT NULL FROM geoshard.raft_status"
else
	query="SELECT geoshard.is_preloaded()"
fi
[ "$(psql -X -A -t -h /var/run/postgresql -d "$DB" -c "$query" 2>/dev/null)" = t ]
