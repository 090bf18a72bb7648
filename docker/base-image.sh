#!/usr/bin/env bash
# docker/base-image.sh: build the image debian:bookworm-slim locally with
# debootstrap, for machines that cannot pull from a registry (the container
# test runs it; docker/README.md).  Does nothing when the image exists.
#
# The Debian mirror is the one apt already uses on this machine, read from its
# sources (deb822 .sources files, then one-line .list files); the image gets
# the suites the official image has (bookworm, bookworm-updates,
# bookworm-security), each from the URI this machine uses for it.
#
# Usage (as root): docker/base-image.sh [podman global options...]
set -euo pipefail

IMAGE=debian:bookworm-slim
PODMAN=(podman "$@")

if "${PODMAN[@]}" image exists "$IMAGE"; then
	echo "geoshard: base image $IMAGE exists; kept"
	exit 0
fi

# apt_source: "URI KEYRING" of a Debian suite as apt knows it here
. "$(dirname "$0")/../test/apt-sources.sh"
apt_uri() {
	apt_source "$1" | head -n 1 | cut -d' ' -f1
}

mirror=$(apt_uri bookworm | head -n 1)
if [ -z "$mirror" ]; then
	echo "geoshard: apt's sources name no Debian bookworm main suite; cannot debootstrap" >&2
	exit 1
fi
security=$(apt_uri bookworm-security | head -n 1)

command -v debootstrap >/dev/null || { echo "geoshard: debootstrap is missing" >&2; exit 1; }

root=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-bookworm.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "geoshard: debootstrap --variant=minbase bookworm from $mirror (a few minutes)"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
	tail -n 30 "$root.log" >&2
	rm -f "$root.log"
	exit 1
}
rm -f "$root.log"

# The official image's apt sources: one deb822 file, the same three suites.
rm -f "$root/etc/apt/sources.list"
{
	echo "Types: deb"
	echo "URIs: $mirror"
	echo "Suites: bookworm bookworm-updates"
	echo "Components: main"
	echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	if [ -n "$security" ]; then
		echo
		echo "Types: deb"
		echo "URIs: $security"
		echo "Suites: bookworm-security"
		echo "Components: main"
		echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	fi
} >"$root/etc/apt/sources.list.d/debian.sources"
# like the official slim image: no apt caches, no documentation
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*

tar -C "$root" -c . | "${PODMAN[@]}" import --quiet --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "geoshard: base image $IMAGE imported ($("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE") bytes)"
