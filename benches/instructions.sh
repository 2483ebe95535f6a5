#!/bin/bash
# Instructions per submit, counted by callgrind in the server process alone:
# stable where this machine's req/s figures swing by half between runs.
#
#   cargo build --release --manifest-path benches/Cargo.toml
#   bash benches/instructions.sh benches/target/release/asyncep-benches memory memory-measured
#
# Each server kind (`serve <kind>` of the suite) runs under callgrind; the
# suite's own load generator warms it for 2 s, the counters are zeroed, 6 s
# of load (4 connections) are counted, and the total is divided by the
# requests served.
set -euo pipefail
bin=$1
shift
for kind in "$@"; do
  port=$((20000 + RANDOM % 10000))
  out=$(mktemp -d)
  REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379} valgrind --tool=callgrind \
    --callgrind-out-file="$out/cg.out" "$bin" serve "$kind" "127.0.0.1:$port" \
    >"$out/stdout" 2>"$out/stderr" &
  server=$!
  for _ in $(seq 1 120); do
    grep -q ready "$out/stdout" 2>/dev/null && break
    sleep 0.5
  done
  "$bin" load "127.0.0.1:$port" 2 4 >/dev/null
  callgrind_control -z "$server" >/dev/null
  "$bin" load "127.0.0.1:$port" 6 4 >"$out/load.json"
  callgrind_control -d "$server" >/dev/null
  sleep 1
  kill "$server"
  wait "$server" 2>/dev/null || true
  requests=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['requests'])" "$out/load.json")
  instructions=$(awk '/^summary:/ {print $2}' "$out/cg.out.1")
  echo "$kind: $((instructions / requests)) instructions per submit ($requests submits)"
  rm -rf "$out"
done
