#!/usr/bin/env bash
# The main job (`make run`) until the server and client exist: the crypto layer's demo, then a
# public transparency log built, published over HTTP on loopback, audited, tampered with and
# caught. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
bin=$1/bin
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/serve_static.sh"
work=$(mktemp -d)
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$work"' EXIT

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
