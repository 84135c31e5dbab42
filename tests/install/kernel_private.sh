#!/bin/sh
# The kernel's records (kernel/core.h) are the kernel's own: no file outside kernel/
# includes core.h (the tests, which check internals, may), and no header of kernel/ does
# either, since the layers include those (kernel.h, gate.h, introspect.h). The layers see
# tasks and kernels through kernel.h, and the monitor through kernel/introspect.h.
# usage: kernel_private.sh SOURCE_DIR
set -eu
cd "$1"
pattern='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^">]*/)?core\.h[">]'
# Every C file outside kernel/ and tests/, leaving out build directories in the tree.
outside=$(find . \( -path ./kernel -o -path ./tests -o -path ./.git \
                    -o -exec test -e '{}/meson-info' \; \) -prune \
                 -o \( -name '*.c' -o -name '*.h' \) -print | sort)
[ -n "$outside" ] || { echo "no source file found under $1"; exit 1; }
bad=$(echo "$outside" | xargs grep -lE "$pattern" || true)
headers=$(find kernel -name '*.h' ! -path kernel/core.h | sort)
bad="$bad $(echo "$headers" | xargs grep -lE "$pattern" || true)"
bad=$(echo $bad)
if [ -n "$bad" ]; then
    echo "kernel/core.h is included outside kernel/*.c by: $bad"
    exit 1
fi
echo "core.h: included by no file outside kernel/*.c ($(echo "$outside" | wc -l) files outside" \
     "kernel/ and tests/, $(echo "$headers" | wc -l) headers in kernel/)"
