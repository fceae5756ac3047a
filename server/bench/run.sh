#!/bin/sh
# Benchmarks `cclab serve` on loopback: max POST/s and GET/s with wrk, then open-loop latency at
# half the targets (2,500 POST/s, 10,000 GET/s) with the load example.
# Usage, from the repository root:
#   cargo build --release -p cclab -p cclab-server --example load && sh server/bench/run.sh
# Needs wrk (apt-get install wrk). Uses a fresh database in a temporary directory and a free
# loopback port (the server writes the address it bound to --port-file).
set -eu
T=${CARGO_TARGET_DIR:-target}/release
B=$(dirname "$0")
DIR=$(mktemp -d)
"$T/cclab" serve --addr 127.0.0.1:0 --port-file "$DIR/addr" --db "$DIR/cases.db" --log warn \
    > "$DIR/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
i=0
until [ -s "$DIR/addr" ]; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 $PID 2>/dev/null; then cat "$DIR/serve.log"; exit 1; fi
  sleep 0.1
done
ADDR=$(cat "$DIR/addr")
echo "server at $ADDR"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== wrk POST /api/v1/contacts, closed loop, 64 connections"
wrk -t2 -c64 -d10s --latency -s "$B/post.lua" http://$ADDR | grep -E "Requests/sec|50%|99%|Non-2xx|errors"
N=$(curl -s http://$ADDR/api/v1/stats | sed 's/.*"total":\([0-9]*\).*/\1/')
echo "cases stored: $N"
echo "== wrk GET /api/v1/cases/{n}, closed loop, 64 connections"
MAX_CASE=$N wrk -t2 -c64 -d10s --latency -s "$B/get.lua" http://$ADDR | grep -E "Requests/sec|50%|99%|Non-2xx|errors"
echo "== open loop POST at 2,500/s"
"$T/examples/load" --addr $ADDR --mode post --rate 2500 --duration 20 --connections 64
echo "== open loop GET at 10,000/s"
"$T/examples/load" --addr $ADDR --mode get --rate 10000 --duration 20 --connections 64 --max-case "$N"
curl -s http://$ADDR/metrics | grep -E "^cclab_store"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
