#!/bin/sh
# A program that only uses the kernel (tasks and sleep), linked fully statically against
# curio's archive with liburing and libc alone: it links, runs, and takes no object from a
# layer above the kernel (no monitor, net, TLS, sync, io or proc object is pulled in); asked
# for a monitor it says it has none. And a static program that names a monitor call gets
# the monitor started with its kernel.
# usage: static_kernel.sh CC ARCHIVE SOURCE_DIR [libdw]  (libdw: the monitor was built with it)
set -eu
cc=$1 archive=$2 src=$3 with=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/sleeper.c" <<'C'
#include <curio.h>
static long sleeper(void *arg) { (void)arg; return curio_sleep(0.001) > 0 ? 0 : 1; }
int main(void)
{
    long r = 1;
    return curio_run(sleeper, 0, 0, &r) < 0 || r != 0;
}
C
if ! "$cc" -std=c11 -static -I"$src/include" "$tmp/sleeper.c" "$archive" -luring -lpthread \
        -o "$tmp/sleeper" -Wl,-Map="$tmp/map" >"$tmp/trace" 2>&1; then
    cat "$tmp/trace"
    echo "0 passed, 1 failed"
    exit 1
fi
"$tmp/sleeper"
# The monitor asked for in a program that does not have it: said, and the kernel runs.
CURIO_MONITOR=1 "$tmp/sleeper" 2>"$tmp/err"
if ! grep -q "the monitor was asked for but is not linked" "$tmp/err"; then
    cat "$tmp/err"
    echo "CURIO_MONITOR=1 without a monitor linked in was not reported"
    echo "0 passed, 1 failed"
    exit 1
fi
CURIO_MONITOR=off "$tmp/sleeper" 2>"$tmp/err"
if [ -s "$tmp/err" ]; then
    cat "$tmp/err"
    echo "CURIO_MONITOR=off said something"
    echo "0 passed, 1 failed"
    exit 1
fi
# The link map names every archive member the link took: archive(member.o) for a regular
# archive, the member's own path for a thin one (what meson makes of a shared library's
# objects for the tests when only the shared library is built). Either way, keep the
# members' file names.
taken=$(grep -o "$(basename "$archive")([^)]*)" "$tmp/map" | sed 's/.*(\(.*\))/\1/' || true)
if head -c 7 "$archive" | grep -q '^!<thin>'; then
    taken=$(ar t "$archive" | while read -r m; do
        grep -qxF -- "$m" "$tmp/map" && echo "$m"; done || true)
fi
members=$(printf '%s\n' "$taken" | sed '/^$/d; s|.*/||' | sort -u)
[ -n "$members" ] || { echo "no member of $archive in the link map"; exit 1; }
echo "members: $members" | tr '\n' ' '
echo
bad=$(printf '%s\n' "$members" | grep -v '^kernel_' || true)
if [ -n "$bad" ]; then
    echo "objects from layers above the kernel came along: $bad"
    echo "0 passed, 1 failed"
    exit 1
fi
# The other way round: a static program that names a monitor call has the monitor, which
# registered itself with the kernel as a service (the kernel does not name it).
cat >"$tmp/watched.c" <<'C'
#include <curio.h>
static long watched(void *arg)
{
    (void)arg;
    curio_addr a;
    return curio_monitor_address(curio_kernel_current(), &a) == 0 ? 0 : 1;
}
int main(void)
{
    curio_options o = {0};
    o.monitor = true;
    o.monitor_address = "127.0.0.1:0";
    long r = 1;
    return curio_run(watched, 0, &o, &r) < 0 || r != 0;
}
C
wolf=""
pkg-config --exists wolfssl 2>/dev/null && wolf="-lwolfssl"
dw=""
[ "$with" = libdw ] && dw=$(pkg-config --static --libs libdw)
if ! "$cc" -std=c11 -static -I"$src/include" "$tmp/watched.c" "$archive" $wolf $dw -lm -luring \
        -lpthread -o "$tmp/watched" >"$tmp/trace" 2>&1 || ! "$tmp/watched" 2>"$tmp/err"; then
    cat "$tmp/trace" "$tmp/err"
    echo "a static program naming curio_monitor_address did not get its monitor"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "2 passed, 0 failed"
