#!/usr/bin/env bash
# End-to-end check of the hf-crypto command line: keys, signatures both ways, failures with
# their exit codes, and the demo.
set -euo pipefail
bin=$1
fail() { echo "FAIL: $*"; exit 1; }
field() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\1/"; }

for type in x25519 ed25519; do
  keys=$("$bin" keygen --type "$type")
  priv=$(field private <<<"$keys")
  pub=$(field public <<<"$keys")
  sig=$(printf 'hello' | "$bin" sign --type "$type" --private "$priv" | field signature)
  out=$(printf 'hello' | "$bin" verify --type "$type" --public "$pub" --signature "$sig")
  [ "$out" = '{"valid":true}' ] || fail "$type: valid signature not accepted: $out"
  set +e
  out=$(printf 'hellO' | "$bin" verify --type "$type" --public "$pub" --signature "$sig")
  rc=$?
  set -e
  [ $rc -eq 1 ] && [ "$out" = '{"valid":false}' ] || fail "$type: altered message: rc=$rc $out"
done

set +e
err=$(printf 'x' | "$bin" verify --public 'not base64!' --signature AAAA 2>&1 >/dev/null)
rc=$?
set -e
[ $rc -eq 2 ] || fail "bad base64 should exit 2, got $rc"
grep -q "invalid_encoding (104)" <<<"$err" || fail "bad base64 error text: $err"

set +e
err=$(printf 'x' | "$bin" verify --public "$(printf '\x06%032d' 0 | base64 -w0)" --signature AAAA 2>&1 >/dev/null)
rc=$?
set -e
[ $rc -eq 2 ] && grep -q "invalid_key (201)" <<<"$err" || fail "wrong key type: rc=$rc $err"

"$bin" demo | grep -q "All checks passed." || fail "demo"
echo "hf-crypto cli: ok"
