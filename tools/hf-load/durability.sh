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
# exactly once. Prints the counts; exits 0 only with no loss, no duplicate (an envelope pushed
# again after its ack was answered, a message stored twice that was never resent, or one
# message acked under two envelope ids) and at least KILLS kills; 1 otherwise, 2 if the run
# could not be set up or ran past DEADLINE_S. holdfastd and hf-load are always stopped and
# the work directory removed, on every exit path.
#
# Environment: HOLDFASTD and HF_LOAD (default: BUILD_DIR/bin/..., BUILD_DIR default build/ next
# to tools/), KEEP=1 keeps the work directory, WINDOW (16), MIN_GAP_MS / MAX_GAP_MS
# (1000 / 4000): time between a restart and the next kill, DEADLINE_S (0: none): give up after
# that many seconds (set it below a test runner's timeout, so that this script, not the runner's
# SIGKILL, stops the processes and removes the work directory).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
HOLDFASTD=${HOLDFASTD:-$BUILD_DIR/bin/holdfastd}
HF_LOAD=${HF_LOAD:-$BUILD_DIR/bin/hf-load}
CONFIG=$HERE/holdfastd-load.json
KILLS=${1:-20}
PAIRS=${2:-20}
WINDOW=${WINDOW:-16}
MIN_GAP_MS=${MIN_GAP_MS:-1000}
MAX_GAP_MS=${MAX_GAP_MS:-4000}
DEADLINE_S=${DEADLINE_S:-0}
# Large enough that hf-load is still sending when the last kill comes; it is stopped then.
MESSAGES=1000000

log() { echo "durability: $*" >&2; }

for b in "$HOLDFASTD" "$HF_LOAD"; do
  [ -x "$b" ] || { echo "durability: $b is missing (build holdfastd and hf-load)" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hf-durability.XXXXXX") || exit 2
SERVER_PID=""
LOAD_PID=""
DRAIN_PID=""
WATCHDOG_PID=""
cleanup() {
  local pid
  for pid in "$LOAD_PID" "$DRAIN_PID" "$SERVER_PID" "$WATCHDOG_PID"; do
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "durability: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated (past DEADLINE_S=$DEADLINE_S s, or by a signal)"; exit 2' TERM

# With setpriv, holdfastd and hf-load get SIGKILL if this script dies without its traps (its
# own SIGKILL), so that they never outlive it.
SPAWN=()
if command -v setpriv >/dev/null 2>&1; then
  SPAWN=(setpriv --pdeathsig KILL --)
fi

if [ "$DEADLINE_S" -gt 0 ]; then
  # One process (nothing left behind when cleanup kills it). The TERM trap runs between
  # commands; every command below is short or waited for in the background.
  "${SPAWN[@]}" python3 -c 'import os, sys, time; time.sleep(int(sys.argv[1])); os.kill(int(sys.argv[2]), 15)' \
    "$DEADLINE_S" $$ &
  WATCHDOG_PID=$!
fi

PORT=0
STARTS=0
# start_server: starts holdfastd on $WORK/data and $PORT (0 the first time, then the port it
# printed), waits for its "listening" line. A restart can find the port briefly taken: a
# client reconnecting while the server is down may be given that same port as its own local
# port (a TCP self-connect, which it drops at once); so a refused bind is tried again.
start_server() {
  local attempt i out
  for attempt in 1 2 3 4 5; do
    STARTS=$((STARTS + 1))
    out=$WORK/server-$STARTS.log
    : >"$out"  # exists before the first grep below, whoever runs first
    "${SPAWN[@]}" "$HOLDFASTD" --data "$WORK/data" --listen "127.0.0.1:$PORT" --plain \
      --dev-codes "$WORK/codes" --config "$CONFIG" >"$out" 2>&1 &
    SERVER_PID=$!
    for i in $(seq 200); do
      if grep -q 'listening on' "$out"; then
        PORT=$(sed -n 's|.*listening on ws://127.0.0.1:\([0-9]*\).*|\1|p' "$out" | head -1)
        return 0
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
    if [ "$PORT" = 0 ] || ! grep -q 'cannot listen' "$out"; then
      break
    fi
    log "port $PORT taken (attempt $attempt); trying again"
    sleep 0.2
  done
  log "holdfastd did not start:"; cat "$out" >&2
  return 1
}

sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
random_ms() { echo $(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1))); }

mkdir -p "$WORK/data"
start_server || exit 2
log "holdfastd on port $PORT (pid $SERVER_PID), work directory $WORK"

"${SPAWN[@]}" "$HF_LOAD" --server "ws://127.0.0.1:$PORT" --codes "$WORK/codes" --pairs "$PAIRS" \
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

# In the background and waited for, so that the TERM trap (DEADLINE_S) is not held up by it.
"${SPAWN[@]}" "$HF_LOAD" --server "ws://127.0.0.1:$PORT" --drain-only --state "$WORK/state.json" \
  --received-log "$WORK/received" --timeout 120 --json >"$WORK/drain.json" 2>"$WORK/drain.err" &
DRAIN_PID=$!
wait "$DRAIN_PID"
DRAIN_PID=""
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
acked_lines = 0
with open(f"{work}/acked") as f:
    for line in f:
        if line.strip():
            acked_lines += 1
            acked.add(line.strip())
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
bad = {}
for d in (run, drain):
    for k, v in d.get("error_kinds", {}).items():
        if k in bad_kinds:
            bad[k] = bad.get(k, 0) + v
# Duplicates that survive deduplication by envelope id: an id pushed again after its ack was
# answered OK (duplicate_after_ack), a message stored twice without being resent (duplicate),
# one message whose sender was answered OK twice (two acked ids for one pair, seq and run), or
# one envelope id answered OK twice.
acked_per_message = {}
for i in acked & received.keys():
    if received[i][0] != "-":  # content that is not hf-load's has no message to compare
        acked_per_message[received[i]] = acked_per_message.get(received[i], 0) + 1
acked_twice = sum(n - 1 for n in acked_per_message.values() if n > 1)
duplicates = (bad.get("duplicate_after_ack", 0) + bad.get("duplicate", 0) + acked_twice +
              (acked_lines - len(acked)))

print(f"kills:                       {killed} (asked {kills})")
print(f"sends acked (OK):            {len(acked)}")
print(f"envelopes received (lines):  {lines}")
print(f"distinct envelope ids:       {len(received)}")
print(f"redeliveries (same id):      {lines - len(received)}")
print(f"messages sent twice, both stored (same seq, two ids): {sum(1 for n in messages.values() if n > 1)}")
print(f"acked but never received:    {len(lost)}")
print(f"run:   delivered {run.get('delivered')} reconnects {run.get('reconnects')} resends {run.get('resends')} errors {run.get('error_kinds')}")
print(f"drain: delivered {drain.get('delivered')} errors {drain.get('error_kinds')}")
print(f"duplicates after dedup:      {duplicates}")
for i in lost[:10]:
    print(f"  lost: {i}")
ok = not lost and not duplicates and not bad and killed >= kills and len(acked) > 0
if bad:
    print(f"FAIL: hf-load counted {bad}")
if killed < kills:
    print(f"FAIL: {killed} kills, fewer than {kills}")
if not acked:
    print("FAIL: no send was acked")
delivered = len(acked & received.keys())
print(f"durability: acked={len(acked)} delivered={delivered} lost={len(lost)} "
      f"duplicates={duplicates} kills={killed} {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
EOF
