#!/usr/bin/env bash
# `make test-image`: builds the image from the unmodified Dockerfile and tests the running container (tests/image/).
#
#   1. a Docker engine: the running one, else (as root, on Debian or Ubuntu) Debian's docker.io started by hand, plus
#      Compose v2 as a CLI plugin when the host has only Compose v1;
#   2. the base image that FROM names: the local one, else pulled, else (no registry answers) made with debootstrap
#      from Debian's archive and tagged with FROM's exact name. Only that locally made base carries this host's CA
#      certificates (for an HTTPS proxy that re-signs traffic) and a pip.conf pointing pip at the system store;
#   3. `docker build -t grpo-studio:latest .`, timed; its size;
#   4. pytest tests/image: health, uid, volume, the browser walkthrough, docker stop/start, passwords, compose.
#
# Skips (exit 0, with the reason) only when no Docker engine can be started. Environment: PYTHON (the venv with pytest
# and playwright; default .venv/bin/python), DOCKER (the docker CLI), IMAGE (default grpo-studio:latest),
# PYTEST_ARGS (extra pytest arguments, e.g. "-k compose").
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
IMAGE=${IMAGE:-grpo-studio:latest}
STATE_DIR=${STATE_DIR:-/var/tmp/grpo-studio-test-image}  # dockerd's log and pid when this script started it
say() { printf '\n== test-image: %s\n' "$*"; }
skip() { printf '\nmake test-image SKIPPED: %s\n' "$*"; exit 0; }
now() { date +%s; }
started=$(now)

# ---- 1. a Docker engine ---------------------------------------------------------------------------------------------
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo -n "$@"; fi; }
can_be_root() { [[ $(id -u) == 0 ]] || sudo -n true 2>/dev/null; }
apt_install() { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=600 -y -qq \
    --no-install-recommends "$@" >/dev/null; }

# Compose v2 as a CLI plugin from Debian trixie's docker-compose package (Debian's archive, signature-checked by apt):
# Debian bookworm's own docker-compose is Compose v1, which rejects docker-compose.yml's top-level `name:`.
install_compose_v2() {
    local work plugin=/usr/local/lib/docker/cli-plugins/docker-compose
    work=$(mktemp -d)
    echo "deb http://deb.debian.org/debian trixie main" >"$work/sources.list"
    local options=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
                   -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o Debug::NoLocking=1
                   -o APT::Sandbox::User="$(id -un)")
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
    apt-get "${options[@]}" update -qq
    (cd "$work" && apt-get "${options[@]}" download docker-compose >/dev/null)
    dpkg-deb -x "$work"/docker-compose_*.deb "$work/x"
    as_root install -D -m 755 "$work/x/usr/libexec/docker/cli-plugins/docker-compose" "$plugin"
    # Debian's docker CLI looks in /usr/libexec/docker/cli-plugins, others in /usr/local/lib/docker/cli-plugins.
    as_root mkdir -p /usr/libexec/docker/cli-plugins
    as_root ln -sf "$plugin" /usr/libexec/docker/cli-plugins/docker-compose
    rm -rf "$work"
}

ensure_engine() {
    DOCKER=${DOCKER:-docker}
    if ! $DOCKER info >/dev/null 2>&1; then
        if ! command -v dockerd >/dev/null; then
            can_be_root || skip "no Docker engine runs and installing one (Debian's docker.io) needs root"
            command -v apt-get >/dev/null || skip "no Docker engine runs and this host has no apt-get to install one"
            say "installing Debian's docker.io"
            as_root apt-get update -qq
            apt_install docker.io
        fi
        can_be_root || skip "dockerd is installed but not running, and starting it needs root"
        say "starting dockerd (log: $STATE_DIR/dockerd.log)"
        as_root mkdir -p "$STATE_DIR"
        # Without systemd (containers, CI runners) nobody starts it; its defaults (overlay2, runc, bridge) suffice.
        as_root sh -c "nohup dockerd >'$STATE_DIR/dockerd.log' 2>&1 & echo \$! >'$STATE_DIR/dockerd.pid'"
        for _ in $(seq 120); do $DOCKER info >/dev/null 2>&1 && break; sleep 0.5; done
        $DOCKER info >/dev/null 2>&1 || skip "dockerd did not start: $(tail -3 "$STATE_DIR/dockerd.log" | tr '\n' ' ')"
    fi
    # BuildKit: a docker CLI without the buildx plugin falls back to the deprecated legacy builder; Debian's own
    # /usr/bin/docker (docker.io) has BuildKit built in.
    if ! $DOCKER buildx version >/dev/null 2>&1 && [[ -x /usr/bin/docker && $DOCKER != /usr/bin/docker ]]; then
        DOCKER=/usr/bin/docker
    fi
    if ! $DOCKER buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=1; fi
    if ! $DOCKER compose version >/dev/null 2>&1; then
        can_be_root || skip "Compose v2 (docker compose) is missing and installing it needs root"
        say "installing Compose v2 (from Debian trixie's docker-compose package)"
        install_compose_v2
    fi
    export DOCKER
    say "engine $($DOCKER version --format '{{.Server.Version}}'), CLI $DOCKER $($DOCKER version --format \
        '{{.Client.Version}}'), $($DOCKER compose version --short 2>/dev/null | sed 's/^/compose /')"
}

# ---- 2. the base image ----------------------------------------------------------------------------------------------
base_image() { awk 'toupper($1) == "FROM" { print $2; exit }' Dockerfile; }

make_local_base() {
    local base=$1 suite work
    suite=${base#debian:}; suite=${suite%-slim}
    [[ $base == debian:* ]] || { echo "test_image.sh: can only make Debian bases locally, not $base" >&2; exit 1; }
    command -v debootstrap >/dev/null || apt_install debootstrap
    work=$(mktemp -d)
    say "no registry answers: making $base locally with debootstrap (Debian $suite, minbase)"
    as_root debootstrap --variant=minbase --include=ca-certificates "$suite" "$work/rootfs" \
        http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
    as_root sh -c "printf '%s\n' 'deb http://deb.debian.org/debian $suite main' \
        'deb http://deb.debian.org/debian $suite-updates main' \
        'deb http://deb.debian.org/debian-security $suite-security main' >'$work/rootfs/etc/apt/sources.list'"
    # This test base only: the host's extra CA certificates (an HTTPS proxy that re-signs traffic) and pip told to
    # use the system store. The shipped image is built from the registry's base, which has neither.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        as_root cp /usr/local/share/ca-certificates/*.crt "$work/rootfs/usr/local/share/ca-certificates/"
        as_root chroot "$work/rootfs" update-ca-certificates >/dev/null 2>&1
        as_root sh -c "printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >'$work/rootfs/etc/pip.conf'"
    fi
    as_root sh -c "rm -rf '$work'/rootfs/var/lib/apt/lists/* '$work'/rootfs/var/cache/apt/archives/*.deb \
        '$work'/rootfs/tmp/*"
    as_root tar --numeric-owner --xattrs -C "$work/rootfs" -c . \
        | $DOCKER import --change 'CMD ["bash"]' --change 'LABEL org.grpo-studio.base=debootstrap' - "$base" >/dev/null
    as_root rm -rf "$work"
}

ensure_base() {
    local base; base=$(base_image)
    if $DOCKER image inspect "$base" >/dev/null 2>&1; then
        BASE_ORIGIN="local image ($($DOCKER image inspect -f '{{index .Config.Labels "org.grpo-studio.base"}}' "$base" \
            2>/dev/null | sed 's/^$/registry/'))"
    elif timeout 120 $DOCKER pull -q "$base" >/dev/null 2>&1; then
        BASE_ORIGIN="pulled from the registry"
    else
        can_be_root || skip "the base image $base cannot be pulled, and making it with debootstrap needs root"
        local t0; t0=$(now)
        make_local_base "$base"
        BASE_ORIGIN="made with debootstrap in $(( $(now) - t0 )) s"
    fi
    say "base $base: $BASE_ORIGIN"
}

# ---- 3. the build ---------------------------------------------------------------------------------------------------
build() {
    say "building $IMAGE from the Dockerfile (the first build downloads ~4 GB of wheels; ~15 min on 2 cores)"
    local t0; t0=$(now)
    set +e  # the build's own exit status, not grep's
    $DOCKER build --progress=plain --tag "$IMAGE" . 2>&1 | tee "$STATE_DIR/build.log" \
        | grep --line-buffered -E '^(#[0-9]+ (\[[^]]*\] [A-Z]|DONE|ERROR)|Step |ERROR|.*prune:)'
    local rc=${PIPESTATUS[0]}
    set -e
    [[ $rc == 0 ]] || { tail -40 "$STATE_DIR/build.log"; echo "test_image.sh: the build failed" >&2; exit 1; }
    BUILD_S=$(( $(now) - t0 ))
    # Earlier builds of this image, now untagged, would keep ~9 GB each on the disk: remove those (and only those).
    $DOCKER image prune --force --filter 'label=org.opencontainers.image.title=GRPO Studio' >/dev/null
    IMAGE_BYTES=$($DOCKER image inspect -f '{{.Size}}' "$IMAGE")
    say "built $IMAGE in $(( BUILD_S / 60 )) min $(( BUILD_S % 60 )) s; size $(numfmt --to=si --suffix=B "$IMAGE_BYTES")"
}

# ---- 4. the container tests -----------------------------------------------------------------------------------------
as_root mkdir -p "$STATE_DIR" 2>/dev/null || mkdir -p "$STATE_DIR"
as_root chmod 777 "$STATE_DIR" 2>/dev/null || true
ensure_engine
ensure_base
build
say "testing the container (tests/image)"
tests_rc=0
# shellcheck disable=SC2086  # PYTEST_ARGS is a list of arguments
GRPO_STUDIO_TEST_IMAGE=$IMAGE "$PYTHON" -m pytest tests/image -p no:cacheprovider ${PYTEST_ARGS:-} || tests_rc=$?
say "image $IMAGE: $(numfmt --to=si --suffix=B "$IMAGE_BYTES") ($IMAGE_BYTES bytes); build $(( BUILD_S / 60 )) min" \
    "$(( BUILD_S % 60 )) s; base: $BASE_ORIGIN; whole test-image $(( ($(now) - started) / 60 )) min"
exit $tests_rc
