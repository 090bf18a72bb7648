#!/usr/bin/env bash
# shellcheck disable=SC2317  # the checks are functions called through check and poll
# docker/test.sh: the container test.  Builds the images of docker/Dockerfile
# with podman, starts docker/compose.yaml with podman-compose (three geoshard
# nodes and Redis), and checks what the compose file promises: the nodes get
# healthy, they form one Raft group of three voters, a region added on one
# node is read on another, an insert reaches the Redis stream and the Redis
# view, the health workers probe the nodes, a stopped leader is replaced, and
# restarting a container or the whole stack neither bootstraps nor joins
# again.  Then it removes what it created (containers, volumes, network, the
# two images) and keeps the base image and podman's build cache, so that the
# next run on this machine is quicker (docker/README.md#the-test).
#
# Output: TAP ("ok N - ...", "not ok N - ...", "1..N"), progress as "# ...".
# Needs root (podman runs rootful here); installs podman, runc, debootstrap
# and podman-compose when they are missing.  make test runs it through
# test/run-tests.sh, which counts its assertions in the summary line.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PROJECT=geoshard-test
IMAGE=localhost/geoshard-test:latest
REDIS_IMAGE=localhost/geoshard-redis-test:latest
# crun fails on this kind of kernel (cgroup v1): runc, and explicit limits
PODMAN=(podman --runtime runc)
ULIMITS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
COMPOSE=(podman-compose --podman-args "--runtime runc" -p "$PROJECT" -f "$SRC/docker/compose.yaml")
T0=$SECONDS

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
# check "description" command...: one assertion
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
note() { echo "# [$((SECONDS - T0))s] $*"; }
# the end: the plan, and the exit status
finish() {
	echo "1..$n"
	note "$((n - failed)) of $n passed"
	[ "$failed" -eq 0 ]
	exit
}
bail() {
	not_ok "$1"
	show_logs
	finish
}

if [ "$(id -u)" -ne 0 ]; then
	not_ok "runs as root (podman runs rootful here; make test uses sudo when not root)"
	finish
fi

# --- tools --------------------------------------------------------------------
# netavark and aardvark-dns: the compose network, where containers find each other by name
tools=(podman runc debootstrap podman-compose netavark aardvark-dns iptables bc)
missing=()
for p in "${tools[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	note "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
		>"/tmp/$PROJECT-apt.log" 2>&1; then
		tail -n 20 "/tmp/$PROJECT-apt.log" | sed 's/^/# /'
		rm -f "/tmp/$PROJECT-apt.log"
		bail "install ${missing[*]}"
	fi
	rm -f "/tmp/$PROJECT-apt.log"
fi

# --- names and secrets of this run ----------------------------------------------
container() {
	"${PODMAN[@]}" ps -a --format '{{.Names}}' \
		--filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$1" | head -n 1
}
secret() { od -An -tx1 -N12 /dev/urandom | tr -d ' \n'; }
used=()
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		if [ -z "$(ss -Htln "sport = :$p")" ] && ! grep -qw "$p" <<<"${used[*]:-}"; then
			used+=("$p")
			echo "$p"
			return
		fi
	done
}
# ports[N]: node N's psql port on the host
ports=()
for i in 1 2 3; do
	free_port >/dev/null
	ports[i]=${used[-1]}
	free_port >/dev/null
	export "GEOSHARD_PORT_$i=${ports[i]}" "GEOSHARD_METRICS_PORT_$i=${used[-1]}"
done
export GEOSHARD_IMAGE=$IMAGE GEOSHARD_REDIS_IMAGE=$REDIS_IMAGE GEOSHARD_HOST_IP=127.0.0.1
POSTGRES_PASSWORD=$(secret)
GEOSHARD_RAFT_PASSWORD=$(secret)
REDIS_PASSWORD=$(secret)
GEOSHARD_METRICS_PASSWORD=$(secret)
export POSTGRES_PASSWORD GEOSHARD_RAFT_PASSWORD REDIS_PASSWORD GEOSHARD_METRICS_PASSWORD

# sql N "query": on node N through its published port (unaligned, no headers)
sql() {
	PGPASSWORD=$POSTGRES_PASSWORD PGCONNECT_TIMEOUT=5 psql -X -q -A -t -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "${ports[$1]}" -U postgres -d postgres -c "$2" 2>/dev/null
}
# rcli ARGS...: redis-cli inside the redis container, with its own password
rcli() {
	# shellcheck disable=SC2016  # expanded by the container's shell
	"${PODMAN[@]}" exec "$(container redis)" sh -c 'REDISCLI_AUTH=$REDIS_PASSWORD exec redis-cli "$@"' rcli "$@"
}
# poll SECONDS command...: until the command succeeds, at most SECONDS
poll() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.5
	done
}
healthy() { "${PODMAN[@]}" healthcheck run "$(container "$1")" >/dev/null 2>&1; }
all_healthy() { local s; for s in "$@"; do healthy "$s" || return 1; done; }
show_logs() {
	local s c
	for s in node1 node2 node3 redis; do
		c=$(container "$s")
		[ -n "$c" ] || continue
		echo "# --- last lines of $c"
		"${PODMAN[@]}" logs --tail 25 "$c" 2>&1 | sed 's/^/#   /'
	done
}

# Remove what this test creates (also what a run that died left behind).
cleanup() {
	"${COMPOSE[@]}" down -v >/dev/null 2>&1
	"${PODMAN[@]}" ps -a -q --filter "label=com.docker.compose.project=$PROJECT" | xargs -r "${PODMAN[@]}" rm -f >/dev/null 2>&1
	"${PODMAN[@]}" volume ls -q --filter "label=com.docker.compose.project=$PROJECT" | xargs -r "${PODMAN[@]}" volume rm -f >/dev/null 2>&1
	"${PODMAN[@]}" network exists "${PROJECT}_default" && "${PODMAN[@]}" network rm -f "${PROJECT}_default" >/dev/null 2>&1
	# --no-prune: the untagged parent layers stay, as the next build's cache
	"${PODMAN[@]}" rmi --no-prune "$IMAGE" "$REDIS_IMAGE" >/dev/null 2>&1
	return 0
}
cleanup
trap 'cleanup' EXIT

# --- images -------------------------------------------------------------------
if "${PODMAN[@]}" image exists debian:bookworm-slim; then
	ok "base image debian:bookworm-slim kept from an earlier run"
else
	note "building the base image with debootstrap"
	if "$SRC/docker/base-image.sh" --runtime runc | sed 's/^/# /'; then
		ok "base image debian:bookworm-slim built with debootstrap from apt's mirror"
	else
		bail "base image debian:bookworm-slim built with debootstrap"
	fi
fi
out=$("${PODMAN[@]}" run --rm "${ULIMITS[@]}" debian:bookworm-slim sh -c 'ulimit -n' 2>&1)
[ "$out" = 4096 ] || bail "podman runs a container with runc (got: $(tail -n 1 <<<"$out"))"
ok "podman runs a container with runc"

for target in geoshard redis; do
	tag=$IMAGE
	[ "$target" = redis ] && tag=$REDIS_IMAGE
	note "podman build --target $target (the first build on a machine takes a few minutes)"
	# --format docker keeps HEALTHCHECK (the OCI format has none)
	if "${PODMAN[@]}" build --format docker --network host "${ULIMITS[@]}" \
		-f "$SRC/docker/Dockerfile" --target "$target" -t "$tag" "$SRC" >"/tmp/$PROJECT-build.log" 2>&1; then
		ok "docker/Dockerfile builds target $target"
		grep -E '^\[[0-9]+/[0-9]+\] STEP|Using cache' "/tmp/$PROJECT-build.log" | sed 's/^/#   /' | grep -c 'Using cache' |
			xargs -I{} echo "#   ({} steps from the cache)"
	else
		tail -n 40 "/tmp/$PROJECT-build.log" | sed 's/^/# /'
		rm -f "/tmp/$PROJECT-build.log"
		bail "docker/Dockerfile builds target $target"
	fi
	rm -f "/tmp/$PROJECT-build.log"
done

# the runtime stage has the server and geoshard, not the build tool chain
image_is_lean() {
	# shellcheck disable=SC2016  # run by the container's shell
	"${PODMAN[@]}" run --rm "${ULIMITS[@]}" --entrypoint sh "$IMAGE" -c '
		test -x /usr/lib/postgresql/15/bin/postgres &&
		test -f /usr/lib/postgresql/15/lib/geoshard.so &&
		test -f /usr/share/postgresql/15/extension/geoshard.control &&
		! command -v gcc && ! command -v clang-14 && ! command -v make &&
		! dpkg-query -W -f="\${Package}\n" | grep -E -- "-dev$"' >/dev/null 2>&1
}
check "the geoshard image has PostgreSQL 15 and geoshard, and no compiler or -dev package" image_is_lean

# --- the cluster ----------------------------------------------------------------
note "podman-compose up (project $PROJECT, psql on 127.0.0.1 ports ${ports[1]}, ${ports[2]}, ${ports[3]})"
if ! out=$("${COMPOSE[@]}" up -d 2>&1); then
	grep -vi systemd <<<"$out" | tail -n 20 | sed 's/^/# /'
	bail "podman-compose up starts the stack"
fi
ok "podman-compose up starts the stack"

note "waiting for the three nodes to be healthy (at most 240 s)"
for s in redis node1 node2 node3; do
	check "$s is healthy" poll 240 healthy "$s"
done
[ "$failed" -eq 0 ] || { show_logs; finish; }
note "healthy; what the entrypoints did:"
for s in node1 node2 node3; do
	"${PODMAN[@]}" logs "$(container "$s")" 2>&1 | grep '^geoshard-entrypoint:' | sed "s/^/#   $s: /"
done

voters() { [ "$(sql "$1" "SELECT string_agg(id || ':' || name || ':' || role, ' ' ORDER BY id) FROM geoshard.nodes")" = "1:n1:voter 2:n2:voter 3:n3:voter" ]; }
check "the group has three voters, n1 to n3, on node 1" voters 1
check "... and the same on node 2" voters 2
check "... and the same on node 3" voters 3

# leader_of N...: the leader the given nodes all name, once they agree
leader_of() {
	local i out leaders=
	for i in "$@"; do
		out=$(sql "$i" "SELECT leader FROM geoshard.raft_status") || return 1
		[ -n "$out" ] || return 1
		leaders="$leaders $out"
	done
	leaders=$(tr ' ' '\n' <<<"$leaders" | grep . | sort -u)
	[ "$(grep -c . <<<"$leaders")" = 1 ] && grep -qw -- "$leaders" <<<"$*" && echo "$leaders"
}
leader=
agree() { leader=$(leader_of "$@"); }
check "the three nodes agree on one leader" poll 60 agree 1 2 3
cluster_id=$(sql 1 "SELECT cluster_id FROM geoshard.raft_status")
same_cluster() {
	local i
	for i in "$@"; do
		[ "$(sql "$i" "SELECT cluster_id FROM geoshard.raft_status")" = "$cluster_id" ] || return 1
	done
}
check "the three nodes are in the same group ($cluster_id)" same_cluster 1 2 3
note "node $leader leads group $cluster_id"

follower=$(for i in 1 2 3; do [ "$i" = "$leader" ] || echo "$i"; done | head -n 1)
other=$(for i in 1 2 3; do [ "$i" = "$leader" ] || [ "$i" = "$follower" ] || echo "$i"; done)
check "add_region on follower node $follower returns the new region" \
	test "$(sql "$follower" "SELECT (geoshard.add_region('test-region', 47.37, 8.54, name => 'Zurich')).name")" = Zurich
region_on() { [ "$(sql "$1" "SELECT name FROM geoshard.regions WHERE id = 'test-region'")" = Zurich ]; }
check "... and node $other reads it" poll 10 region_on "$other"
check "... and so does the leader, node $leader" poll 10 region_on "$leader"

# every node probes the regions of the compose file: the nodes themselves
closed_everywhere() {
	[ "$(sql "$1" "SELECT count(*) FROM geoshard.region_health WHERE region IN ('eu-central', 'us-east', 'ap-southeast') AND state = 'closed' AND probed AND last_error IS NULL")" = 3 ]
}
check "node 1's health worker probes the three nodes' regions, all closed" poll 30 closed_everywhere 1

# CDC: an insert on node 1 reaches its Redis stream; the geo view has it too
id=$(sql 1 "INSERT INTO places (name, lat, lon) VALUES ('ETH Zurich', 47.3763, 8.5477) RETURNING id")
check "an insert on node 1 returns its id" test -n "$id"
in_stream() { rcli --raw XRANGE geoshard:n1:places - + 2>/dev/null | grep -q '"value":"ETH Zurich"'; }
check "... and reaches the Redis stream geoshard:n1:places (XRANGE)" poll 30 in_stream
in_view() {
	local cmd
	while read -r cmd; do
		# shellcheck disable=SC2086  # a command: its words are the arguments
		rcli $cmd
	done < <(sql 1 "SELECT command FROM geoshard.redis_view_search('places_n1', 47.3763, 8.5477, 200)") |
		grep -qx "$id"
}
check "... and the Redis view places_n1 finds it within 200 m (GEOSEARCH)" poll 30 in_view

# --- failover -------------------------------------------------------------------
old=$leader
mapfile -t survivors < <(for i in 1 2 3; do [ "$i" = "$old" ] || echo "$i"; done)
note "stopping the leader's container, node$old"
stop_node() {
	local c
	c=$(container "node$1")
	"${PODMAN[@]}" stop "$c" >/dev/null 2>&1 &&
		[ "$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$c")" = 0 ]
}
t=$(date +%s.%N)
check "podman stop node$old: a fast shutdown, exit status 0" stop_node "$old"
stopped=$(date +%s.%N)
new_leader() { leader=$(leader_of "${survivors[@]}") && [ "$leader" != "$old" ]; }
if poll 60 new_leader; then
	ok "$(printf 'nodes %s elect a new leader, node %s (%.1f s after podman stop returned, which took %.1f s)' \
		"${survivors[*]}" "$leader" "$(echo "$(date +%s.%N) - $stopped" | bc)" "$(echo "$stopped - $t" | bc)")"
else
	not_ok "nodes ${survivors[*]} elect a new leader within 60 s"
fi
failover_value="set on node ${leader:-0} after node $old stopped"
commit_on_new() {
	[ "$(sql "${leader:-0}" "SELECT geoshard.raft_set_setting('docker.failover', '$failover_value') > 0")" = t ]
}
check "the new leader commits" commit_on_new
open_on_survivor() {
	local region
	region=$(case $old in 1) echo eu-central ;; 2) echo us-east ;; 3) echo ap-southeast ;; esac)
	[ "$(sql "${leader:-0}" "SELECT state FROM geoshard.region_health WHERE region = '$region'")" = open ]
}
check "the new leader's health worker opens the stopped node's breaker" poll 60 open_on_survivor

# --- restarts: nothing bootstraps or joins again ---------------------------------
entrypoint_lines() { "${PODMAN[@]}" logs "$(container "$1")" 2>&1 | grep -cE "geoshard-entrypoint: node [0-9]+ ($2)"; }
note "starting node$old again"
"${PODMAN[@]}" start "$(container "node$old")" >/dev/null 2>&1
check "node$old is healthy again" poll 120 healthy "node$old"
check "... follows the new leader" poll 60 agree 1 2 3
group_intact() { same_cluster 1 2 3 && voters 1 && voters 2 && voters 3; }
check "... in the same group, still three voters" group_intact
check "... and its container bootstrapped and joined only on its first start" \
	test "$(entrypoint_lines "node$old" 'bootstrapped|joined')" = 1
seen=
settings_on() {
	seen=$(sql "$1" "SELECT value || ' (node ' || node || ': ' || role || ', leader ' || coalesce(leader::text, 'none') || ', applied ' || applied_index || ' of ' || commit_index || ')' FROM geoshard.settings, geoshard.raft_status WHERE key = 'docker.failover'")
	[[ "$seen" == "$failover_value ("* ]]
}
if poll 60 settings_on "$old"; then
	ok "... and has caught up with the setting committed while it was down"
else
	not_ok "... and has caught up with the setting committed while it was down (it has: ${seen:-nothing})"
fi

note "restarting the whole stack (podman-compose stop, then start)"
# -t 30: podman-compose 1.0.3 ignores stop_grace_period (docker/README.md)
"${COMPOSE[@]}" stop -t 30 >/dev/null 2>&1
"${COMPOSE[@]}" start >/dev/null 2>&1
check "after a stack restart all four containers are healthy" poll 240 all_healthy redis node1 node2 node3
check "... the nodes agree on a leader" poll 60 agree 1 2 3
check "... in the same group, still three voters" group_intact
total=0
for s in node1 node2 node3; do
	total=$((total + $(entrypoint_lines "$s" 'bootstrapped|joined')))
done
check "... and over every start, one bootstrap or join per node (3 in all, $total found)" test "$total" = 3
check "... and node 1 kept its data" test "$(sql 1 "SELECT name FROM places WHERE id = ${id:-0}")" = "ETH Zurich"

[ "$failed" -eq 0 ] || show_logs

# --- cleanup --------------------------------------------------------------------
note "removing the containers, volumes, network and images of the test (the base image and build cache stay)"
trap - EXIT
cleanup
left=$("${PODMAN[@]}" ps -a -q --filter "label=com.docker.compose.project=$PROJECT")
left+=$("${PODMAN[@]}" volume ls -q --filter "label=com.docker.compose.project=$PROJECT")
"${PODMAN[@]}" network exists "${PROJECT}_default" && left+=" network"
"${PODMAN[@]}" image exists "$IMAGE" && left+=" $IMAGE"
"${PODMAN[@]}" image exists "$REDIS_IMAGE" && left+=" $REDIS_IMAGE"
check "cleanup leaves no container, volume, network or image of the test" test -z "$left"
finish
