#!/usr/bin/env bash
# End to end through the command lines: an authority makes keys and signs orders with
# hf-order; the operator registers it, adopts a policy and submits orders with
# holdfast-admin. Checks the decisions, their reason codes, replays, revocation, the error
# codes for bad input, and that the log grew by exactly one entry per logged change.
# Then publishes the log and the report and checks that holdfast-audit recomputes it, and
# catches an edited report, a rewritten log entry and an order decided but not logged.
# Usage: admin_test.sh HOLDFAST_ADMIN HF_ORDER HOLDFAST_AUDIT
set -euo pipefail
admin=$1
order_tool=$2
audit=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
expect_error() {  # expect_error CODE_NAME CMD...: exit status 2 and the stable code on stderr
  local code=$1; shift
  local out rc=0
  out=$("$@" 2>&1 >/dev/null) || rc=$?
  [ $rc -eq 2 ] || fail "expected exit 2, got $rc from: $*"
  grep -q "^error: $code " <<<"$out" || fail "expected error $code from: $* => $out"
}
data=$work/data
A() { "$admin" --data "$data" "$@"; }

keys=$("$order_tool" keygen --out "$work/court")
[ "$(stat -c %a "$work/court.sign.key")" = 600 ] || fail "authority key file is not 0600"
sign_key=$(json "d['sign_key']" <<<"$keys")
box_key=$(json "d['box_key']" <<<"$keys")
"$order_tool" keygen --out "$work/other" >/dev/null
expect_error storage_failure "$order_tool" keygen --out "$work/court"   # never overwrites a key

out=$(A authorities add --id at-court --name "Landesgericht Wien" --country AT --kind court \
        --sign-key "$sign_key" --box-key "$box_key" --valid-from 2026-01-01)
[ "$(json "d['log_index']" <<<"$out")" = 0 ] || fail "first log entry is not index 0: $out"
expect_error already_exists A authorities add --id at-court --name X --country AT --kind court \
  --sign-key "$sign_key" --box-key "$box_key"
expect_error invalid_argument A authorities add --id x --name X --country AT --kind judge \
  --sign-key "$sign_key" --box-key "$box_key"
expect_error invalid_key A authorities add --id x --name X --country AT --kind court \
  --sign-key AAAA --box-key "$box_key"
[ "$(A authorities list | json "len(d)")" = 1 ] || fail "authorities list"
[ "$(stat -c %a "$data/legal/operator.key")" = 600 ] || fail "operator.key is not 0600"

cat >"$work/policy.json" <<'P'
{"version": 1, "effective_from": "2026-01-01T00:00:00Z",
 "categories": ["terrorism", "fraud"], "countries": ["AT", "DE"],
 "data_types": ["phone_number", "ip_records"], "max_ip_window_days": 90, "ip_retention_days": 7}
P
sed 's/"ip_records"\]/"messages"]/' "$work/policy.json" >"$work/wide.json"
expect_error malformed A policy set "$work/wide.json"   # content can never be a data type
A policy set "$work/policy.json" >/dev/null
expect_error invalid_argument A policy set "$work/policy.json"   # the version must increase
[ "$(A policy show | json "d['version']")" = 1 ] || fail "policy show"

now=$(date -u +%s)
iso() { date -u -d "@$(( now + $1 ))" +%Y-%m-%dT%H:%M:%SZ; }
order() {  # order ID CATEGORY DATA_JSON
  cat <<O
{"version": 1, "order_id": "$1", "authority_id": "at-court", "legal_basis": "StPO 135",
 "statement_of_reasons": "Suspected of planning an attack.",
 "targets": [{"phone_number": "+43660000001"}], "category": "$2", "data_requested": $3,
 "ip_window": {"from": "$(iso -259200)", "to": "$(iso 0)"},
 "issued_at": "$(iso -3600)", "valid_until": "$(iso 864000)",
 "effect_report_to": "mailto:registry@court.example", "redress": "Objection within 14 days."}
O
}
submit() { A orders submit "$@"; }
decision() { json "d['decision'] + ' ' + ','.join(d['reasons']) + ' ' + str(d['replayed'])"; }

order LG-1 terrorism '["phone_number", "ip_records"]' >"$work/o1.json"
"$order_tool" sign --key "$work/court.sign.key" "$work/o1.json" >"$work/o1.signed"
# Nobody has that number on this server.
[ "$(submit "$work/o1.signed" --package-out "$work/p1" | decision)" = "rejected target_not_found False" ] \
  || fail "unknown target"
[ ! -e "$work/p1" ] || fail "a package was written for a rejected order"
[ "$(submit "$work/o1.signed" | decision)" = "rejected target_not_found True" ] || fail "replay"

order LG-2 money_laundering '["phone_number"]' >"$work/o2.json"
"$order_tool" sign --key "$work/court.sign.key" "$work/o2.json" >"$work/o2.signed"
[ "$(submit "$work/o2.signed" | decision)" = "rejected category_not_allowed False" ] || fail "category"

order LG-3 terrorism '["messages", "contacts"]' >"$work/o3.json"
"$order_tool" sign --key "$work/court.sign.key" "$work/o3.json" >"$work/o3.signed"
out=$(submit "$work/o3.signed")
[ "$(decision <<<"$out")" = "rejected content_not_held False" ] || fail "content: $out"
[ "$(json "d['entry']['content_requested']" <<<"$out")" = True ] || fail "content not counted"

order LG-4 terrorism '["phone_number"]' >"$work/o4.json"
"$order_tool" sign --key "$work/other.sign.key" "$work/o4.json" >"$work/o4.signed"
[ "$(submit "$work/o4.signed" | decision)" = "rejected bad_signature False" ] || fail "forged"

printf '{"order": {"order_id": "x",' >"$work/bad.json"
[ "$(submit "$work/bad.json" | decision)" = "rejected malformed False" ] || fail "malformed"
[ "$(submit "$work/bad.json" | decision)" = "rejected malformed True" ] || fail "malformed twice"
sed 's/"version": 1,/"version": 1, "category": "fraud",/' "$work/o1.json" >"$work/dup.json"
printf '{"order": %s, "signature": "%s"}' "$(cat "$work/dup.json")" \
  "$(json "d['signature']" <"$work/o1.signed")" >"$work/dup.signed"
[ "$(submit "$work/dup.signed" | decision)" = "rejected non_canonical False" ] || fail "non-canonical"
head -c 70000 /dev/zero | tr '\0' ' ' >"$work/huge.json"
[ "$(submit "$work/huge.json" | decision)" = "rejected oversized False" ] || fail "oversized"
expect_error not_found submit "$work/missing.json"

# The suspect exists now (as holdfastd would have stored them): a package for the court only,
# with the phone number and the IP records inside the window, and nothing outside it.
python3 - "$data/holdfast.db" "$now" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
now = int(sys.argv[2]) * 1000
acct = bytes([7] * 16)
db.execute("INSERT INTO accounts (id, phone, created_ms) VALUES (?, ?, ?)", (acct, "+43660000001", now))
for ip, start in (("203.0.113.7", now - 3600000), ("203.0.113.99", now - 6 * 86400000)):
    db.execute("INSERT INTO ip_records (account, device, ip, port, start_ms, end_ms) "
               "VALUES (?, 1, ?, 4000, ?, ?)", (acct, ip, start, start + 60000))
db.commit()
PY
order LG-6 terrorism '["phone_number", "ip_records"]' >"$work/o6.json"
"$order_tool" sign --key "$work/court.sign.key" "$work/o6.json" >"$work/o6.signed"
[ "$(submit "$work/o6.signed" --package-out "$work/p6" | decision)" = "fulfilled  False" ] \
  || fail "valid order"
operator_key=$(cat "$data/legal/operator.pub")
pkg=$("$order_tool" open --box-key "$work/court.box.key" --operator-key "$operator_key" "$work/p6")
[ "$(json "d['targets'][0]['phone_number']" <<<"$pkg")" = "+43660000001" ] || fail "package: $pkg"
[ "$(json "[r['ip'] for r in d['targets'][0]['ip_records']]" <<<"$pkg")" = "['203.0.113.7']" ] \
  || fail "package records: $pkg"
expect_error authentication_failed "$order_tool" open --box-key "$work/other.box.key" \
  --operator-key "$operator_key" "$work/p6"

A authorities revoke at-court >/dev/null
expect_error already_exists A authorities revoke at-court
order LG-5 terrorism '["phone_number"]' >"$work/o5.json"
"$order_tool" sign --key "$work/court.sign.key" "$work/o5.json" >"$work/o5.signed"
[ "$(submit "$work/o5.signed" | decision)" = "rejected authority_revoked False" ] || fail "revoked"

# Orders: 9 decided (two replays wrote nothing). Log: authority, policy, 8 decisions, the
# revocation, 1 decision.
list=$(A orders list)
[ "$(json "len(d)" <<<"$list")" = 9 ] || fail "orders list: $(json "len(d)" <<<"$list")"
[ "$(json "sorted(o['log_index'] for o in d)" <<<"$list")" = "[2, 3, 4, 5, 6, 7, 8, 9, 11]" ] \
  || fail "log indexes: $(json "sorted(o['log_index'] for o in d)" <<<"$list")"
[ "$(A orders show 1 | json "d['order_id']")" = LG-1 ] || fail "orders show"
expect_error not_found A orders show 99

# Reports: the JSON, CSV and HTML forms agree; the published one is recomputed by the auditor.
year_from=$(date -u +%Y)-01-01
year_to=$(( $(date -u +%Y) + 1 ))-01-01
rep=$(A report --from "$year_from" --to "$year_to")
[ "$(json "d['total']['orders_received']" <<<"$rep")" = 9 ] || fail "report total: $rep"
[ "$(json "d['total']['fulfilled']" <<<"$rep")" = 1 ] || fail "report fulfilled: $rep"
[ "$(json "d['total']['accounts_affected']" <<<"$rep")" = 1 ] || fail "report affected: $rep"
[ "$(json "d['total']['content_requests_received']" <<<"$rep")" = 1 ] || fail "content count"
[ "$(json "d['total']['content_requests_fulfilled']" <<<"$rep")" = 0 ] || fail "content fulfilled"
[ "$(json "d['countries']['AT']['rejected_by_reason']['authority_revoked']" <<<"$rep")" = 1 ] \
  || fail "by reason"
[ "$(json "d['checkpoint']['tree_size']" <<<"$rep")" = 12 ] || fail "report checkpoint"
A report --from "$year_from" --to "$year_to" --format csv | grep -q "^total,all,9,1,0,8," \
  || fail "csv"
A report --from "$year_from" --to "$year_to" --format html | grep -q "<svg" || fail "html"
expect_error invalid_argument A report --from "$year_to" --to "$year_from"

web=$work/web
A publish --out "$web" --from "$year_from" --to "$year_to" >/dev/null
A orders list >"$work/orders.json"
vkey=$(cat "$data/legal/log.vkey")
out=$("$audit" report --dir "$web" --key "$vkey" --from "$year_from" --to "$year_to" \
        --orders "$work/orders.json") || fail "audit of an honest report: $out"
grep -q "^OK: .*9 orders all logged" <<<"$out" || fail "audit output: $out"

expect_audit_fail() {  # expect_audit_fail PATTERN ARGS...: exit 1 and PATTERN printed
  local pattern=$1; shift
  local out rc=0
  out=$("$audit" report --dir "$web" --key "$vkey" --from "$year_from" --to "$year_to" "$@" 2>&1) \
    || rc=$?
  [ $rc -eq 1 ] || fail "audit: expected exit 1, got $rc: $out"
  grep -q -- "$pattern" <<<"$out" || fail "audit: expected '$pattern' in: $out"
}
# An edited report: every changed figure is named.
report_file=$web/transparency/report-$year_from-$year_to.json
python3 - "$report_file" "$work/edited.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["total"]["rejected"] -= 2
d["total"]["fulfilled"] += 2
json.dump(d, open(sys.argv[2], "w"))
PY
expect_audit_fail "/total/fulfilled: published 3, recomputed 1" --report "$work/edited.json"
expect_audit_fail "/total/rejected: published 6, recomputed 8" --report "$work/edited.json"
# An order the operator decided but whose decision is not what the log holds.
python3 - "$work/orders.json" "$work/hidden.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d[0]["entry"]["outcome"] = "fulfilled"
d[1]["log_index"] = 99
json.dump(d, open(sys.argv[2], "w"))
PY
expect_audit_fail "decided but not logged (log entry 2 is a different decision)" --orders "$work/hidden.json"
expect_audit_fail "decided but not logged (index 99 is beyond the log)" --orders "$work/hidden.json"
# A rewritten log entry: the published bundle no longer matches the signed checkpoint.
bundle=$(find "$web/tile/entries" -type f | head -1)
python3 - "$bundle" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b'"rejected"')
b[i:i + 10] = b'"fulfille"'
open(p, "wb").write(bytes(b))
PY
expect_audit_fail "^FAIL: log: "
echo "PASS: holdfast-admin end to end"
