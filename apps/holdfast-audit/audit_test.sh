#!/usr/bin/env bash
# End to end: build a log with hf-tlog, publish it as static tiles, serve it over HTTP on
# loopback (port 0), and check that holdfast-audit accepts it and refuses every tampering,
# rollback and fork. Usage: audit_test.sh HF_TLOG HOLDFAST_AUDIT
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib/serve_static.sh"
hf_tlog=$1
audit=$2
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect_fail() {  # expect_fail PATTERN CMD...: the command must exit 1 and print PATTERN
  local pattern=$1; shift
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [ $rc -eq 1 ] || fail "expected exit 1, got $rc from: $* => $out"
  grep -q -- "$pattern" <<<"$out" || fail "expected '$pattern' from: $* => $out"
}

vkey=$("$hf_tlog" keygen --origin audit.test/log --out "$work/log.key")
[ "$(stat -c %a "$work/log.key")" = 600 ] || fail "private key file is not mode 0600"
seq 1 700 | sed 's/^/decision /' | "$hf_tlog" append --db "$work/log.db" --key "$work/log.key" >/dev/null
"$hf_tlog" publish --db "$work/log.db" --dir "$work/pub" >/dev/null

# 1. A directory, then HTTP on loopback.
out=$("$audit" log --dir "$work/pub" --key "$vkey" --state "$work/state")
grep -q "^OK: audit.test/log size 700 " <<<"$out" || fail "dir audit: $out"
serve_static "$work/pub" "$work/http.log" || fail "no static server"
server_pid=$SERVER_PID
port=$SERVER_PORT
out=$("$audit" log --url "http://127.0.0.1:$port" --key "$vkey" --state "$work/state")
grep -q "^OK: audit.test/log size 700 " <<<"$out" || fail "http audit: $out"
expect_fail "cannot fetch checkpoint" "$audit" log --url "http://127.0.0.1:$port/nothing-here" --key "$vkey"

# 2. The log grows; the state file's checkpoint must stay consistent with it.
cp "$work/state" "$work/state.700"
cp -r "$work/pub" "$work/pub.700"
seq 701 1300 | sed 's/^/decision /' | "$hf_tlog" append --db "$work/log.db" --key "$work/log.key" >/dev/null
"$hf_tlog" publish --db "$work/log.db" --dir "$work/pub" >/dev/null
out=$("$audit" log --url "http://127.0.0.1:$port" --key "$vkey" --state "$work/state")
grep -q "^OK: audit.test/log size 1300 " <<<"$out" || fail "grown log: $out"

# 3. Rollback: the old publication after the state saw the new one.
expect_fail "rollback" "$audit" log --dir "$work/pub.700" --key "$vkey" --state "$work/state"

# 4. Tampering with one leaf, one tile, one checkpoint byte.
tamper() { rm -rf "$work/t"; cp -r "$work/pub" "$work/t"; }
tamper
printf 'X' | dd of="$work/t/tile/entries/001" bs=1 seek=20 conv=notrunc status=none
expect_fail "hash tile tile/0/001 disagrees" "$audit" log --dir "$work/t" --key "$vkey"
tamper
printf '\x00' | dd of="$work/t/tile/0/002" bs=1 seek=100 conv=notrunc status=none
expect_fail "hash tile tile/0/002 disagrees" "$audit" log --dir "$work/t" --key "$vkey"
tamper
printf '\x00' | dd of="$work/t/tile/1/000.p/5" bs=1 seek=40 conv=notrunc status=none
expect_fail "hash tile tile/1/000.p/5" "$audit" log --dir "$work/t" --key "$vkey"
tamper
sed -i '2s/1300/1299/' "$work/t/checkpoint"
expect_fail "checkpoint does not verify" "$audit" log --dir "$work/t" --key "$vkey"
tamper
rm "$work/t/tile/entries/002"
expect_fail "cannot fetch entry bundle tile/entries/002" "$audit" log --dir "$work/t" --key "$vkey"

# 5. Fork: the operator rewrites history with the real key. Same size, or grown.
seq 1 700 | sed 's/^/decision /; 5s/.*/rewritten/' |
  "$hf_tlog" append --db "$work/fork.db" --key "$work/log.key" >/dev/null
"$hf_tlog" publish --db "$work/fork.db" --dir "$work/fork" >/dev/null
expect_fail "fork: two different roots" "$audit" log --dir "$work/fork" --key "$vkey" --state "$work/state.700"
seq 701 900 | sed 's/^/decision /' | "$hf_tlog" append --db "$work/fork.db" --key "$work/log.key" >/dev/null
"$hf_tlog" publish --db "$work/fork.db" --dir "$work/fork" >/dev/null
"$audit" log --dir "$work/fork" --key "$vkey" >/dev/null || fail "the fork alone is self-consistent"
expect_fail "history was rewritten" "$audit" log --dir "$work/fork" --key "$vkey" --state "$work/state.700"

# 6. A different key, and a different origin.
other=$("$hf_tlog" keygen --origin audit.test/log --out "$work/other.key")
expect_fail "checkpoint does not verify" "$audit" log --dir "$work/pub" --key "$other"
expect_fail "origin mismatch" "$audit" log --dir "$work/pub" --key "$vkey" --origin audit.test/other

# 7. Offline proofs.
"$hf_tlog" proof --db "$work/log.db" --index 41 > "$work/p.tlog-proof"
printf 'decision 42' > "$work/entry"
out=$("$audit" proof "$work/p.tlog-proof" --key "$vkey" --entry "$work/entry")
grep -q "^OK: entry 41 is in audit.test/log at size 1300" <<<"$out" || fail "proof: $out"
printf 'decision 43' > "$work/wrong"
expect_fail "invalid_proof" "$audit" proof "$work/p.tlog-proof" --key "$vkey" --entry "$work/wrong"
expect_fail "checkpoint\|authentication_failed" "$audit" proof "$work/p.tlog-proof" --key "$other" --entry "$work/entry"
sed -i '3s/^./A/' "$work/p.tlog-proof"
expect_fail "proof does not verify" "$audit" proof "$work/p.tlog-proof" --key "$vkey" --entry "$work/entry"
echo "holdfast-audit end to end: ok"
