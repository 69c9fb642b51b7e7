# syntax=docker/dockerfile:1
# volume-engine image: `docker build -t volume-engine .`
#
# Two stages so that nothing used to build the package (pip's build environment, setuptools,
# wheel, the sources, the Rust toolchain, the C compiler and linker) reaches the runtime image.
# The dependencies ship manylinux wheels (hiredis, orjson); the toolchain in the build stage is
# for the package's own native core (native/, Rust), which the build checks is there (without
# it the engine would quietly run the slower pure-Python core). The runtime image is the slim
# base plus one virtualenv and the config.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG RUST_IMAGE=rust:1.95-slim-bookworm

FROM ${RUST_IMAGE} AS rust

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:$PATH
WORKDIR /src
# gcc is rustc's linker (and builds the C profile kernel while it remains).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY --from=rust /usr/local/rustup /usr/local/rustup
COPY --from=rust /usr/local/cargo /usr/local/cargo
# A pip-less venv: the base image's pip installs into it, so no installer ships in the result.
RUN python -m venv --without-pip /opt/venv
COPY pyproject.toml setup.py README.md ./
COPY service/ service/
COPY config/ config/
COPY native/ native/
RUN python -m pip --python /opt/venv/bin/python install --no-cache-dir --no-compile . \
    && /opt/venv/bin/python -c "import shared_core.volume_files.cli, shared_core.volume_files._native, shared_core.volume_files._profile_kernel"

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="volume-engine" \
      org.opencontainers.image.description="Real-time volume analytics for NSE markets from Redis Streams"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VOLUME_CONFIG_DIR=/app/config \
    VOLUME_METRICS_HOST=0.0.0.0 \
    VOLUME_METRICS_PORT=9108
RUN groupadd --system --gid 10001 volume \
    && useradd --system --uid 10001 --gid volume --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin volume
COPY --from=build /opt/venv /opt/venv
COPY config/ /app/config/
WORKDIR /app
USER 10001:10001
EXPOSE 9108
# No curl in a slim image: the interpreter does the probe. Any non-2xx answer or no answer
# within 3 s raises, and the exit status is 1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('VOLUME_METRICS_PORT', '9108') + '/healthz', timeout=3)"]
ENTRYPOINT ["volume-engine"]
CMD ["run"]
