#!/usr/bin/env bash
# durability.sh: every send holdfastd answered OK survives SIGKILL of the server.
#
#   tools/hf-load/durability.sh [KILLS [PAIRS]]
#
# Starts holdfastd (plain WebSocket on loopback) on a temporary data directory and runs
# hf-load's online workload against it with --acked-log and --received-log. Meanwhile it kills
# the server with SIGKILL at random moments, KILLS times (default 20), each time restarting it
# on the same data directory and port; hf-load's clients reconnect with backoff and send again
# what had no answer. After the last kill hf-load is stopped (SIGTERM) while the server is
# down, the server comes back, `hf-load --drain-only` takes what is still queued, and the logs
# are checked: after deduplication by envelope id, every acked id must have been received
# exactly once. Prints the counts; exits 1 on any loss, on a duplicate after an answered ack,
# or if fewer than KILLS kills happened.
#
# Environment: BUILD_DIR (default: build/ next to tools/), KEEP=1 keeps the work directory,
# WINDOW (16), MIN_GAP_MS / MAX_GAP_MS (1000 / 4000): time between a restart and the next kill.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
HOLDFASTD=$BUILD_DIR/bin/holdfastd
HF_LOAD=$BUILD_DIR/bin/hf-load
CONFIG=$HERE/holdfastd-load.json
KILLS=${1:-20}
PAIRS=${2:-20}
WINDOW=${WINDOW:-16}
MIN_GAP_MS=${MIN_GAP_MS:-1000}
MAX_GAP_MS=${MAX_GAP_MS:-4000}
# Large enough that hf-load is still sending when the last kill comes; it is stopped then.
MESSAGES=1000000

for b in "$HOLDFASTD" "$HF_LOAD"; do
  [ -x "$b" ] || { echo "durability: $b is missing (build holdfastd and hf-load)" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hf-durability.XXXXXX")
SERVER_PID=""
LOAD_PID=""
cleanup() {
  [ -n "$LOAD_PID" ] && kill -KILL "$LOAD_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "durability: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "durability: $*" >&2; }

PORT=0
STARTS=0
# start_server: starts holdfastd on $WORK/data and $PORT, waits for its "listening" line.
start_server() {
  STARTS=$((STARTS + 1))
  local out=$WORK/server-$STARTS.log
  "$HOLDFASTD" --data "$WORK/data" --listen "127.0.0.1:$PORT" --plain --dev-codes "$WORK/codes" \
    --config "$CONFIG" >"$out" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 200); do
    if grep -q 'listening on' "$out"; then
      PORT=$(sed -n 's|.*listening on ws://127.0.0.1:\([0-9]*\).*|\1|p' "$out" | head -1)
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  log "holdfastd did not start:"; cat "$out" >&2
  return 1
}

sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
random_ms() { echo $(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1))); }

mkdir -p "$WORK/data"
start_server || exit 2
log "holdfastd on port $PORT (pid $SERVER_PID), work directory $WORK"

"$HF_LOAD" --server "ws://127.0.0.1:$PORT" --codes "$WORK/codes" --pairs "$PAIRS" \
  --messages "$MESSAGES" --window "$WINDOW" --state "$WORK/state.json" \
  --acked-log "$WORK/acked" --received-log "$WORK/received" --timeout 900 --json \
  >"$WORK/run.json" 2>"$WORK/run.err" &
LOAD_PID=$!

# Kills start once the accounts exist (hf-load saves them before it logs in).
for _ in $(seq 600); do
  [ -s "$WORK/state.json" ] && break
  kill -0 "$LOAD_PID" 2>/dev/null || break
  sleep 0.1
done
[ -s "$WORK/state.json" ] || { log "hf-load did not register its accounts"; cat "$WORK/run.err" >&2; exit 2; }

KILLED=0
START_S=$SECONDS
while [ "$KILLED" -lt "$KILLS" ]; do
  sleep_ms "$(random_ms "$MIN_GAP_MS" "$MAX_GAP_MS")"
  if ! kill -0 "$LOAD_PID" 2>/dev/null; then
    log "hf-load ended early"; break
  fi
  kill -KILL "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
  KILLED=$((KILLED + 1))
  [ "$KILLED" -ge "$KILLS" ] && break
  sleep_ms "$(random_ms 0 300)"  # down for a moment: clients see refused connections
  start_server || exit 2
done
# hf-load stops while the server is down after the last kill, so that what was stored but not
# yet delivered stays queued for the drain.
log "$KILLED kills in $((SECONDS - START_S)) s; stopping hf-load"
kill -TERM "$LOAD_PID" 2>/dev/null
for _ in $(seq 600); do kill -0 "$LOAD_PID" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$LOAD_PID" 2>/dev/null
wait "$LOAD_PID" 2>/dev/null
LOAD_PID=""
start_server || exit 2

"$HF_LOAD" --server "ws://127.0.0.1:$PORT" --drain-only --state "$WORK/state.json" \
  --received-log "$WORK/received" --timeout 120 --json >"$WORK/drain.json" 2>"$WORK/drain.err"
kill -TERM "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=""

python3 - "$WORK" "$KILLED" "$KILLS" <<'EOF'
import json, sys
work, killed, kills = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def load(name):
    try:
        with open(f"{work}/{name}") as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return {}

acked = set()
with open(f"{work}/acked") as f:
    acked = {line.strip() for line in f if line.strip()}
lines = 0
received = {}          # envelope id -> (pair, seq, run)
with open(f"{work}/received") as f:
    for line in f:
        parts = line.split()
        if not parts:
            continue
        lines += 1
        received.setdefault(parts[0], tuple(parts[1:4]))
messages = {}          # (pair, seq, run) -> distinct envelope ids
for key in received.values():
    messages[key] = messages.get(key, 0) + 1
lost = sorted(acked - received.keys())
run, drain = load("run.json"), load("drain.json")
bad_kinds = ("duplicate_after_ack", "duplicate", "misrouted", "bad_content")
bad = {k: v for d in (run, drain) for k, v in d.get("error_kinds", {}).items() if k in bad_kinds}

print(f"kills:                       {killed} (asked {kills})")
print(f"sends acked (OK):            {len(acked)}")
print(f"envelopes received (lines):  {lines}")
print(f"distinct envelope ids:       {len(received)}")
print(f"redeliveries (same id):      {lines - len(received)}")
print(f"messages sent twice, both stored (same seq, two ids): {sum(1 for n in messages.values() if n > 1)}")
print(f"acked but never received:    {len(lost)}")
print(f"run:   delivered {run.get('delivered')} reconnects {run.get('reconnects')} resends {run.get('resends')} errors {run.get('error_kinds')}")
print(f"drain: delivered {drain.get('delivered')} errors {drain.get('error_kinds')}")
for i in lost[:10]:
    print(f"  lost: {i}")
ok = not lost and not bad and killed >= kills and len(acked) > 0
if bad:
    print(f"FAIL: hf-load counted {bad}")
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF
