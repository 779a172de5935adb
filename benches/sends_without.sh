#!/usr/bin/env bash
# What a feature of the server costs durable sends: the pairs workload of examples/loadgen
# against the release server on a fresh fjall data directory, alternating the default server
# with one started with FLAG (the feature off: --no-search, --no-push), ROUNDS times in one run.
# Each line: round, mode, sends/s, server CPU µs per message, ack p99 (ms).
#
#   cargo build --release -p kanect-server && cargo build --release --example loadgen
#   benches/sends_without.sh --no-search   # ROUNDS=3 DURATION=10 PAIRS=100 by default
#   PIN=1 benches/sends_without.sh --no-push   # the server on core 0, loadgen on core 1 (taskset)
#
# The search index's and the pushes' work is off the send path (a bounded queue each), so what
# they may cost a send is CPU shared with the server on this 2-core machine: compare within
# one run.
set -euo pipefail
FLAG=${1:?usage: sends_without.sh FLAG (--no-search, --no-push)}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
PAIRS=${PAIRS:-100}
BIN=${CARGO_TARGET_DIR:-target}/release
ulimit -n 20000
SERVER_CPU=()
LOADGEN_CPU=()
if [ "${PIN:-0}" = 1 ]; then
    SERVER_CPU=(taskset -c 0)
    LOADGEN_CPU=(taskset -c 1)
fi

run() { # mode → one result line
    local mode=$1 dir
    dir=$(mktemp -d)
    local flags=()
    [ "$mode" = "$FLAG" ] && flags=("$FLAG")
    : >"$dir/server.out"
    "${SERVER_CPU[@]}" "$BIN/kanect" --listen 127.0.0.1:0 --data-dir "$dir/data" --max-connections 20000 \
        --max-connections-per-address 20000 --no-rate-limits --log warn "${flags[@]}" >"$dir/server.out" 2>&1 &
    local pid=$! addr=""
    for _ in $(seq 1 100); do
        addr=$(sed -n 's|^kanect listening on http://||p' "$dir/server.out" || true)
        [ -n "$addr" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || { cat "$dir/server.out" >&2; kill "$pid"; return 1; }
    "${LOADGEN_CPU[@]}" "$BIN/examples/loadgen" --server "http://$addr" --server-pid "$pid" --workload pairs --pairs "$PAIRS" \
        --window 16 --duration "$DURATION" >"$dir/loadgen.out" 2>/dev/null
    kill -TERM "$pid"
    wait "$pid" || true
    tail -n 1 "$dir/loadgen.out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
sends, cpu, p99 = r["sends_per_s"], r["server_cpu_us_per_message"], r["ack_latency_us"]["p99"] / 1000
print("%.0f sends/s  %s us/msg  ack p99 %.2f ms" % (sends, cpu, p99), end="")'
    if [ "$mode" = default ] && [ "$FLAG" = --no-search ]; then
        du -sh "$dir/data/search" | awk '{printf "  index %s", $1}'
        grep -q "queue full" "$dir/server.out" && printf '  (the queue overflowed: a catch-up pass ran)'
    fi
    echo
    rm -rf "$dir"
}

for round in $(seq 1 "$ROUNDS"); do
    for mode in default "$FLAG"; do
        printf 'round %s %-11s ' "$round" "$mode"
        run "$mode"
    done
done
