#!/usr/bin/env bash
# The main job (`make run`) until the client exists: holdfastd on its embedded default (SQLite,
# TLS with a certificate made on first start) carrying traffic between registered devices; the
# crypto layer's demo; then a public transparency log built, published over HTTP on loopback,
# audited, tampered with and caught. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
bin=$1/bin
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/serve_static.sh"
work=$(mktemp -d)
SERVER_PID=""
HOLDFASTD_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null;
      [ -n "$HOLDFASTD_PID" ] && kill "$HOLDFASTD_PID" 2>/dev/null; rm -rf "$work"' EXIT

echo "Holdfast server demo"
echo
echo "1. holdfastd starts with no configuration: SQLite and a TLS certificate in its data dir"
"$bin/holdfastd" --data "$work/server" --listen 127.0.0.1:0 --dev-codes "$work/codes" \
  > "$work/holdfastd.out" 2> "$work/holdfastd.log" &
HOLDFASTD_PID=$!
for _ in $(seq 1 100); do
  grep -q fingerprint "$work/holdfastd.out" 2>/dev/null && break
  sleep 0.1
done
sed 's/^/  /' "$work/holdfastd.out"
url=$(sed -n 's/^holdfastd: listening on //p' "$work/holdfastd.out")
pin=$(sed -n 's/^holdfastd: TLS certificate SHA-256 fingerprint //p' "$work/holdfastd.out")
port=${url##*:}
echo "  GET /healthz over TLS: $(curl -sk "https://127.0.0.1:$port/healthz")"

echo
echo "2. Four devices register (codes from the development code file), sign in over TLS with"
echo "   the pinned certificate, and two pairs exchange 50 end-to-end-sized envelopes each;"
echo "   every envelope is stored durably before the sender's ack and deleted after the"
echo "   recipient's"
"$bin/hf-load" --server "$url" --pin "$pin" --codes "$work/codes" --pairs 2 --messages 50 \
  --window 4 --json > "$work/load.json"
python3 - "$work/load.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("  delivered %d of 100, errors %d, p50 %.1f ms, p99 %.1f ms" %
      (r["delivered"], r["errors"], r["p50_ms"], r["p99_ms"]))
PY
echo "  metrics: $(curl -sk "https://127.0.0.1:$port/metrics" | grep -E '^holdfast_envelopes_(in|out)_total' | tr '\n' ' ')"
echo "  rows in the server's database afterwards: $(python3 - "$work/server/holdfast.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(", ".join("%s %d" % (t, db.execute("select count(*) from " + t).fetchone()[0])
                for t in ("accounts", "devices", "one_time_pre_keys", "envelopes", "ip_records")))
PY
)"
kill -TERM "$HOLDFASTD_PID"
wait "$HOLDFASTD_PID" || true
HOLDFASTD_PID=""
echo "  SIGTERM: $(tail -1 "$work/holdfastd.out")"
echo

"$bin/hf-crypto" demo

echo
echo "Holdfast transparency log demo"
echo
echo "1. The operator makes a log key and records three disclosure decisions"
vkey=$("$bin/hf-tlog" keygen --origin demo.holdfast.example/decisions --out "$work/log.key")
echo "  verifier key: $vkey"
cat > "$work/decisions" <<'LINES'
{"order":"2026-001","authority":"court.example","decision":"rejected","reason":"content_not_held"}
{"order":"2026-002","authority":"court.example","decision":"fulfilled","data":["phone_number","ip_records"]}
{"order":"2026-003","authority":"police.example","decision":"rejected","reason":"category_not_allowed"}
LINES
"$bin/hf-tlog" append --db "$work/log.db" --key "$work/log.key" < "$work/decisions" | sed 's/^/  /'
"$bin/hf-tlog" publish --db "$work/log.db" --dir "$work/public" | sed 's/^/  /'

echo
echo "2. Anyone audits it over HTTP (a static server on 127.0.0.1)"
serve_static "$work/public" "$work/http.log"
"$bin/holdfast-audit" log --url "http://127.0.0.1:$SERVER_PORT" --key "$vkey" --state "$work/seen" |
  sed 's/^/  /'

echo
echo "3. A citizen gets an offline proof that decision 2026-002 is in the log"
"$bin/hf-tlog" proof --db "$work/log.db" --index 1 > "$work/d2.tlog-proof"
sed -n 2p "$work/decisions" | tr -d '\n' > "$work/d2.json"
"$bin/holdfast-audit" proof "$work/d2.tlog-proof" --key "$vkey" --entry "$work/d2.json" | sed 's/^/  /'

echo
echo "4. Someone quietly rewrites decision 2026-001 on the server; the auditor notices"
printf '{"order":"2026-001","authority":"court.example","decision":"fulfilled"}' > "$work/fake"
python3 - "$work/public/tile/entries/000.p/3" "$work/fake" <<'PY'
import sys
path, fake = sys.argv[1], open(sys.argv[2], "rb").read()
data = open(path, "rb").read()
n = int.from_bytes(data[:2], "big")
open(path, "wb").write(len(fake).to_bytes(2, "big") + fake + data[2 + n:])
PY
if "$bin/holdfast-audit" log --url "http://127.0.0.1:$SERVER_PORT" --key "$vkey" --state "$work/seen" |
    sed 's/^/  /'; then
  echo "  the tampering went unnoticed: this is a bug" >&2
  exit 1
fi
echo
echo "All demos done."
