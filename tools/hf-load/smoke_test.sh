#!/usr/bin/env bash
# smoke_test.sh HOLDFASTD HF_LOAD: a small online (closed and open loop), offline and drain run of hf-load against a
# fresh holdfastd (plain WebSocket, loopback, port 0), which is always stopped. Fails unless
# every run reports no errors and delivers everything.
set -uo pipefail
HOLDFASTD=$1
HF_LOAD=$2
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hf-load-smoke.XXXXXX")
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
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

out=$("$HF_LOAD" --server "$URL" --codes "$WORK/codes" --pairs 4 --messages 50 --window 4 \
  --server-pid "$SERVER_PID" --state "$WORK/state.json" --acked-log "$WORK/acked" --json --timeout 60)
check online "$out" delivered 200
[ "$(wc -l <"$WORK/acked")" -eq 200 ] || { echo "acked log has $(wc -l <"$WORK/acked") lines"; exit 1; }
# Open loop: 4 pairs at 20 messages/s each for 1 s.
out=$("$HF_LOAD" --server "$URL" --pairs 4 --messages 20 --rate 20 --state "$WORK/state.json" --json --timeout 60)
check rate "$out" delivered 80
check rate "$out" offered_msgs_per_s 80
secs=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secs"])' "$out")
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.9 else 1)' "$secs" ||
  { echo "rate: 20 messages at 20/s took ${secs}s, not about a second"; exit 1; }
out=$("$HF_LOAD" --server "$URL" --pairs 4 --messages 30 --offline --state "$WORK/state.json" --json --timeout 60)
check offline "$out" delivered 120
out=$("$HF_LOAD" --server "$URL" --drain-only --state "$WORK/state.json" --json --timeout 60)
check drain "$out" delivered 0
out=$("$HF_LOAD" --server "$URL" --idle 8 --source-ips 2 --state "$WORK/state.json" --server-pid "$SERVER_PID" --json --timeout 60)
check idle "$out" idle_connections 8
