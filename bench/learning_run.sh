#!/usr/bin/env bash
# Issue 6 on the GPU machine (after `source .devsite/env.sh && source bench/device_env.sh`):
#   bash bench/learning_run.sh train  RUN_DIR [--set k=v ...]  # asks the run to stop (STOP file) once it reaches
#                                                              # STOP_AT_STEP (100) or after STOP_AFTER_S (400 s)
#   bash bench/learning_run.sh resume RUN_DIR [--set k=v ...]  # continues from the checkpoint written at the stop
#   bash bench/learning_run.sh eval   RUN_DIR                  # base vs tuned on 200 GSM8K test questions
# eval adds the rlvr-math preset's correctness reward (and GSM8K's '#### <answer>' pattern) to the run's format
# rewards, so that accuracy is measured too; format compliance still comes from the format rewards alone.
set -uo pipefail
phase=$1 run=$2
shift 2
case $phase in
  train)
    python3 -m engine train bench/learning.yaml --run-dir "$run" "$@" &
    pid=$! start=$SECONDS
    while kill -0 $pid 2>/dev/null; do
      step=$(python3 -c "import json; print(json.load(open('$run/status.json')).get('step') or 0)" 2>/dev/null)
      if [ "${step:-0}" -ge "${STOP_AT_STEP:-100}" ] || [ $((SECONDS - start)) -ge "${STOP_AFTER_S:-400}" ]; then
        echo "asking $run to stop at step ${step:-0} after $((SECONDS - start)) s"; touch "$run/STOP"; break
      fi
      sleep 3
    done
    wait $pid ;;
  resume)  # exec: a `timeout -s TERM` around this script then reaches the trainer, which stops gracefully
    exec python3 -m engine train "$run" --resume "$@" ;;
  eval)
    python3 - "$run" <<'PY'
import json, sys
import yaml
from engine.cli import main

rewards = yaml.safe_load(open("presets/reasoning.yaml"))["rewards"]
rewards += [r for r in yaml.safe_load(open("presets/rlvr-math.yaml"))["rewards"] if r["name"] == "correct"]
sys.exit(main(["eval", sys.argv[1], "--data", ".payload/test.jsonl", "--limit", "200",
               "--set", "rewards=" + json.dumps(rewards), "--set", "data.answer_pattern=" + json.dumps(r"####\s*(.+?)\s*$")]))
PY
    ;;
  *) sed -n 2,8p "$0"; exit 2 ;;
esac
