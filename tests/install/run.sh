#!/bin/sh
# Install curio into a temporary prefix, then build and run a program outside the tree
# three ways: with pkg-config and cc, as a meson project using dependency('curio'), and
# as a meson project that pulls curio in as a subproject.
# usage: run.sh SOURCE_DIR
set -eu
src=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here="$src/tests/install"
quiet() { "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }; }

quiet meson setup "$tmp/build" "$src" --prefix="$tmp/prefix" -Dtests=false \
    -Dexamples=false -Dbench=false -Dtls=disabled
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
echo "3 passed, 0 failed"
