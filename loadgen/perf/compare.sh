#!/usr/bin/env bash
# Side-by-side comparison of cclab's dispatcher with wrk and oha against the shared nginx
# reference (/work/shared/perf-reference/http): nginx pinned to CPU 1, every generator pinned
# to CPU 0, 50 connections. Prints one line per tool and run: requests completed, requests/s,
# generator CPU seconds (user + system, getrusage) and CPU microseconds per request (cclab twice:
# as is, and with `--spin 10us`, shown as "spin"); then the
# cclab dispatch lateness at a fixed 5,000 requests/s, each run after the lateness floor of a
# thread that does nothing but sleep to the same deadlines (floor.rs).
#
# usage: loadgen/perf/compare.sh [RUNS=3] [SECONDS=10] [RATE=100000]
#   CCLAB=path/to/cclab (default target/release/cclab), OHA=path/to/oha (default
#   /tmp/oha/bin/oha, skipped if missing: `cargo install oha --locked --root /tmp/oha`),
#   REF=the perf-reference http directory.
set -euo pipefail
RUNS=${1:-3}; SECS=${2:-10}; RATE=${3:-100000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CCLAB=${CCLAB:-$ROOT/target/release/cclab}
OHA=${OHA:-/tmp/oha/bin/oha}
REF=${REF:-/work/shared/perf-reference/http}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIR=$(mktemp -d /tmp/cclab-perf.XXXXXX)
chmod 755 "$DIR"  # nginx workers must read www/
bash "$REF/start_nginx.sh" "$PORT" "$DIR" 1 > "$DIR/nginx.log"
trap 'bash "$REF/stop_nginx.sh" "$DIR" > /dev/null; rm -rf "$DIR"' EXIT
URL=http://127.0.0.1:$PORT
CPU="taskset -c 0 python3 $HERE/cpu.py"

# report TOOL REQUESTS WALL_S: one result line from the last cpu.py measurement.
report() {
    python3 - "$1" "$2" "$3" "$DIR/cpu.json" <<'PY'
import json, sys
tool, n, wall, f = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
c = json.load(open(f))
print(f"{tool:<6} {int(n):>9} req {n / wall:>9.0f} req/s  cpu {c['cpu_s']:6.2f} s"
      f" (user {c['user_s']:.2f}, sys {c['sys_s']:.2f})  {c['cpu_s'] / n * 1e6:6.2f} us/req"
      f"  maxrss {c['maxrss_kb'] / 1024:.0f} MiB")
PY
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); nginx on CPU 1, generators on CPU 0, 50 connections, ${SECS} s"
for run in $(seq "$RUNS"); do
    echo "## run $run"
    out=$($CPU wrk -t1 -c50 -d"${SECS}s" "$URL/tiny.json" 2> "$DIR/cpu.json")
    n=$(sed -n 's/^ *\([0-9]*\) requests in \([0-9.]*\)s.*/\1/p' <<< "$out")
    wall=$(sed -n 's/^ *\([0-9]*\) requests in \([0-9.]*\)s.*/\2/p' <<< "$out")
    report wrk "$n" "$wall"

    if [ -x "$OHA" ]; then
        $CPU "$OHA" -c 50 -z "${SECS}s" --no-tui --output-format json "$URL/tiny.json" \
            > "$DIR/oha.json" 2> "$DIR/cpu.json"
        read -r n wall < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
n = sum(j["statusCodeDistribution"].values())
print(n, j["summary"]["total"])' "$DIR/oha.json")
        report oha "$n" "$wall"
    fi

    # Open loop at RATE with at most 50 requests in flight (50 keep-alive connections); then
    # the same with a 10 us spin (the loop polls for answers before it sleeps).
    for spin in 0s 10us; do
        $CPU "$CCLAB" loadgen run --rate "$RATE" --duration "${SECS}s" --profile "$HERE/nginx.toml" \
            --target "$URL" --max-in-flight 50 --progress never --max-lateness-p99 1h --spin "$spin" \
            --out "$DIR/cclab.json" > /dev/null 2> "$DIR/cpu.json" || true
        read -r n wall < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j["totals"]["ok"], j["run"]["wall_s"])' "$DIR/cclab.json")
        if [ "$spin" = 0s ]; then report cclab "$n" "$wall"; else report spin "$n" "$wall"; fi
        python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
t, l = j["totals"], j["steps"][0]["lateness"]
print("       planned %d sent %d ok %d; lateness p50 %d us p99 %d us"
      % (t["planned"], t["sent"], t["ok"], l["p50_us"], l["p99_us"]))' "$DIR/cclab.json"
    done
done

echo "## cclab dispatch lateness at 5,000 requests/s, 20 s, no cap; the machine's floor"
rustc -O -o "$DIR/floor" "$HERE/floor.rs"
for run in $(seq "$RUNS"); do
    taskset -c 0 "$DIR/floor"
    $CPU "$CCLAB" loadgen run --rate 5000 --duration 20s --profile "$HERE/nginx.toml" \
        --target "$URL" --progress never --out "$DIR/late.json" > /dev/null 2> "$DIR/cpu.json" || true
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
t, l, s = j["totals"], j["steps"][0]["lateness"], j["steps"][0]["service"]
print("late%s  ok %d/%d  lateness p50 %d us p99 %d us max %d us; service p50 %d us p99 %d us; cpu %.1f us/req"
      % (sys.argv[3], t["ok"], t["planned"], l["p50_us"], l["p99_us"], l["max_us"],
         s["p50_us"], s["p99_us"], c["cpu_s"] / t["ok"] * 1e6))' \
        "$DIR/late.json" "$DIR/cpu.json" "$run"
done
