#!/usr/bin/env bash
# test/upgrade/build-release.sh: build a released geoshard from the commit
# test/upgrade/releases names for it, into a private PostgreSQL installation,
# and print that installation's directory (the one holding bin/ and lib/).
#
# Usage: test/upgrade/build-release.sh VERSION DEST
#
# The release's library is built from its own tree, so data written by it is
# data a user of that release has on disk.  Fails if the release's install
# script, as its tree builds it, differs from the frozen geoshard--VERSION.sql
# of this tree: a released script is never edited.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
VERSION=${1:?usage: build-release.sh VERSION DEST}
DEST=${2:?usage: build-release.sh VERSION DEST}

commit=$(awk -v v="$VERSION" '$1 == v { print $2 }' "$SRC/test/upgrade/releases")
if [ -z "$commit" ]; then
	echo "build-release.sh: release $VERSION is not listed in test/upgrade/releases" >&2
	exit 1
fi
# git refuses repositories owned by another user unless told they are safe
git_src=(git -c safe.directory="$SRC" -C "$SRC")
if ! "${git_src[@]}" cat-file -e "$commit^{commit}" 2>/dev/null; then
	echo "build-release.sh: commit $commit of release $VERSION is not in $SRC (a shallow clone?); the upgrade test builds each release from its commit" >&2
	exit 1
fi

mkdir -p "$DEST/src"
pg_config=$("$SRC/test/private-pg.sh" "$DEST/pg")
"${git_src[@]}" archive "$commit" | tar -x -C "$DEST/src"
# no LLVM bitcode: the server of the test runs with jit = off
make -s -C "$DEST/src" PG_CONFIG="$pg_config" with_llvm=no all install >"$DEST/build.log" 2>&1 ||
	{ cat "$DEST/build.log" >&2; exit 1; }

if ! cmp -s "$DEST/src/geoshard--$VERSION.sql" "$SRC/geoshard--$VERSION.sql"; then
	echo "build-release.sh: geoshard--$VERSION.sql differs from what release $VERSION ($commit) built: released install scripts are frozen" >&2
	diff "$DEST/src/geoshard--$VERSION.sql" "$SRC/geoshard--$VERSION.sql" | head -n 20 >&2
	exit 1
fi
dirname "$(dirname "$pg_config")"
