#!/bin/sh
# Install curio into a temporary prefix, then build and run a program outside the tree
# three ways: with pkg-config and cc, as a meson project using dependency('curio'), and
# as a meson project that pulls curio in as a subproject; and check that the installed
# headers compile under a strict -std=c11 -pedantic and as C++, the README's example, and
# a fully static link of a program with its monitor from `pkg-config --static`.
# usage: run.sh SOURCE_DIR
set -eu
src=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here="$src/tests/install"
quiet() { "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }; }

quiet meson setup "$tmp/build" "$src" --prefix="$tmp/prefix" -Dtests=false \
    -Dexamples=false -Dbench=false -Dtls=disabled -Ddefault_library=both
quiet meson compile -C "$tmp/build"
quiet meson install -C "$tmp/build"

libdir=$(dirname "$(find "$tmp/prefix" -name 'libcurio.so' | head -n 1)")
export PKG_CONFIG_PATH="$libdir/pkgconfig"
export LD_LIBRARY_PATH="$libdir"

# 1. pkg-config
cc -std=gnu11 -Wall -Wextra -Werror "$here/outside.c" -o "$tmp/outside-pc" \
    $(pkg-config --cflags --libs curio)
[ "$("$tmp/outside-pc")" = "outside ok" ]
echo "ok - pkg-config build"

# 1b. the headers under a strict C11 (no GNU or POSIX extensions asked for) and as C++;
# and the README's example, as a new user pastes it, built the same strict way.
cc -std=c11 -pedantic -Wall -Wextra -Werror "$here/outside.c" -o "$tmp/outside-c11" \
    $(pkg-config --cflags --libs curio)
[ "$("$tmp/outside-c11")" = "outside ok" ]
if command -v c++ >/dev/null 2>&1; then
    printf '#include <curio.h>\nint main() { return curio_run(nullptr, nullptr, nullptr, nullptr) == 0; }\n' \
        >"$tmp/header.cc"
    c++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only "$tmp/header.cc" $(pkg-config --cflags curio)
fi
awk '/^```c$/ { on = 1; next } /^```/ { if (on) exit } on' "$src/README.md" >"$tmp/readme.c"
[ -s "$tmp/readme.c" ]
cc -std=c11 -pedantic -Wall -Wextra -Werror "$tmp/readme.c" -o "$tmp/readme" \
    $(pkg-config --cflags --libs curio)
echo "ok - strict C11, C++ and the README's example"

# 1c. a fully static program with its monitor, linked as curio.pc says (Requires.private:
# liburing, and libdw when the monitor was built with it).
cat >"$tmp/watched.c" <<'C'
#include <curio.h>
#include <stdio.h>
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
    if (curio_run(watched, 0, &o, &r) < 0 || r != 0)
        return 1;
    printf("watched ok\n");
    return 0;
}
C
quiet cc -std=gnu11 -static "$tmp/watched.c" -o "$tmp/watched" \
    $(pkg-config --static --cflags --libs curio)
[ "$("$tmp/watched")" = "watched ok" ]
echo "ok - a static program with its monitor, from pkg-config --static"

# 2. dependency('curio') found through the installed curio.pc
cp -r "$here/project" "$tmp/project"
cp "$here/outside.c" "$tmp/outside.c"
quiet meson setup "$tmp/project/build" "$tmp/project"
quiet meson compile -C "$tmp/project/build"
[ "$("$tmp/project/build/outside")" = "outside ok" ]
echo "ok - meson dependency('curio')"

# 3. curio as a subproject
cp -r "$here/subproject" "$tmp/sub"
mkdir -p "$tmp/sub/subprojects"
ln -s "$src" "$tmp/sub/subprojects/curio"
unset PKG_CONFIG_PATH LD_LIBRARY_PATH
quiet meson setup "$tmp/sub/build" "$tmp/sub" --wrap-mode=forcefallback
quiet meson compile -C "$tmp/sub/build"
[ "$("$tmp/sub/build/outside")" = "outside ok" ]
echo "ok - meson subproject"
echo "5 passed, 0 failed"
