#!/bin/sh
# Container entrypoint: GPU preflight (docker/preflight.py prints one paragraph and sets GRPO_STUDIO_CPU_DEMO=1 when
# no usable GPU is there), then exec of the command, `python -m app` by default (the image's CMD).
set -eu
exec python "$(dirname "$0")/preflight.py" "$@"
