#!/usr/bin/env bash
# hf-proto end to end, as its interface promises: sessions from bundles both ways, safety
# numbers, groups, and failures that leave the store as it was.
set -euo pipefail
bin=$1
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect_error() {  # expect_error NAME CMD...: must exit 2 with that error name on stderr
  local name=$1; shift
  local rc=0
  "$@" >"$w/out" 2>"$w/err" || rc=$?
  [ $rc -eq 2 ] || fail "expected exit 2 from $*, got $rc"
  grep -q "error: $name (" "$w/err" || fail "expected $name from $*: $(cat "$w/err")"
}

for p in alice bob carol; do "$bin" init --store "$w/$p" --prekeys 3 >/dev/null; done
"$bin" bundle --store "$w/bob" > "$w/bob.bundle"
"$bin" bundle --store "$w/bob" > "$w/bob.bundle2"
[ "$(grep -o '"preKeyId":[0-9]*' "$w/bob.bundle")" != "$(grep -o '"preKeyId":[0-9]*' "$w/bob.bundle2")" ] ||
  fail "two bundles handed out the same one-time prekey"
for i in 1 2 3 4; do "$bin" bundle --store "$w/bob" >/dev/null; done  # past the first batch

printf 'hello bob' | "$bin" encrypt --store "$w/alice" --peer bob --bundle "$w/bob.bundle" > "$w/m1"
grep -q '"type":"prekey"' "$w/m1" || fail "first message is not a prekey message"
[ "$("$bin" decrypt --store "$w/bob" --peer alice < "$w/m1")" = "hello bob" ] || fail "bob reads"
printf 'hi alice' | "$bin" encrypt --store "$w/bob" --peer alice > "$w/m2"
grep -q '"type":"message"' "$w/m2" || fail "reply is not a plain message"
[ "$("$bin" decrypt --store "$w/alice" --peer bob < "$w/m2")" = "hi alice" ] || fail "alice reads"

# Safety numbers agree on both sides.
a=$("$bin" fingerprint --store "$w/alice" --peer bob --local-id +111 --remote-id +222 | sed -E 's/.*"displayable":"([0-9]+)".*/\1/')
b=$("$bin" fingerprint --store "$w/bob" --peer alice --local-id +222 --remote-id +111 | sed -E 's/.*"displayable":"([0-9]+)".*/\1/')
[ ${#a} -eq 60 ] && [ "$a" = "$b" ] || fail "safety numbers differ: $a / $b"

# A duplicate and a tampered message fail; the store still reads the next message.
expect_error duplicate_message "$bin" decrypt --store "$w/bob" --peer alice < "$w/m1"
printf 'third' | "$bin" encrypt --store "$w/alice" --peer bob > "$w/m3"
sed -E 's/("body":")(.)/\1A\2/' "$w/m3" > "$w/m3.bad"
if cmp -s "$w/m3" "$w/m3.bad"; then sed -E 's/("body":")(.)/\1B\2/' "$w/m3" > "$w/m3.bad"; fi
"$bin" decrypt --store "$w/bob" --peer alice < "$w/m3.bad" >/dev/null 2>&1 && fail "tampered message decrypted"
[ "$("$bin" decrypt --store "$w/bob" --peer alice < "$w/m3")" = "third" ] || fail "store changed by a failure"
expect_error malformed "$bin" decrypt --store "$w/bob" --peer alice <<<'not json'

# Bob reinstalls: a new identity for the same name is refused until accepted.
"$bin" init --store "$w/bob2" --prekeys 3 >/dev/null
"$bin" bundle --store "$w/bob2" > "$w/bob2.bundle"
expect_error untrusted_identity "$bin" encrypt --store "$w/alice" --peer bob --bundle "$w/bob2.bundle" <<<'x'
printf 'still the old session' | "$bin" encrypt --store "$w/alice" --peer bob > "$w/m4"
[ "$("$bin" decrypt --store "$w/bob" --peer alice < "$w/m4")" = "still the old session" ] ||
  fail "the refused bundle changed alice's store"

# A group of three.
"$bin" group-create --store "$w/alice" --group g --self alice > "$w/alice.dist"
for p in bob carol; do "$bin" group-process --store "$w/$p" --group g --sender alice < "$w/alice.dist" >/dev/null; done
printf 'to the group' | "$bin" group-encrypt --store "$w/alice" --group g --self alice > "$w/g1"
for p in bob carol; do
  [ "$("$bin" group-decrypt --store "$w/$p" --group g --sender alice < "$w/g1")" = "to the group" ] || fail "$p group read"
done
expect_error duplicate_message "$bin" group-decrypt --store "$w/bob" --group g --sender alice < "$w/g1"
expect_error no_session "$bin" group-decrypt --store "$w/alice" --group g --sender carol < "$w/g1"
echo "hf-proto cli: ok"
