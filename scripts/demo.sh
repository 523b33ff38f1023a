#!/usr/bin/env bash
# The main job (`make run`) until the client exists: holdfastd on its embedded default (SQLite,
# TLS with a certificate made on first start) carrying traffic between registered devices; the
# crypto layer's demo; then lawful disclosure on the same data: a court's signed orders
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
echo "Holdfast lawful disclosure demo (on the same data directory)"
echo
data=$work/server
A() { "$bin/holdfast-admin" --data "$data" "$@"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
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
suspect=$(head -1 "$work/codes" | cut -d' ' -f1)
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
