#!/usr/bin/env bash
# The main job (`make run`): holdfastd on its embedded default (SQLite, TLS with a certificate
# made on first start); three people chat with the holdfast client, 1:1 and in a group, and the
# server's database is searched for their messages (none is there); the crypto layer's demo;
# then lawful disclosure on the same data: a court's signed orders
# decided (one package sealed to the court, content refused, a forgery rejected), every
# decision logged, the report published over HTTP on loopback, recomputed by the auditor, then
# edited and caught. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
bin=$1/bin
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/serve_static.sh"
work=$(mktemp -d)
SERVER_PID=""
HOLDFASTD_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null;
      [ -n "$HOLDFASTD_PID" ] && kill "$HOLDFASTD_PID" 2>/dev/null; rm -rf "$work"' EXIT

field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
echo "Holdfast demo: a live end-to-end encrypted conversation"
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
echo "2. Three people register with the holdfast client (codes from the development code"
echo "   file) and chat over TLS. Each client pins the server's certificate at first contact."
export HOLDFAST_PASSPHRASE="demo passphrase"  # unlocks each client's encrypted local store
declare -A phone=([alice]=+14155550101 [bob]=+14155550102 [carol]=+14155550103)
hf() { local who=$1; shift; "$bin/holdfast" --home "$work/$who" --server "$url" --device-name "$who's laptop" "$@"; }
say() { printf '  %-6s $ holdfast %s\n' "$1" "$2"; }
for who in alice bob carol; do
  hf "$who" register "${phone[$who]}" > /dev/null
  code=$(grep "^${phone[$who]} " "$work/codes" | tail -1 | cut -d' ' -f2)
  hf "$who" --json verify "$code" | field "'  %-6s registered %s, server pinned %s...' % ('$who', d['registered'], d['server_pin'][:16])"
done
echo "  (the server printed fingerprint ${pin:0:16}...)"
texts=("Hi Bob, lunch at noon on Friday?" "Yes! The usual place near the river."
       "Weekend plan: hike up Mount Tamalpais, 8am." "Count me in, I'll bring coffee."
       "Carol is out of the group now; new key from here on." "This one waits encrypted in the queue until Carol comes online.")
echo
echo "  Alice writes to Bob; her first message is signed in (she does not know Bob's access key yet)"
say alice "send ${phone[bob]} \"${texts[0]}\""; hf alice send "${phone[bob]}" "${texts[0]}" | sed 's/^/           /'
say bob "receive"; hf bob receive --wait 0.3 | sed 's/^/           /'
echo "  Bob answers; Alice's message carried her access key, so his reply goes with sealed sender"
say bob "send ${phone[alice]} \"${texts[1]}\""; hf bob send "${phone[alice]}" "${texts[1]}" | sed 's/^/           /'
say alice "receive"; hf alice receive --wait 0.3 | sed 's/^/           /'
echo "  Both compare the same safety number (out of band, e.g. in person):"
a_sn=$(hf alice --json safety-number "${phone[bob]}" | field "d['safety_number']")
b_sn=$(hf bob --json safety-number "${phone[alice]}" | field "d['safety_number']")
[ "$a_sn" = "$b_sn" ] || { echo "  the two sides see different safety numbers: this is a bug" >&2; exit 1; }
echo "           alice sees ${a_sn:0:30}..., bob sees ${b_sn:0:30}... (equal)"
hf alice trust "${phone[bob]}" "$a_sn" | sed 's/^/           /'
echo
echo "  A group with Sender Keys"
say alice "group create weekend ${phone[bob]} ${phone[carol]}"
gid=$(hf alice group create weekend "${phone[bob]}" "${phone[carol]}")
echo "           group $gid"
say alice "group send $gid \"${texts[2]}\""; hf alice group send "$gid" "${texts[2]}" | sed 's/^/           /'
say carol "receive"; hf carol receive --wait 0.3 | sed 's/^/           /'
say carol "group send $gid \"${texts[3]}\""; hf carol group send "$gid" "${texts[3]}" | sed 's/^/           /'
say bob "receive"; hf bob receive --wait 0.3 | sed 's/^/           /'
echo "  Alice removes Carol: Alice's sender key is replaced, so Carol cannot read what follows"
say alice "group remove $gid ${phone[carol]}"; hf alice group remove "$gid" "${phone[carol]}"
say alice "group send $gid \"${texts[4]}\""; hf alice group send "$gid" "${texts[4]}" | sed 's/^/           /'
say bob "receive"; hf bob receive --wait 0.3 | sed 's/^/           /'
say carol "receive"; hf carol receive --wait 0.3 | sed 's/^/           /'
say alice "send ${phone[carol]} \"${texts[5]}\""; hf alice send "${phone[carol]}" "${texts[5]}" | sed 's/^/           /'
echo
echo "3. What the server holds: look for every message above in its database files"
python3 - "$work/server" "${texts[@]}" <<'PY'
import base64, glob, os, sqlite3, sys
root, texts = sys.argv[1], sys.argv[2:]
blob = b""
for path in glob.glob(os.path.join(root, "holdfast.db*")):
    blob += open(path, "rb").read()
print("  %d bytes in %s" % (len(blob), ", ".join(sorted(os.path.basename(p) for p in glob.glob(os.path.join(root, "holdfast.db*"))))))
found = 0
for t in texts:
    b = t.encode()
    for form in (b, b.hex().encode(), base64.b64encode(b)):
        if form in blob:
            found += 1
print("  plaintexts found (raw, hex or base64): %d of %d messages" % (found, len(texts)))
db = sqlite3.connect("file:" + os.path.join(root, "holdfast.db") + "?mode=ro", uri=True)
rows = db.execute("select count(*) from envelopes").fetchone()[0]
row = db.execute("select content from envelopes limit 1").fetchone()
print("  envelopes still queued: %d; one of them begins %s... (sealed sender v1: 0x11, then ciphertext)" %
      (rows, row[0][:24].hex() if row else "-"))
for t in ("accounts", "devices", "ip_records"):
    print("  %-10s %d rows" % (t, db.execute("select count(*) from " + t).fetchone()[0]))
if found:
    sys.exit("  the server holds plaintext: this is a bug")
PY
say carol "receive"; hf carol receive --wait 0.3 | sed 's/^/           /'
echo "  metrics: $(curl -sk "https://127.0.0.1:$port/metrics" | grep -E '^holdfast_envelopes_(in|out)_total' | tr '\n' ' ')"
kill -TERM "$HOLDFASTD_PID"
wait "$HOLDFASTD_PID" || true
HOLDFASTD_PID=""
echo "  SIGTERM: $(tail -1 "$work/holdfastd.out")"
echo

"$bin/hf-crypto" demo

echo
echo "Holdfast lawful disclosure demo (on the same data directory)"
echo
data=$work/server
A() { "$bin/holdfast-admin" --data "$data" "$@"; }
echo "1. A court makes its keys; the operator registers it and adopts a policy (both logged)"
keys=$("$bin/hf-order" keygen --out "$work/court")
A authorities add --id us-sdny --name "U.S. District Court, S.D.N.Y." --country US --kind court \
  --sign-key "$(field "d['sign_key']" <<<"$keys")" --box-key "$(field "d['box_key']" <<<"$keys")" \
  | field "'  authority us-sdny registered, log index %d' % d['log_index']"
cat > "$work/policy.json" <<'P'
{"version": 1, "effective_from": "2026-01-01T00:00:00Z",
 "categories": ["terrorism", "child_sexual_abuse_material", "cybercrime", "fraud"],
 "countries": ["US", "AT", "DE"], "data_types": ["phone_number", "ip_records"],
 "max_ip_window_days": 90, "ip_retention_days": 7}
P
A policy set "$work/policy.json" | field "'  policy version %d adopted, log index %d' % (d['policy']['version'], d['log_index'])"
echo
echo "2. Three signed orders naming a user who chatted above"
suspect=${phone[alice]}
now=$(date -u +%s)
iso() { date -u -d "@$(( now + $1 ))" +%Y-%m-%dT%H:%M:%SZ; }
order() {  # order ID DATA_JSON
  cat <<O
{"version": 1, "order_id": "$1", "authority_id": "us-sdny", "legal_basis": "18 U.S.C. 2703(d)",
 "statement_of_reasons_sha256": "$(printf 'sealed reasons' | sha256sum | cut -d' ' -f1)",
 "targets": [{"phone_number": "$suspect"}], "category": "cybercrime", "data_requested": $2,
 "ip_window": {"from": "$(iso -86400)", "to": "$(iso 60)"},
 "issued_at": "$(iso -60)", "valid_until": "$(iso 2592000)", "gag_until": "$(iso 7776000)",
 "effect_report_to": "mailto:clerk@court.example", "redress": "Motion to quash."}
O
}
show() { field "'  %s: %s %s, log index %d' % (d['order_id'] or 'order ' + d['order_hash'][:12] + ' (its id is not the court\'s: not signed by it)', d['decision'], ','.join(d['reasons']) or '-', d['log_index'])"; }
order 2026-001 '["phone_number", "ip_records", "messages"]' > "$work/o1.json"
"$bin/hf-order" sign --key "$work/court.sign.key" "$work/o1.json" > "$work/o1.signed"
A orders submit "$work/o1.signed" --package-out "$work/package.bin" | show
order 2026-002 '["messages", "contacts", "groups"]' > "$work/o2.json"
"$bin/hf-order" sign --key "$work/court.sign.key" "$work/o2.json" > "$work/o2.signed"
A orders submit "$work/o2.signed" | show
"$bin/hf-order" keygen --out "$work/forger" > /dev/null
order 2026-003 '["phone_number"]' > "$work/o3.json"
"$bin/hf-order" sign --key "$work/forger.sign.key" "$work/o3.json" > "$work/o3.signed"
A orders submit "$work/o3.signed" | show
A orders submit "$work/o1.signed" | field "'  2026-001 again: replayed=%s, nothing written' % d['replayed']"
echo
echo "3. Only the court can open the package: the phone number and IP records, nothing else"
"$bin/hf-order" open --box-key "$work/court.box.key" --operator-key "$(cat "$data/legal/operator.pub")" \
  "$work/package.bin" > "$work/package.json"
field "'  ' + json.dumps(d['targets'][0])[:160] + ' ...\n  not held: ' + ', '.join(d['not_held']) + ' (' + d['not_held_reason'] + ')'" < "$work/package.json"
echo "  the public log entry for it holds no phone number, account or address:"
A orders show 1 | field "'  ' + json.dumps(d['entry'])[:200] + ' ...'"
echo
echo "4. The report is computed from the log, published with it, and recomputed by anyone"
year=$(date -u +%Y)
from=$year-01-01
to=$(( year + 1 ))-01-01
A publish --out "$work/web" --from "$from" --to "$to" > /dev/null
A report --from "$from" --to "$to" | field "'  %s: received %d, fulfilled %d, partially %d, rejected %d, content requests %d (fulfilled 0)' % (d['from'][:10], d['total']['orders_received'], d['total']['fulfilled'], d['total']['partially_fulfilled'], d['total']['rejected'], d['total']['content_requests_received'])"
serve_static "$work/web" "$work/http.log"
vkey=$(cat "$data/legal/log.vkey")
A orders list > "$work/orders.json"
"$bin/holdfast-audit" report --url "http://127.0.0.1:$SERVER_PORT" --key "$vkey" --from "$from" \
  --to "$to" --orders "$work/orders.json" | sed 's/^/  /'
echo
echo "5. The operator edits the published report to look better; the auditor names each change"
python3 - "$work/web/transparency/report-$from-$to.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["total"]["rejected"] -= 1
d["total"]["fulfilled"] += 1
json.dump(d, open(sys.argv[1], "w"))
PY
if "$bin/holdfast-audit" report --url "http://127.0.0.1:$SERVER_PORT" --key "$vkey" \
     --from "$from" --to "$to" | sed 's/^/  /'; then
  echo "  the edit went unnoticed: this is a bug" >&2
  exit 1
fi
echo
echo "All demos done."
