#!/usr/bin/env bash
# docker/redis-entrypoint.sh: the Redis of the compose file (the Dockerfile's
# redis target).  Runs redis-server in the foreground; with REDIS_PASSWORD set,
# clients must authenticate with it.  The password goes to redis-server on its
# standard input, so that it never appears in a command line.  Nothing is
# saved to disk: Redis holds what geoshard derives from PostgreSQL (CDC
# streams, Redis views), and geoshard refills the views after a restart.
#
# "geoshard-redis-entrypoint healthcheck" is the image's HEALTHCHECK.
set -euo pipefail

if [ "${1:-}" = healthcheck ]; then
	[ "$(REDISCLI_AUTH=${REDIS_PASSWORD:-} redis-cli -h 127.0.0.1 -p 6379 PING 2>/dev/null)" = PONG ]
	exit
fi

config=$(
	echo "port 6379"
	echo "bind * -::*"
	echo "protected-mode no"
	echo 'save ""'
	echo "appendonly no"
	if [ -n "${REDIS_PASSWORD:-}" ]; then
		printf 'requirepass "%s"\n' "$(printf '%s' "$REDIS_PASSWORD" | sed 's/[\\"]/\\&/g')"
	fi
)
exec redis-server - "$@" <<<"$config"
