#!/bin/sh
# The io examples, each on input made here (they need files or standard input).
# usage: examples.sh COPYFILE COUNTLINES READSTDIN
set -u
copyfile=$1 countlines=$2 readstdin=$3
tmp=$(mktemp -d /tmp/curio-examples-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAILED: $*"; fail=$((fail + 1)); }

# copyfile: 3 MB of random bytes arrive identical; a missing source is an error.
head -c 3000000 /dev/urandom > "$tmp/src"
out=$("$copyfile" "$tmp/src" "$tmp/dst")
if [ "$out" = "copied 3000000 bytes" ] && cmp -s "$tmp/src" "$tmp/dst"; then ok; else bad "copyfile: $out"; fi
if "$copyfile" "$tmp/missing" "$tmp/dst2" 2>"$tmp/err"; then bad "copyfile of a missing file succeeded"
elif grep -q "No such file" "$tmp/err" && [ ! -e "$tmp/dst2" ]; then ok; else bad "copyfile error: $(cat "$tmp/err")"; fi

# countlines agrees with wc on 200,000 lines, and on a last line without its newline.
seq 1 200000 > "$tmp/lines"
printf 'unterminated' >> "$tmp/lines"
want="$(wc -l < "$tmp/lines") lines, $(wc -c < "$tmp/lines") bytes"
out=$("$countlines" "$tmp/lines")
if [ "$out" = "$want" ]; then ok; else bad "countlines: '$out', wc: '$want'"; fi

# readstdin echoes every line in order while the timer ticks in between (the reader is
# suspended while no input is there), then stops at end of input.
{ echo one; sleep 0.3; echo two; } | "$readstdin" 0.05 > "$tmp/out"
got=$(grep '^got:' "$tmp/out" | tr '\n' '|')
between=$(sed -n '/^got: one$/,/^got: two$/p' "$tmp/out" | grep -c '^tick')
last=$(tail -n 1 "$tmp/out")
if [ "$got" = "got: one|got: two|" ] && [ "$between" -ge 1 ] && [ "$last" = "2 lines" ]; then ok
else bad "readstdin:"; cat "$tmp/out"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
