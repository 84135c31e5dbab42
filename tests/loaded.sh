#!/bin/sh
# tests/loaded.sh - run the tests while other processes keep every core busy.
#
#   tests/loaded.sh BUILD [BUILD-SAN]
#
# A test whose outcome depends on how fast it runs (a sleep used for ordering, a short
# timeout racing something else, an upper bound on elapsed time) passes on an idle machine
# and fails on a loaded one; this makes every run a loaded one. BUILD is a plain build
# directory (every test); BUILD-SAN, if given, one built with -Db_sanitize=address,undefined
# (every suite but install, as ./dev test runs there; then its log is searched for
# sanitizer reports). Both must be built already (./dev test-loaded builds them). One busy
# loop per core (at least two) runs at the tests' own priority for the whole run and is
# stopped, by the process ids started here, however the run ends.
set -eu

[ $# -ge 1 ] || { sed -n '4p' "$0"; exit 2; }
plain=$1
san=${2:-}

nburn=$(nproc 2>/dev/null || echo 2)
[ "$nburn" -ge 2 ] || nburn=2

burners=""
stop_burners() {
    for pid in $burners; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $burners; do
        wait "$pid" 2>/dev/null || true
    done
    burners=""
}
trap stop_burners EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

i=0
while [ "$i" -lt "$nburn" ]; do
    sh -c 'while :; do :; done' &
    burners="$burners $!"
    i=$((i + 1))
done
echo "curio: $nburn busy loops running (pids$burners)"

status=0
echo "== Every test of $plain, under load =="
meson test -C "$plain" --no-rebuild --print-errorlogs || status=1

if [ -n "$san" ]; then
    echo
    echo "== The sanitizer suites of $san, under load =="
    # Sanitized code runs a few times slower; the multiplier covers that, not the load.
    meson test -C "$san" --no-rebuild --print-errorlogs --timeout-multiplier 2 \
        --no-suite install || status=1
    # criterion reports a test that leaks as passing; the log tells.
    if grep -nE "ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:" \
        "$san/meson-logs/testlog.txt"; then
        echo "curio: sanitizer reports in $san/meson-logs/testlog.txt (above)"
        status=1
    fi
fi

stop_burners
[ "$status" -eq 0 ] && echo "curio: every test passed under load" ||
    echo "curio: failures under load (above)"
exit "$status"
