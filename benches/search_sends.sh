#!/usr/bin/env bash
# Durable sends/s with and without message search: the pairs workload of examples/loadgen
# against the release server on a fresh fjall data directory, alternating a server that keeps
# its TantivyIndex (the default) with one started with --no-search, ROUNDS times in one run.
# Each line: round, mode, sends/s, server CPU µs per message, ack p99 (ms).
#
#   cargo build --release --example server --example loadgen
#   benches/search_sends.sh            # ROUNDS=3 DURATION=10 PAIRS=100 by default
#   PIN=1 benches/search_sends.sh      # the server on core 0, loadgen on core 1 (taskset)
#
# The index's work is off the send path (a bounded queue to one indexer thread), so what it may
# cost a send is CPU shared with the server on this 2-core machine: compare within one run.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
PAIRS=${PAIRS:-100}
BIN=${CARGO_TARGET_DIR:-target}/release/examples
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
    [ "$mode" = no-search ] && flags=(--no-search)
    : >"$dir/server.out"
    "${SERVER_CPU[@]}" "$BIN/server" --listen 127.0.0.1:0 --data-dir "$dir/data" --max-connections 20000 \
        --max-connections-per-address 20000 --no-rate-limits --log warn "${flags[@]}" >"$dir/server.out" 2>&1 &
    local pid=$! addr=""
    for _ in $(seq 1 100); do
        addr=$(sed -n 's|^kanect listening on http://||p' "$dir/server.out" || true)
        [ -n "$addr" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || { cat "$dir/server.out" >&2; kill "$pid"; return 1; }
    "${LOADGEN_CPU[@]}" "$BIN/loadgen" --server "http://$addr" --server-pid "$pid" --workload pairs --pairs "$PAIRS" \
        --window 16 --duration "$DURATION" >"$dir/loadgen.out" 2>/dev/null
    kill -TERM "$pid"
    wait "$pid" || true
    tail -n 1 "$dir/loadgen.out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
sends, cpu, p99 = r["sends_per_s"], r["server_cpu_us_per_message"], r["ack_latency_us"]["p99"] / 1000
print("%.0f sends/s  %s us/msg  ack p99 %.2f ms" % (sends, cpu, p99), end="")'
    if [ "$mode" = search ]; then
        du -sh "$dir/data/search" | awk '{printf "  index %s", $1}'
        grep -q "queue full" "$dir/server.out" && printf '  (the queue overflowed: a catch-up pass ran)'
    fi
    echo
    rm -rf "$dir"
}

for round in $(seq 1 "$ROUNDS"); do
    for mode in search no-search; do
        printf 'round %s %-9s ' "$round" "$mode"
        run "$mode"
    done
done
