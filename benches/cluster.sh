#!/usr/bin/env bash
# Kanect on PostgreSQL + NATS: the pairs workload of examples/loadgen against one node and
# against two nodes of one cluster (each pair's second user on the second node, so every message
# crosses nodes), ROUNDS times, alternating the setups. Each line: round, setup, binary,
# delivered/s, server CPU µs per delivery (both nodes together), PostgreSQL's CPU µs per
# delivery (every `postgres` process), send→deliver p99 (ms).
#
#   cargo build --release -p kanect-server --features postgres,nats && cargo build --release --example loadgen
#   benches/cluster.sh                      # ROUNDS=3 DURATION=10 PAIRS=100 WINDOW=16
#   RATE=5000 benches/cluster.sh            # a fixed total rate instead of saturation
#   KANECT=old=/tmp/kanect-old,new=target/release/kanect benches/cluster.sh   # A/B, alternated
#
# The nodes run on core 0 (`taskset -c 0`; two nodes share it, so they get the CPU one node
# had), the load generator on core 1; PostgreSQL runs where the kernel puts it, and its CPU is
# reported beside the server's. PG (PostgreSQL URL, default the local test database) gets
# `sslmode=disable` unless PGSSL says otherwise: on a trusted link, as the older figures were
# taken. NATS is at BUS (default nats://127.0.0.1:4222). Each run uses a fresh schema and bus
# prefix and drops the schema afterwards.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
PAIRS=${PAIRS:-100}
WINDOW=${WINDOW:-16}
RATE=${RATE:-0}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test}
PGSSL=${PGSSL:-disable}
BUS=${BUS:-nats://127.0.0.1:4222}
TARGET=${CARGO_TARGET_DIR:-target}/release
KANECT=${KANECT:-kanect=$TARGET/kanect}
SETUPS=${SETUPS:-1node 2nodes}
ulimit -n 20000

case "$PG" in *\?*) STORE="$PG&sslmode=$PGSSL" ;; *) STORE="$PG?sslmode=$PGSSL" ;; esac

start_node() { # binary schema prefix out; appends the pid to $pids; address in $out once listening
    local binary=$1 schema=$2 prefix=$3 out=$4
    taskset -c 0 "$binary" --listen 127.0.0.1:0 --store "$STORE" --store-schema "$schema" --bus "$BUS" \
        --bus-prefix "$prefix" --no-search --max-connections 20000 --max-connections-per-address 20000 \
        --no-rate-limits --log warn >"$out" 2>&1 &
    pids+=($!)
}

address_of() { # out → host:port
    local addr=""
    for _ in $(seq 1 100); do
        addr=$(sed -n 's|^kanect listening on http://||p' "$1" || true)
        [ -n "$addr" ] && { echo "$addr"; return 0; }
        sleep 0.1
    done
    cat "$1" >&2
    return 1
}

cleanup() { # stops this run's nodes and drops its schema, also when a step failed
    [ "${#pids[@]}" -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null && wait "${pids[@]}" 2>/dev/null
    [ -n "$schema" ] && psql -q "$PG" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1
    [ -n "$dir" ] && rm -rf "$dir"
    pids=() schema="" dir=""
}
pids=() schema="" dir=""
trap cleanup EXIT

run() { # setup binary → one result line
    local setup=$1 binary=$2 prefix
    dir=$(mktemp -d)
    schema="bench_$(date +%s)_$RANDOM"
    prefix="bench-$RANDOM$RANDOM"
    pids=()
    local args=()
    start_node "$binary" "$schema" "$prefix" "$dir/a.out"
    args+=(--server "http://$(address_of "$dir/a.out")" --server-pid "${pids[0]}")
    if [ "$setup" = 2nodes ]; then
        start_node "$binary" "$schema" "$prefix" "$dir/b.out"
        args+=(--peer-server "http://$(address_of "$dir/b.out")" --peer-pid "${pids[1]}")
    fi
    taskset -c 1 "$TARGET/examples/loadgen" "${args[@]}" --postgres-cpu --workload pairs --pairs "$PAIRS" \
        --window "$WINDOW" --rate "$RATE" --duration "$DURATION" >"$dir/loadgen.out" 2>"$dir/loadgen.err" || {
        cat "$dir/loadgen.err" >&2
    }
    tail -n 1 "$dir/loadgen.out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
p99 = r["latency_us"]["p99"] / 1000 if r["latency_us"] else float("nan")
print("%7.0f delivered/s  server %6s us  postgres %6s us  p99 %.1f ms  errors %d" % (
    r["deliveries_per_s"], r["server_cpu_us_per_message"], r["postgres_cpu_us_per_message"], p99, r["errors"]))' || true
    cleanup
}

IFS=, read -r -a BINARIES <<<"$KANECT"
for round in $(seq 1 "$ROUNDS"); do
    for setup in $SETUPS; do
        for named in "${BINARIES[@]}"; do
            printf 'round %s %-7s %-8s ' "$round" "$setup" "${named%%=*}"
            run "$setup" "${named#*=}"
        done
    done
done
