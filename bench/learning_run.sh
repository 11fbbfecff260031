#!/usr/bin/env bash
# Issue 6 on the GPU machine (after `source .devsite/env.sh && source bench/device_env.sh`):
#   bash bench/learning_run.sh train  CONFIG RUN_DIR [--set k=v ...]  # writes RUN_DIR/STOP (a graceful stop with a
#                                                                     # checkpoint) at STOP_AT_EPOCH
#   bash bench/learning_run.sh resume RUN_DIR [--set k=v ...]         # the same, continuing from that checkpoint
#   bash bench/learning_run.sh eval   RUN_DIR                         # base vs tuned, 200 GSM8K test questions
# STOP_AT_EPOCH is the clock time (date +%s) at which to stop; unset, the run is not stopped.
# eval adds the rlvr-math preset's correctness reward (and GSM8K's '#### <answer>' pattern) to a run that lacks it,
# so that accuracy is measured too; format compliance comes from the run's format rewards alone.
set -uo pipefail
phase=$1
shift
stop_at() {  # $1 pid, $2 run folder: the STOP file at STOP_AT_EPOCH, then wait for the run to save and exit
  while kill -0 "$1" 2>/dev/null; do
    if [ "$(date +%s)" -ge "${STOP_AT_EPOCH:-9999999999}" ]; then
      echo "asking $2 to stop at $(date)"; touch "$2/STOP"; break
    fi
    sleep 2
  done
  wait "$1"
}
case $phase in
  train)
    config=$1 run=$2; shift 2
    python3 -m engine train "$config" --run-dir "$run" "$@" & stop_at $! "$run" ;;
  resume)
    run=$1; shift
    python3 -m engine train "$run" --resume "$@" & stop_at $! "$run" ;;
  eval)
    python3 - "$1" <<'PY'
import json, sys
import yaml
from engine.cli import main

run = sys.argv[1]
rewards = yaml.safe_load(open(f"{run}/config.yaml"))["rewards"]
if not any(r["kind"] == "answer_match" for r in rewards):
    rewards += [r for r in yaml.safe_load(open("presets/rlvr-math.yaml"))["rewards"] if r["name"] == "correct"]
sys.exit(main(["eval", run, "--data", ".payload/test.jsonl", "--limit", "200", "--batch-size", "200",
               "--set", "rewards=" + json.dumps(rewards),
               "--set", "data.answer_pattern=" + json.dumps(r"####\s*(.+?)\s*$")]))
PY
    ;;
  *) sed -n 2,10p "$0"; exit 2 ;;
esac
