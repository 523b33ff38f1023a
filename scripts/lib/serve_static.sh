# serve_static DIR LOG: serves DIR over HTTP on 127.0.0.1 with a free port (port 0), using
# Python's http.server. Sets SERVER_PID and SERVER_PORT; the caller kills SERVER_PID.
serve_static() {
  local dir=$1 log=$2
  python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$dir" >"$log" 2>&1 &
  SERVER_PID=$!
  SERVER_PORT=""
  for _ in $(seq 1 100); do
    SERVER_PORT=$(sed -nE 's/.*port ([0-9]+).*/\1/p' "$log" | head -1)
    [ -n "$SERVER_PORT" ] && return 0
    sleep 0.1
  done
  echo "static server did not start: $(cat "$log")" >&2
  return 1
}
