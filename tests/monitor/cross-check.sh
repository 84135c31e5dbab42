#!/bin/sh
# Cross-build tests/monitor/arch_where_check.c for aarch64, with the assembly switch and
# with the ucontext one, and run it under qemu-user: `where` takes a backtrace on a task's
# own stack, which must unwind through that architecture's switch and stop at its
# trampoline. Needs Debian's gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and
# qemu-user-static; not part of ./dev test (those packages are large), run it after
# touching kernel/arch/ or the probe in kernel/sched.c.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc="aarch64-linux-gnu-gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -static -I$src/kernel/arch"
$cc "$src/tests/monitor/arch_where_check.c" "$src/kernel/arch/context.c" \
    "$src/kernel/arch/switch_aarch64.S" -o "$out/asm"
$cc -DCURIO_CTX_UCONTEXT=1 "$src/tests/monitor/arch_where_check.c" \
    "$src/kernel/arch/context.c" -o "$out/ucontext"
echo "aarch64, assembly switch:"
qemu-aarch64-static "$out/asm"
echo "aarch64, ucontext:"
qemu-aarch64-static "$out/ucontext"
