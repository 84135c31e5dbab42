#!/bin/sh
# A program that only uses the kernel (tasks and sleep), linked fully statically against
# curio's archive with liburing and libc alone: it links, runs, and takes no object from a
# layer above the kernel (no monitor, net, TLS, sync, io or proc object is pulled in).
# usage: static_kernel.sh CC ARCHIVE SOURCE_DIR
set -eu
cc=$1 archive=$2 src=$3
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
echo "1 passed, 0 failed"
