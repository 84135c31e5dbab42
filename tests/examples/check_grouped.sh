#!/bin/sh
# Run an example whose tasks interleave their lines by timing, and compare each group of
# lines (those with the same second field, e.g. "request 1:") in its own order with the
# expected text: the output is stably sorted on that field first.
# usage: check_grouped.sh EXAMPLE EXPECTED_FILE SCALE
set -eu
raw=$("$1" "$3")
out=$(printf '%s\n' "$raw" | LC_ALL=C sort -s -k2,2)
if [ "$out" != "$(cat "$2")" ]; then
    echo "unexpected output from $1 (grouped):"; echo "$out"
    echo "--- expected:"; cat "$2"
    exit 1
fi
echo "1 passed, 0 failed"
