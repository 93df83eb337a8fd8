#!/usr/bin/env bash
# Runs `mwstore bench --scenario small` against two server binaries, alternately, ROUNDS times
# each, on fresh data directories, with the same bench client (the second binary), and prints
# each run's summary: a before/after comparison for a change on a hot path.
#
#   bench/ab.sh BEFORE_BIN AFTER_BIN [ROUNDS] [-- extra bench arguments]
#
# Set AB_IDLE=N to hold N half-open connections against the server during each run (needs
# python3; the connections come from 127.0.x.y so that the per-address cap does not apply).
set -euo pipefail
BEFORE="$1"; AFTER="$2"; ROUNDS="${3:-2}"
shift $(( $# >= 3 ? 3 : $# ))
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
IDLE="${AB_IDLE:-0}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

run() {
  local label="$1" bin="$2" dir port pid pw idle_pid=""
  dir="$(mktemp -d /tmp/mwstore-ab.XXXXXX)"
  cat > "$dir/config.toml" <<TOML
max_upload_size = 4294967296
request_header_timeout = 600
keepalive_timeout = 600
max_connections = 20000
max_connections_per_address = 20000
TOML
  # The older binary may not know the front-door settings: give it only what it knows.
  if ! "$bin" user list --data-dir "$dir/data" --config "$dir/config.toml" >/dev/null 2>&1; then
    echo "max_upload_size = 4294967296" > "$dir/config.toml"
  fi
  "$bin" serve --data-dir "$dir/data" --config "$dir/config.toml" --listen 127.0.0.1:0 > "$dir/out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$dir/out" && break; sleep 0.1; done
  port="$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$dir/out" | grep -o '[0-9]*$')"
  "$bin" user add Bench --password bench-password-1 --data-dir "$dir/data" --config "$dir/config.toml" >/dev/null
  pw="$("$bin" botpassword add Bench bench --json --data-dir "$dir/data" --config "$dir/config.toml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lgpassword"])')"
  if [ "$IDLE" -gt 0 ]; then
    python3 "$HERE/idle_conns.py" 127.0.0.1 "$port" "$IDLE" "$pid" 100000 > "$dir/idle.out" 2>&1 &
    idle_pid=$!
    for _ in $(seq 300); do grep -q "idle connections" "$dir/idle.out" 2>/dev/null && break; sleep 0.2; done
    sed -n 1p "$dir/idle.out"
  fi
  echo "== $label ($bin)"
  MWSTORE_PASSWORD="$pw" "$AFTER" bench --api "http://127.0.0.1:$port/w/api.php" --user Bench@bench \
    --server-pid "$pid" --scenario small "${EXTRA[@]}"
  [ -n "$idle_pid" ] && kill "$idle_pid" 2>/dev/null || true
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

for r in $(seq "$ROUNDS"); do
  run "before, round $r" "$BEFORE"
  run "after, round $r" "$AFTER"
done
