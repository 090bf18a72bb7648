#!/usr/bin/env bash
# test/run-tests.sh: run every geoshard test suite against private temporary
# servers and print one summary line, "N passed, M failed".  With
# GEOSHARD_CONTAINER_TEST=1 (make test sets it) the container test too.
#
# Usage: test/run-tests.sh "<pg_regress test names>" "<isolation test names>"
# The extension must already be installed.  Servers refuse to run as root, so
# when started by root the suites run as the unprivileged postgres user, from a
# scratch copy of the test files that this user owns.
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
REGRESS_TESTS=${1:?usage: run-tests.sh "<regress tests>" "<isolation tests>"}
ISOLATION_TESTS=${2:-}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
PGXS_DIR=$(dirname "$("$PG_CONFIG" --pgxs)")/..
PGXS_DIR=$(cd "$PGXS_DIR/.." && pwd)

if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
	OWNER=postgres
else
	RUNAS=()
	OWNER=$(id -un)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoshard-test.XXXXXX")
cp -r "$SRC/sql" "$SRC/expected" "$SRC/specs" "$SRC/test" "$WORK/"
mkdir -p "$WORK/tap"
chown -R "$OWNER" "$WORK"

run() {
	"${RUNAS[@]}" env PATH="$PGBIN:$PATH" "$@"
}

passed=0
failed=0

# Add a pg_regress-style log's results to the totals; false if any failed.
count_results() {
	local log=$1 expected=$2 ok bad
	ok=$(grep -cE '\.\.\. +ok' "$log")
	bad=$(grep -cE '\.\.\. +FAILED' "$log")
	# a crashed or unstarted run reports fewer tests than it was given
	if [ $((ok + bad)) -lt "$expected" ]; then
		bad=$((expected - ok))
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
	[ "$bad" -eq 0 ]
}

# Add a TAP log's results to the totals, given the status its run exited with.
count_tap() {
	local log=$1 status=$2 ok bad
	ok=$(grep -cE '^ok [0-9]+' "$log")
	bad=$(grep -cE '^not ok [0-9]+' "$log")
	# A script that died between assertions has no "not ok" line of its own.
	if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
}

# 1. pg_regress (sql/ + expected/)
echo "== pg_regress"
run "$PGXS_DIR/src/test/regress/pg_regress" \
	--temp-instance="$WORK/tmp_regress" \
	--temp-config="$WORK/test/regress.conf" \
	--inputdir="$WORK" --outputdir="$WORK" \
	--bindir="$PGBIN" --load-extension=geoshard \
	--dbname=contrib_regression $REGRESS_TESTS 2>&1 | tee "$WORK/regress.log"
if ! count_results "$WORK/regress.log" "$(wc -w <<<"$REGRESS_TESTS")" && [ -f "$WORK/regression.diffs" ]; then
	echo "== regression.diffs (first 300 lines)"
	head -n 300 "$WORK/regression.diffs"
fi

# 2. isolation (specs/ + expected/), pg_isolation_regress
if [ -n "$ISOLATION_TESTS" ]; then
	echo "== isolation"
	mkdir -p "$WORK/isolation"
	chown "$OWNER" "$WORK/isolation"
	run "$PGXS_DIR/src/test/isolation/pg_isolation_regress" \
		--temp-instance="$WORK/tmp_isolation" \
		--temp-config="$WORK/test/regress.conf" \
		--inputdir="$WORK" --outputdir="$WORK/isolation" \
		--bindir="$PGBIN" --load-extension=geoshard \
		--dbname=isolation_regression $ISOLATION_TESTS 2>&1 | tee "$WORK/isolation.log"
	if ! count_results "$WORK/isolation.log" "$(wc -w <<<"$ISOLATION_TESTS")" && [ -f "$WORK/isolation/regression.diffs" ]; then
		echo "== isolation regression.diffs (first 200 lines)"
		head -n 200 "$WORK/isolation/regression.diffs"
	fi
fi

# 3. TAP (test/t/*.pl with PostgreSQL::Test::Cluster)
shopt -s nullglob
tap_files=("$WORK"/test/t/*.pl)
if [ ${#tap_files[@]} -gt 0 ]; then
	echo "== TAP"
	(cd "$WORK" && run TESTDIR="$WORK/tap" GEOSHARD_SRC="$SRC" PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
		prove -v -I "$PGXS_DIR/src/test/perl" -I "$WORK/test" "${tap_files[@]#$WORK/}") \
		>"$WORK/tap.log" 2>&1
	tap_status=$?
	grep -E '^(ok|not ok) [0-9]+' "$WORK/tap.log"
	sed -n '/^All tests successful/,$p; /^Test Summary Report/,$p' "$WORK/tap.log"
	count_tap "$WORK/tap.log" "$tap_status"
	if [ "$tap_status" -ne 0 ]; then
		echo "== failing TAP assertions and server log excerpts"
		grep -E -A12 '^not ok' "$WORK/tap.log" | grep -vE '^ok ' | head -n 150
		for log in "$WORK"/tap/tmp_check/log/*.log; do
			if grep -qE 'PANIC|TRAP|terminated by signal|ERROR' "$log"; then
				echo "-- $log"
				grep -E 'PANIC|TRAP|terminated by signal|ERROR' "$log" | head -n 20
			fi
		done
	fi
fi

# 4. the container test (docker/test.sh, TAP), when make test asks for it:
# podman runs rootful, so through sudo when not root
if [ "${GEOSHARD_CONTAINER_TEST:-0}" = 1 ]; then
	echo "== containers (docker/test.sh)"
	if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
	"${SUDO[@]}" "$SRC/docker/test.sh" 2>&1 | tee "$WORK/docker.log"
	count_tap "$WORK/docker.log" "${PIPESTATUS[0]}"
fi

echo "(scratch directory: $WORK)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
