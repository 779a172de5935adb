#!/usr/bin/env bash
# Fuzzes one target of this directory with cargo-fuzz and libFuzzer, on stable Rust.
#
#   fuzz/run.sh TARGET [SECONDS]   fuzz for SECONDS (default 600), one process, at nice 19
#   fuzz/run.sh --merge TARGET [N] minimise seeds + working corpus into the committed seeds (N files)
#   fuzz/run.sh --list             the targets
#
# No sanitizer (`-s none`): AddressSanitizer needs nightly's `-Zsanitizer`, the crates under
# test forbid `unsafe`, and what the targets look for (panics, overflow with debug assertions
# on, broken properties) needs none; it also roughly doubles the executions per second.
# New inputs go to work/TARGET (ignored by git); corpus/TARGET is the small seed corpus that
# is committed, and crashing inputs land in artifacts/TARGET. The log of a run is
# work/TARGET.log; its last lines hold the executions, exec/s and coverage (cov:, ft:).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

case "${1:-}" in
  --list)
    exec cargo fuzz list
    ;;
  --merge)
    target=${2:?usage: fuzz/run.sh --merge TARGET [MAX_FILES]}
    nice -n 19 cargo fuzz build -s none "$target"
    rm -rf "work/$target.min" "work/$target.merge" && mkdir -p "work/$target" "work/$target.min"
    # libFuzzer's merge runs every input of the seeds and the working corpus once and records
    # the edges each covers (counters off: edges, not hit counts); pick.py keeps the named
    # seeds and then the inputs that add the most edges, up to MAX_FILES (default 40).
    nice -n 19 "target/x86_64-unknown-linux-gnu/release/$target" -merge=1 -use_counters=0 \
      -merge_control_file="work/$target.merge" "work/$target.min" "corpus/$target" "work/$target" 2>&1 | tail -1
    python3 pick.py "work/$target.merge" "corpus/$target" "${3:-40}"
    for corpus in "corpus/$target" "work/$target"; do
      printf '%s: ' "$corpus"
      nice -n 19 "target/x86_64-unknown-linux-gnu/release/$target" -runs=0 "$corpus" 2>&1 |
        grep -oE 'INITED cov: [0-9]+ ft: [0-9]+' || echo
    done
    ;;
  "" | -*)
    sed -n '2,7p' "$0"
    exit 2
    ;;
  *)
    target=$1
    seconds=${2:-600}
    mkdir -p "work/$target" "corpus/$target"
    echo "fuzzing $target for $seconds s; log: fuzz/work/$target.log"
    status=0
    nice -n 19 cargo fuzz run -s none "$target" "work/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 >"work/$target.log" 2>&1 || status=$?
    grep -E '^#[0-9]+\s+DONE|^Done|stat::number_of_executed_units|stat::average_exec_per_sec|SUMMARY|panicked' \
      "work/$target.log" || true
    exit "$status"
    ;;
esac
