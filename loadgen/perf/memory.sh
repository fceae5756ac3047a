#!/usr/bin/env bash
# Memory over a long run: a 14-day window of a shipped scenario, compressed, replayed with the
# reference profile against an nginx stub of the API (api-stub.conf.in), sampling the
# generator's resident set size (VmRSS) every second. Prints the samples at the start, middle
# and end, and writes every sample to $OUT (CSV: t_s, rss_kib).
#
# usage: loadgen/perf/memory.sh [SCALE=40] [SPEEDUP=8064] [SCENARIO=north-quake-snow-2012]
#   (14 days at x8064 take 150 s); FROM/TO override the window, OUT the CSV path, CAP the
#   in-flight cap (default 200: it bounds the connections when the shared machine stalls the
#   generator or the stub, and the stall then shows as lateness instead).
set -euo pipefail
SCALE=${1:-40}; SPEEDUP=${2:-8064}; SCENARIO=${3:-north-quake-snow-2012}
FROM=${FROM:-2012-01-25}; TO=${TO:-2012-02-07}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CCLAB=${CCLAB:-$ROOT/target/release/cclab}
OUT=${OUT:-/tmp/cclab-memory.csv}
CAP=${CAP:-200}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIR=$(mktemp -d /tmp/cclab-mem.XXXXXX)
mkdir -p "$DIR/tmp"
sed -e "s#@DIR@#$DIR#g" -e "s#@PORT@#$PORT#g" "$HERE/api-stub.conf.in" > "$DIR/nginx.conf"
taskset -c 1 nginx -c "$DIR/nginx.conf" -p "$DIR/"
trap 'kill -QUIT "$(cat "$DIR/nginx.pid")"; sleep 0.5; rm -rf "$DIR"' EXIT
sleep 0.5

"$CCLAB" loadgen plan "$SCENARIO" --from "$FROM" --to "$TO" --scale "$SCALE" --speedup "$SPEEDUP"
taskset -c 0 "$CCLAB" loadgen run "$SCENARIO" --from "$FROM" --to "$TO" --scale "$SCALE" \
    --speedup "$SPEEDUP" --target "http://127.0.0.1:$PORT" --var operator_token=stub-token-0000 \
    --max-in-flight "$CAP" --progress never --out "$DIR/report.json" > "$DIR/summary.txt" &
PID=$!
echo "t_s,rss_kib" > "$OUT"
t=0
while kill -0 "$PID" 2> /dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status" 2> /dev/null || true)
    [ -n "$rss" ] && echo "$t,$rss" >> "$OUT"
    sleep 1; t=$((t + 1))
done
wait "$PID" || true
cat "$DIR/summary.txt"
python3 - "$OUT" <<'PY'
import csv, sys
rows = [(int(r["t_s"]), int(r["rss_kib"])) for r in csv.DictReader(open(sys.argv[1]))]
n = len(rows)
pick = {"start (t=5 s)": rows[min(5, n - 1)], "middle": rows[n // 2], "end": rows[-1]}
for k, (t, kib) in pick.items():
    print(f"RSS {k:<14} t={t:>4} s  {kib / 1024:7.1f} MiB")
print(f"RSS min {min(r[1] for r in rows) / 1024:.1f} MiB, max {max(r[1] for r in rows) / 1024:.1f} MiB over {n} samples")
PY
