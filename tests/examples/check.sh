#!/bin/sh
# Run an example with a time scale and compare its output with the expected text.
# usage: check.sh EXAMPLE EXPECTED_FILE SCALE
set -eu
out=$("$1" "$3")
if [ "$out" != "$(cat "$2")" ]; then
    echo "unexpected output from $1:"; echo "$out"
    echo "--- expected:"; cat "$2"
    exit 1
fi
echo "1 passed, 0 failed"
