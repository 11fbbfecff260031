#!/usr/bin/env bash
# Proves that requirements/gpu.lock installs on the image's platform: linux x86_64, Debian trixie (glibc 2.41; uv's
# newest target is manylinux_2_40), CPython 3.13, from wheels only, and that it is closed: resolving it with
# dependencies pulls in no package it does not pin, except those requirements/excluded.txt leaves out on purpose (the
# image installs the lock with --no-deps). uv reads only metadata from PyPI here; no wheel is downloaded.
#
#   bash requirements/check_lock.sh                       check the lock (tests/test_docker.py runs this)
#   bash requirements/check_lock.sh --compile [--upgrade]  re-resolve requirements/gpu.in into the lock, then check
#
# uv: `$PYTHON -m uv` when that module is installed (PYTHON defaults to python3), else `uv` on PATH.
# LOCK=path checks another lock file (the tests use it to see a broken lock fail).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LOCK=${LOCK:-requirements/gpu.lock}
if "$PYTHON" -m uv --version >/dev/null 2>&1; then
    uv=("$PYTHON" -m uv)
elif command -v uv >/dev/null 2>&1; then
    uv=(uv)
else
    echo "check_lock.sh: uv is not installed (pip install uv)" >&2
    exit 2
fi

# --no-python-downloads: resolving for 3.13 needs no 3.13 interpreter; without it uv tries to fetch one first.
target=(--python-version 3.13 --python-platform x86_64-manylinux_2_40 --only-binary :all: --no-python-downloads)
# Declared dependencies that are never loaded (why: in the file); uv reads one name a line, comments are dropped here.
excludes=$(mktemp)
scratch=$(mktemp -d)
trap 'rm -rf "$excludes" "$scratch"' EXIT
grep -vE '^[[:space:]]*(#|$)' requirements/excluded.txt >"$excludes"

if [[ "${1:-}" == "--compile" ]]; then
    shift
    "${uv[@]}" pip compile requirements/gpu.in --excludes "$excludes" "${target[@]}" "$@" \
        --custom-compile-command "bash requirements/check_lock.sh --compile" --output-file "$LOCK" >/dev/null
fi

pinned=$(grep -cE '^[A-Za-z0-9._-]+==' "$LOCK")
plan=$("${uv[@]}" pip install --dry-run --target "$scratch" --excludes "$excludes" "${target[@]}" \
    -r "$LOCK" 2>&1) || { echo "$plan" >&2; echo "check_lock.sh: $LOCK does not install" >&2; exit 1; }
resolved=$(grep -oE '^Resolved [0-9]+ packages' <<<"$plan" | grep -oE '[0-9]+')
if [[ "$resolved" != "$pinned" ]]; then
    normalize() { awk -F'==' '{ name = tolower($1); gsub(/[_.]/, "-", name); print name "==" $2 }' | sort; }
    differ=$(comm -3 <(grep -oE '^[A-Za-z0-9._-]+==[^ ]+' "$LOCK" | normalize) \
        <(grep -oE '^ \+ [^ ]+' <<<"$plan" | cut -c4- | normalize) | tr -d '\t' | tr '\n' ' ')
    echo "check_lock.sh: the lock pins $pinned packages but installing it needs $resolved (differing: $differ);" \
        "re-run with --compile" >&2
    exit 1
fi
echo "check_lock.sh: $LOCK OK: $pinned packages, all wheels, for CPython 3.13 on manylinux_2_40 x86_64"
