#!/usr/bin/env bash
# test/private-pg.sh: make a private PostgreSQL installation under DIR and print
# its pg_config.
#
# Usage: test/private-pg.sh DIR
#
# PostgreSQL finds $libdir and its share directory relative to its own binary,
# so a copy of bin/ beside per-file symlinks to the system's lib/ and share/ is
# a complete installation.  `make install PG_CONFIG=<printed path>` then puts a
# build of geoshard there without touching the system's copy: the upgrade test
# runs a released library this way, and parallel work trees can test their
# own builds side by side.  The system's own geoshard files are left out.
set -euo pipefail

DIR=${1:?usage: private-pg.sh DIR}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BIN=$("$PG_CONFIG" --bindir)
LIB=$("$PG_CONFIG" --pkglibdir)
SHARE=$("$PG_CONFIG" --sharedir)
INC=$("$PG_CONFIG" --includedir-server)

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# Link every entry of $1 into $2 except geoshard's own files and the
# directories named after $3..., which become real directories whose entries
# are linked the same way (an install writes into them).
link_tree() {
	local from=$1 to=$2 entry name
	shift 2
	mkdir -p "$to"
	for entry in "$from"/*; do
		name=$(basename "$entry")
		case "$name" in geoshard*) continue ;; esac
		if [[ " $* " == *" $name "* ]]; then
			link_tree "$entry" "$to/$name"
		elif [ ! -e "$to/$name" ]; then
			ln -s "$entry" "$to/$name"
		fi
	done
}

mkdir -p "$DIR$BIN"
cp -a "$BIN/." "$DIR$BIN/"
link_tree "$LIB" "$DIR$LIB" bitcode
link_tree "$SHARE" "$DIR$SHARE" extension
mkdir -p "$(dirname "$DIR$INC")"
[ -e "$DIR$INC" ] || ln -s "$INC" "$DIR$INC"

# the copy must resolve its paths inside DIR, or the test would use the system's
if [ "$("$DIR$BIN/pg_config" --pkglibdir)" != "$DIR$LIB" ]; then
	echo "private-pg.sh: $DIR$BIN/pg_config does not relocate its paths" >&2
	exit 1
fi
echo "$DIR$BIN/pg_config"
