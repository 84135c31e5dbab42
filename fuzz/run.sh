#!/bin/sh
# Run every libFuzzer target of a build made with -Dfuzz=true (./dev fuzz, ./dev test).
#
#   fuzz/run.sh BUILD_DIR SECONDS
#
# Each target starts from its seed corpus fuzz/corpus/<target>/ (only read) and keeps what
# it finds in BUILD_DIR/fuzz-corpus/<target>/; it fuzzes for SECONDS (its seeds are run
# first, within that time). A crash, a failed check against the target's model, a
# sanitizer report or a leak fails the target; its input is saved in
# BUILD_DIR/fuzz-artifacts/ and the end of its log is shown. Ends with "N passed, N failed"
# (one per target), also written to BUILD_DIR/fuzz-summary.log for ./dev's summary.
set -u
cd "$(dirname "$0")/.."
build=$1
seconds=$2
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
mkdir -p "$build/fuzz-artifacts"
passed=0 failed=0
for exe in "$build"/fuzz/fuzz_*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    name=${exe##*/fuzz_}
    scratch="$build/fuzz-corpus/$name"
    log="$build/fuzz-$name.log"
    mkdir -p "$scratch"
    if "$exe" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
        -artifact_prefix="$build/fuzz-artifacts/$name-" "$scratch" "fuzz/corpus/$name" \
        >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "fuzz $name: ok ($(grep -o 'Done [0-9]* runs in [0-9]* second' "$log"))"
    else
        failed=$((failed + 1))
        echo "fuzz $name: FAILED (log: $log)"
        tail -n 40 "$log"
    fi
done
echo "$passed passed, $failed failed" | tee "$build/fuzz-summary.log"
[ "$failed" -eq 0 ]
