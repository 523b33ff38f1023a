#!/usr/bin/env bash
# smoke_test.sh HOLDFASTD HF_LOAD: a small online (closed and open loop), offline and drain run of hf-load against a
# fresh holdfastd (plain WebSocket, loopback, port 0), then an online run over TLS with the
# certificate pinned and one with a wrong pin. Both servers are always stopped. Fails unless
# every run reports no errors and delivers everything, and the wrong pin is refused.
set -uo pipefail
HOLDFASTD=$1
HF_LOAD=$2
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hf-load-smoke.XXXXXX")
SERVER_PID=""
TLS_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$TLS_PID" ] && kill -TERM "$TLS_PID" 2>/dev/null && wait "$TLS_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

"$HOLDFASTD" --data "$WORK/data" --listen 127.0.0.1:0 --plain --dev-codes "$WORK/codes" \
  --config "$HERE/holdfastd-load.json" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 200); do grep -q 'listening on' "$WORK/server.log" && break; sleep 0.05; done
PORT=$(sed -n 's|.*listening on ws://127.0.0.1:\([0-9]*\).*|\1|p' "$WORK/server.log" | head -1)
[ -n "$PORT" ] || { echo "holdfastd did not start"; cat "$WORK/server.log"; exit 1; }
URL=ws://127.0.0.1:$PORT

# check NAME JSON FIELD VALUE: the run's FIELD must equal VALUE, and errors must be 0.
check() {
  python3 - "$@" <<'EOF' || exit 1
import json, sys
name, text, field, want = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
r = json.loads(text)
ok = r.get("errors") == 0 and str(r.get(field)) == want and "failed_phase" not in r
print(f"{name}: {field}={r.get(field)} errors={r.get('errors')} {'ok' if ok else 'FAILED'}")
sys.exit(0 if ok else 1)
EOF
}

# holds NAME JSON EXPR: the Python expression EXPR, over the run's JSON object r, must be true.
holds() {
  python3 - "$@" <<'EOF' || exit 1
import json, sys
name, text, expr = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.loads(text)
ok = bool(eval(expr, {"r": r}))
print(f"{name}: {expr} {'ok' if ok else 'FAILED'} ({text[:300]})")
sys.exit(0 if ok else 1)
EOF
}

out=$("$HF_LOAD" --server "$URL" --codes "$WORK/codes" --pairs 4 --messages 50 --window 4 \
  --server-pid "$SERVER_PID" --state "$WORK/state.json" --acked-log "$WORK/acked" --json --timeout 60)
check online "$out" delivered 200
[ "$(wc -l <"$WORK/acked")" -eq 200 ] || { echo "acked log has $(wc -l <"$WORK/acked") lines"; exit 1; }
# Open loop: 4 pairs at 20 messages/s each for 1 s.
out=$("$HF_LOAD" --server "$URL" --pairs 4 --messages 20 --rate 20 --state "$WORK/state.json" --json --timeout 60)
check rate "$out" delivered 80
check rate "$out" offered_msgs_per_s 80
holds rate "$out" 'r["secs"] >= 0.9'  # 20 messages at 20/s take about a second
# Each message goes at or after its scheduled time, so latency from the send is at most
# latency from the schedule, message by message and so in every percentile.
holds rate "$out" 'r["max_sent_ms"] > 0 and all(r[k + "_sent_ms"] <= r[k + "_ms"] for k in ("p50", "p99", "max"))'
out=$("$HF_LOAD" --server "$URL" --pairs 4 --messages 30 --offline --state "$WORK/state.json" --json --timeout 60)
check offline "$out" delivered 120
# The first envelope of the drain comes after the Auths and no later than the last one.
holds offline "$out" '0 < r["drain_first_ms"] <= r["drain_secs"] * 1000 + 10'
out=$("$HF_LOAD" --server "$URL" --drain-only --state "$WORK/state.json" --json --timeout 60)
check drain "$out" delivered 0
out=$("$HF_LOAD" --server "$URL" --idle 8 --source-ips 2 --state "$WORK/state.json" --server-pid "$SERVER_PID" --json --timeout 60)
check idle "$out" idle_connections 8

# TLS: hf-load's own TLS client (holdfastd's record layer in the client role), pinned.
"$HOLDFASTD" --data "$WORK/tls-data" --listen 127.0.0.1:0 --dev-codes "$WORK/tls-codes" \
  --config "$HERE/holdfastd-load.json" >"$WORK/tls-server.log" 2>&1 &
TLS_PID=$!
for _ in $(seq 200); do grep -q 'listening on' "$WORK/tls-server.log" && break; sleep 0.05; done
TLS_PORT=$(sed -n 's|.*listening on wss://127.0.0.1:\([0-9]*\).*|\1|p' "$WORK/tls-server.log" | head -1)
PIN=$(sed -n 's|.*fingerprint \([0-9a-f]\{64\}\).*|\1|p' "$WORK/tls-server.log" | head -1)
[ -n "$TLS_PORT" ] && [ -n "$PIN" ] || { echo "holdfastd (TLS) did not start"; cat "$WORK/tls-server.log"; exit 1; }
out=$("$HF_LOAD" --server "wss://127.0.0.1:$TLS_PORT" --pin "$PIN" --codes "$WORK/tls-codes" \
  --pairs 4 --messages 50 --window 4 --state "$WORK/tls-state.json" --json --timeout 60)
check tls "$out" delivered 200
check tls "$out" pin_checked True
# A wrong pin: every connection is refused at the handshake, and nothing logs in.
WRONG=$(printf '%s' "$PIN" | tr '0-9a-f' '1-9a-f0')
if "$HF_LOAD" --server "wss://127.0.0.1:$TLS_PORT" --pin "$WRONG" --pairs 1 --messages 1 \
  --state "$WORK/tls-state.json" --json --timeout 3 >"$WORK/wrong-pin.json" 2>"$WORK/wrong-pin.err"; then
  echo "wrong pin: hf-load succeeded"; exit 1
fi
grep -q "does not match --pin" "$WORK/wrong-pin.err" || { echo "wrong pin: no pin error"; cat "$WORK/wrong-pin.err"; exit 1; }
echo "wrong pin: refused ok"
