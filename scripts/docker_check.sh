#!/usr/bin/env bash
# Builds the container image and tries it as an operator would, saying plainly what it could
# not do. Not part of CI (a build takes minutes and needs a Docker engine).
#
#   scripts/docker_check.sh [--base auto|registry|debootstrap|IMAGE] [--gpu]
#
# --base: where the image's Debian 12 + Python 3.11 base comes from. `registry`: the
#   Dockerfile's python:3.11-slim-bookworm. `debootstrap`: one made here from Debian's
#   packages (pictune-base:bookworm; needs root and debootstrap), for machines that cannot
#   reach the usual registry. `auto` (default): the registry's if it can be had, else
#   debootstrap. Anything else: that image.
# --gpu: also build the GPU image (EXTRAS=...,ml-gpu: torch's CUDA build, several GB).
#
# Steps: lint docker-compose.yml; build the CPU image with the tune index baked in; check it
# has no torch; `pictune doctor` and a compose from a sample image in containers with the
# network off; start the compose stack where its images (PostgreSQL, Redis) can be had.
set -uo pipefail
cd "$(dirname "$0")/.."

BASE=auto
GPU=0
while [ $# -gt 0 ]; do
  case "$1" in
    --base) BASE="$2"; shift 2 ;;
    --gpu) GPU=1; shift ;;
    *) echo "usage: $0 [--base auto|registry|debootstrap|IMAGE] [--gpu]" >&2; exit 2 ;;
  esac
done

REGISTRY_BASE=python:3.11-slim-bookworm
LOCAL_BASE=pictune-base:bookworm
TAG=pictune:check
done_list=()
not_done=()
failed=0
say() { echo "docker_check: $*"; }
ok() { say "ok: $*"; done_list+=("$*"); }
skip() { say "NOT DONE: $*"; not_done+=("$*"); }
fail() { say "FAILED: $*"; not_done+=("FAILED: $*"); failed=1; }

summary() {
  echo
  echo "docker_check: summary"
  for line in "${done_list[@]}"; do echo "  done      $line"; done
  for line in "${not_done[@]}"; do echo "  not done  $line"; done
  exit "$failed"
}

# ---------------------------------------------------------------- compose file
compose=()
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
fi
created_env=0
if [ ! -e .env ]; then : >.env; created_env=1; fi  # compose needs the file; an empty one
trap 'if [ "$created_env" = 1 ]; then rm -f .env; fi' EXIT
if [ ${#compose[@]} -eq 0 ]; then
  skip "docker-compose.yml not checked: neither 'docker compose' (v2) nor docker-compose is installed"
else
  version="$("${compose[@]}" version --short 2>/dev/null || "${compose[@]}" version 2>/dev/null | head -1)"
  if out="$("${compose[@]}" -f docker-compose.yml config -q 2>&1)"; then
    ok "docker-compose.yml is valid for ${compose[*]} $version"
  else
    fail "docker-compose.yml rejected by ${compose[*]} $version: $out"
  fi
  case "$version" in
    1.*) skip "not checked with Compose v2 (only docker-compose $version is installed here)" ;;
  esac
fi

# ---------------------------------------------------------------- engine
if ! command -v docker >/dev/null; then
  skip "no docker client: nothing built"
  summary
fi
if ! docker info >/dev/null 2>&1; then
  skip "no Docker engine answers (docker info failed): the image was not built or run"
  summary
fi
say "engine: $(docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null)"

# ---------------------------------------------------------------- base image
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
make_local_base() {
  if have_image "$LOCAL_BASE"; then say "base: $LOCAL_BASE is already here"; return 0; fi
  if [ "$(id -u)" != 0 ] || ! command -v debootstrap >/dev/null; then
    say "cannot make $LOCAL_BASE: needs root and debootstrap (apt-get install debootstrap)"
    return 1
  fi
  local root
  root="$(mktemp -d)"
  say "base: making $LOCAL_BASE with debootstrap (Debian 12, python3, python3-venv)"
  # The certificate authorities this machine adds (where a proxy re-signs TLS, pip inside
  # the build needs them as much as pip here does).
  if debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" http://deb.debian.org/debian >/tmp/pictune-debootstrap.log 2>&1 &&
    { cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true; } &&
    chroot "$root" update-ca-certificates >/dev/null 2>&1 &&
    tar -C "$root" -c . | docker import - "$LOCAL_BASE" >/dev/null; then
    rm -rf "$root"
    return 0
  fi
  say "debootstrap failed: see /tmp/pictune-debootstrap.log"
  rm -rf "$root"
  return 1
}
case "$BASE" in
  registry) base_image=$REGISTRY_BASE ;;
  debootstrap) make_local_base && base_image=$LOCAL_BASE || base_image= ;;
  auto)
    if have_image "$REGISTRY_BASE" || timeout 60 docker pull -q "$REGISTRY_BASE" >/dev/null 2>&1; then
      base_image=$REGISTRY_BASE
    else
      say "base: $REGISTRY_BASE cannot be pulled from here; using a local Debian base instead"
      make_local_base && base_image=$LOCAL_BASE || base_image=
    fi
    ;;
  *) base_image=$BASE ;;
esac
if [ -z "$base_image" ]; then
  skip "no base image: the image was not built"
  summary
fi

# ---------------------------------------------------------------- build
build() {  # tag, extras
  local started=$SECONDS
  if DOCKER_BUILDKIT=0 docker build -q --build-arg BASE_IMAGE="$base_image" \
    --build-arg BAKE_INDEX=1 --build-arg EXTRAS="$2" -t "$1" . >/tmp/pictune-build.log 2>&1; then
    local size
    size="$(docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.2f GB", $1 / 1e9}')"
    ok "built $1 (EXTRAS=$2, base $base_image, tune index baked in) in $((SECONDS - started)) s, $size"
    return 0
  fi
  tail -20 /tmp/pictune-build.log
  fail "building $1 (EXTRAS=$2): see /tmp/pictune-build.log"
  return 1
}
if ! build "$TAG" discord,slack,scale; then summary; fi

offline=(docker run --rm --network none)
if "${offline[@]}" --entrypoint python "$TAG" -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ('torch', 'transformers', 'sentence_transformers')))"; then
  ok "the CPU image has no torch, transformers or sentence-transformers"
else
  fail "the CPU image has torch, transformers or sentence-transformers"
fi

echo "--- pictune doctor, network off"
if "${offline[@]}" "$TAG" doctor; then
  ok "pictune doctor in the image, network off"
else
  fail "pictune doctor in the image, network off"
fi

out="$(mktemp -d)"
chmod 777 "$out"
echo "--- pictune compose samples/sunset.png, network off"
started=$SECONDS
if "${offline[@]}" -v "$PWD/samples:/samples:ro" -v "$out:/out" "$TAG" \
  compose /samples/sunset.png --duration 20 --out /out/piece &&
  [ -s "$out/piece/piece.mp3" ] && [ -s "$out/piece/piece.mid" ] && [ -s "$out/piece/score.png" ]; then
  ok "a piece composed in the image with the network off in $((SECONDS - started)) s ($(ls "$out/piece" | tr '\n' ' '))"
else
  fail "composing in the image with the network off"
fi
rm -rf "$out"

if [ "$GPU" = 1 ]; then
  build pictune:check-gpu discord,slack,scale,ml-gpu &&
    "${offline[@]}" pictune:check-gpu doctor >/dev/null
else
  skip "the GPU image (EXTRAS=...,ml-gpu) was not built: pass --gpu (downloads several GB)"
fi

# ---------------------------------------------------------------- the stack
services=(postgres:16-bookworm redis:7-bookworm)
missing=()
for image in "${services[@]}"; do
  have_image "$image" || timeout 60 docker pull -q "$image" >/dev/null 2>&1 || missing+=("$image")
done
if [ ${#missing[@]} -gt 0 ]; then
  skip "the compose stack was not started: ${missing[*]} cannot be pulled from here"
elif [ ${#compose[@]} -eq 0 ]; then
  skip "the compose stack was not started: no compose installed"
else
  project=pictune-check
  if PICTUNE_IMAGE=$TAG "${compose[@]}" -p "$project" up -d --no-build >/tmp/pictune-compose.log 2>&1; then
    healthy=0
    for _ in $(seq 60); do
      if curl -fsS http://127.0.0.1:8080/healthz >/dev/null 2>&1; then healthy=1; break; fi
      sleep 2
    done
    [ "$healthy" = 1 ] && ok "the compose stack started and the bot answers /healthz" ||
      fail "the compose stack started but /healthz never answered"
  else
    fail "the compose stack did not start: see /tmp/pictune-compose.log"
  fi
  "${compose[@]}" -p "$project" down -v >/dev/null 2>&1
fi
summary
