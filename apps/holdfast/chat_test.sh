#!/usr/bin/env bash
# End to end through the chat screen: holdfastd on loopback, Alice in `holdfast chat` inside a
# detached tmux (120x30, its own server socket), Bob on the command line. Checks the unread
# count, that opening a conversation sends a read receipt, that a typed line is sent, the
# (sent)/(delivered)/(read) marks, that escape sequences in a message are not obeyed, a bad
# command as one status line, that a reinstall by Bob raises the safety-number banner and
# pauses sending until /trust, that /safety shows the number Bob's new device sees, a
# resize, and that /quit and Ctrl-C leave the terminal as it was. Every wait is bounded; a
# failure prints the screen.
# Usage: chat_test.sh HOLDFAST HOLDFASTD
set -euo pipefail
hf=$1
hfd=$2
work=$(mktemp -d)
sock=holdfast-test-$$
server_pid=
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

alice=+14155550101
bob=+14155550102

cat >"$work/config.json" <<'C'
{"io_threads": 2,
 "register_per_phone": {"per_minute": 6000, "burst": 1000},
 "register_per_ip": {"per_minute": 6000, "burst": 1000},
 "verify_per_ip": {"per_minute": 6000, "burst": 1000},
 "auth_failures_per_ip": {"per_minute": 6000, "burst": 1000},
 "lookups_per_account": {"per_minute": 6000, "burst": 1000},
 "sends_per_account": {"per_minute": 60000, "burst": 10000}}
C
: >"$work/server.out"
"$hfd" --data "$work/server" --listen 127.0.0.1:0 --plain --dev-codes "$work/codes.txt" \
  --config "$work/config.json" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's|^holdfastd: listening on \(ws://127\.0\.0\.1:[0-9]*\)$|\1|p' "$work/server.out")
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "holdfastd died: $(cat "$work/server.err")"
  sleep 0.1
done
[ -n "$url" ] || fail "holdfastd did not say where it listens"

HF() {  # HF HOME ARGS...: the command line on one home
  local home=$1
  shift
  HOLDFAST_PASSPHRASE=pw "$hf" --home "$work/$home" --server "$url" "$@"
}
register() {  # register HOME PHONE
  HF "$1" register "$2" >/dev/null
  local code=
  for _ in $(seq 100); do
    code=$(sed -n "s/^$2 //p" "$work/codes.txt" 2>/dev/null | tail -1)
    [ -n "$code" ] && break
    sleep 0.1
  done
  [ -n "$code" ] || fail "no code for $2"
  HF "$1" verify "$code" >/dev/null
}

# --- the screen ---
cat >"$work/tmux.conf" <<'T'
set -g remain-on-exit on
set -g status off
T
T() { tmux -L "$sock" -f "$work/tmux.conf" "$@"; }
screen() { T capture-pane -p -t chat; }
pane() { T display-message -p -t chat "$1"; }
start_chat() {  # start_chat new-session ARGS | respawn-pane ARGS: the chat on Alice's home
  rm -f "$work/chat.status"
  # bash, not sh: after a Ctrl-C that the chat handles, bash still writes the status.
  T "$@" bash -c 'HOLDFAST_PASSPHRASE=pw LANG=C.UTF-8 "$0" --home "$1" chat; echo $? >"$2"' \
    "$hf" "$work/A" "$work/chat.status"
}
wait_for() {  # wait_for WHAT EXTENDED-REGEX [TRIES]: until the screen shows it, 0.1 s a try
  local what=$1 pattern=$2 tries=${3:-100}
  for _ in $(seq "$tries"); do
    screen | grep -qE -- "$pattern" && return 0
    sleep 0.1
  done
  echo "--- screen:"
  screen || true
  fail "$what: no /$pattern/ on the screen"
}
wait_gone() {  # wait_gone WHAT EXTENDED-REGEX: until the screen no longer shows it
  for _ in $(seq 100); do
    screen | grep -qE -- "$2" || return 0
    sleep 0.1
  done
  echo "--- screen:"
  screen || true
  fail "$1: /$2/ is still on the screen"
}
wait_exit() {  # wait_exit WHAT: the chat ended with status 0 and left the alternate screen
  for _ in $(seq 100); do
    [ -s "$work/chat.status" ] && break
    sleep 0.1
  done
  [ -s "$work/chat.status" ] || { screen; fail "$1: the chat is still running"; }
  [ "$(cat "$work/chat.status")" = 0 ] || fail "$1: exit status $(cat "$work/chat.status")"
  [ "$(pane '#{alternate_on}')" = 0 ] || fail "$1: the terminal was not restored"
}
type_line() {  # type_line TEXT: types TEXT and Enter
  T send-keys -t chat -l -- "$1"
  T send-keys -t chat Enter
}

register A "$alice"
register B "$bob"
HF B send "$alice" "hello alice from bob" >/dev/null

start_chat new-session -d -s chat -x 120 -y 30
wait_for "title bar" "^ holdfast  \\$alice" 300
wait_for "unread count" "\\$bob +\\(1 unread\\)"
screen | grep -q "No conversation is open" || fail "a conversation was opened without asking"

T send-keys -t chat Down
wait_for "open conversation" "[0-9]{2}:[0-9]{2}  \\$bob: hello alice from bob"
wait_gone "unread count after opening" "1 unread"

type_line "hi bob, this is alice"
wait_for "sent mark" "me: hi bob, this is alice  \\(sent\\)"
out=$(HF B --json receive --wait 0.2)
grep -q '"text":"hi bob, this is alice"' <<<"$out" || fail "bob did not get the reply: $out"
grep -q '"receipt":"read"' <<<"$out" || fail "opening the conversation sent no read receipt: $out"
wait_for "delivered mark" "me: hi bob, this is alice  \\(delivered\\)"
HF B read "$alice"
wait_for "read mark" "me: hi bob, this is alice  \\(read\\)"
# Escape sequences in a message are drawn as marks, never obeyed: no new window title, no
# cleared screen.
HF B send "$alice" $'second message from bob \e]2;pwned\a\e[2J' >/dev/null
wait_for "a new message in the open conversation" "\\$bob: second message from bob .*2;pwned.*2J"
[ "$(pane '#{pane_title}')" != pwned ] || fail "a message set the window title"
screen | grep -q "hello alice from bob" || fail "a message cleared the screen"
if screen | grep -q "unread"; then
  screen
  fail "a message in the open conversation counted as unread"
fi

type_line "/to 12345"
wait_for "an error as one status line" "^ A phone number is \\+ and 8 to 15 digits"
type_line "/nonsense"
wait_for "an unknown command" "^ Unknown command /nonsense"

# Bob reinstalls: a new device registers the same number, with a new identity key.
register B2 "$bob"
HF B2 send "$alice" "bob on a new phone" >/dev/null
wait_for "safety-number banner" "^ !! SAFETY NUMBER CHANGED for \\$bob: .*/safety.*/trust"
wait_for "the new device's message" "\\$bob: bob on a new phone"
screen | head -1 | grep -q "SAFETY NUMBER CHANGED" || fail "the banner is not at the top"

type_line "are you really bob?"
wait_for "sending paused" "^ Not sent: \\$bob's safety number changed"
T send-keys -t chat C-u
type_line "/safety"
wait_for "safety number" "The NEW safety number with \\$bob:"
shown=$(screen | grep -oE '([0-9]{5} ){3}[0-9]{5}' | tr -d ' \n')
theirs=$(HF B2 --json safety-number "$alice" | sed -n 's/.*"safety_number":"\([0-9]*\)".*/\1/p')
[ ${#shown} = 60 ] || { screen; fail "the safety number on the screen is not 60 digits: $shown"; }
[ "$shown" = "$theirs" ] || fail "alice sees $shown, bob's new device $theirs"
type_line "/trust"
wait_for "trusted" "^ You accepted the safety number of \\$bob"
wait_gone "banner after /trust" "SAFETY NUMBER CHANGED"
type_line "are you really bob?"
wait_for "sending again" "me: are you really bob\\?  \\(sent\\)"
HF B2 --json receive --wait 0.2 | grep -q '"text":"are you really bob?"' || fail "B2 got nothing"

T resize-window -t chat -x 90 -y 24
wait_for "redrawn smaller" "^ Conversations {16}\\| "  # the list is 30 columns now, not 32
[ "$(screen | wc -l)" = 24 ] || fail "the pane is not 24 lines"
screen | sed -n 23p | grep -qE "^ (You accepted|Up/Down)" || { screen; fail "no status bar"; }

echo "--- the chat screen at 90x24:"
screen
type_line "/quit"
wait_exit "/quit"

# Ctrl-C leaves as cleanly.
start_chat respawn-pane -t chat
wait_for "title bar again" "^ holdfast  \\$alice" 300
T send-keys -t chat C-c
wait_exit "Ctrl-C"

kill -TERM "$server_pid"
for _ in $(seq 100); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$server_pid" 2>/dev/null && fail "holdfastd did not stop on SIGTERM"
rc=0
wait "$server_pid" || rc=$?
server_pid=
[ $rc = 0 ] || fail "holdfastd exited with $rc"
echo "PASS: holdfast chat end to end"
