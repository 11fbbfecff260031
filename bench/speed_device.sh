#!/usr/bin/env bash
# bench/grpo_bench.py on the GPU machine, its raw outputs collected for the reply (run from the repo root after
# `source .devsite/env.sh && source bench/device_env.sh`):
#   bash bench/speed_device.sh NAME [grpo_bench arguments...]
# writes $OUT/NAME-results.json (this call's results only), $OUT/NAME-logs.tgz (worker logs: recompilations,
# stall suspects, log.txt and events.jsonl of each run) and prints the table.
set -uo pipefail
name=$1; shift
OUT=${OUT:-/tmp/out}; work=/tmp/grpo-bench-$name
mkdir -p "$OUT" "$work"
python3 -m bench.grpo_bench --out "$work/results.json" --work-dir "$work" "$@"
status=$?
cp "$work/results.json" "$OUT/$name-results.json" 2>/dev/null
(cd "$work" && tar czf "$OUT/$name-logs.tgz" --exclude='checkpoints' --exclude='adapter' ./*.out ./*/log.txt \
    ./*/events.jsonl ./*/status.json ./*/clocks.jsonl \
    ./*/profile-* ./*.json 2>/dev/null)
exit $status
