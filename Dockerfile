# Pictune: the bot with its embedded engine (default), or a Celery GPU worker.
#
# CPU image (bot + embedded engine, the default):
#   docker build -t pictune .
#   docker run --env-file .env -v pictune-data:/data -p 8080:8080 pictune            # pictune serve
# CUDA image for GPU workers (torch's CUDA wheels carry the CUDA runtime; the host needs
# the NVIDIA driver and the NVIDIA Container Toolkit):
#   docker build -t pictune:cuda --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 \
#                --build-arg EXTRAS=discord,slack,scale,ml .
#   docker run --gpus device=0 --env-file .env -e PICTUNE_QUEUE=celery -e PICTUNE_DEVICE=cuda \
#              -v pictune-data:/data pictune:cuda worker
# BAKE_INDEX=1 builds the tune library index (about 13k tunes, ~1-2 min) into the image, so
# the first piece does not wait for it.
#
# Not built in this project's CI (no Docker engine there): keep it simple and check by hand.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
ARG EXTRAS=discord,slack,scale
ARG BAKE_INDEX=0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PICTUNE_DATA_DIR=/data \
    PICTUNE_CACHE_DIR=/opt/pictune/cache \
    HF_HOME=/opt/pictune/cache/hf

# FluidSynth and a General MIDI SoundFont render audio; abcm2ps + rsvg-convert draw scores;
# libsndfile writes MP3/Ogg; tini reaps the worker processes the local backend starts.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        fluidsynth libfluidsynth3 fluid-soundfont-gm \
        abcm2ps librsvg2-bin libsndfile1 tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin pictune \
 && mkdir -p /data /opt/pictune/cache \
 && chown -R pictune:pictune /data /opt/pictune

WORKDIR /app

# torch first, from the index that matches the image (CPU or CUDA): a plain `pip install`
# on Linux would pull the CUDA build and several GB of NVIDIA wheels into the CPU image.
RUN pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"

COPY pyproject.toml README.md constraints.txt ./
COPY engine ./engine
COPY storage ./storage
COPY service ./service
COPY bot ./bot
# constraints.txt pins torch to the version installed above, so nothing replaces it.
RUN pip install -c constraints.txt ".[${EXTRAS}]"

USER pictune
RUN if [ "${BAKE_INDEX}" = "1" ]; then pictune index build; fi

VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import os,sys,urllib.request; p=os.environ.get('PICTUNE_HTTP_PORT','8080'); sys.exit(0 if p=='0' else urllib.request.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=4).status!=200)"

ENTRYPOINT ["/usr/bin/tini", "--", "pictune"]
CMD ["serve"]
