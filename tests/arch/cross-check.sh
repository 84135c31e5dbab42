#!/bin/sh
# Cross-build tests/arch/switch_check.c for aarch64 and run it under qemu-user.
# Needs Debian's gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user-static; not
# part of ./dev test (those packages are large), run it after touching kernel/arch/.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
aarch64-linux-gnu-gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -I"$src/kernel/arch" \
    "$src/tests/arch/switch_check.c" "$src/kernel/arch/context.c" \
    "$src/kernel/arch/switch_aarch64.S" -o "$out/switch_check"
qemu-aarch64-static "$out/switch_check"
