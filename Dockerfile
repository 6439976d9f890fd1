# syntax=docker/dockerfile:1
# One image for every function: each Knative Service runs `codex-judge serve` and names its
# function with FUNCTION_SOURCE=functions/<snake_name>/main.py (see shared/runtime/serve.py).
# Build with `make image`.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: the wheel, installed with its runtime dependencies only, compiled ---
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY functions ./functions

# No extras: the `dev` tools and the `local` mesh (pgserver, kubectl) never reach the image.
# The venv has no pip of its own; the builder's pip installs into it.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip wheel --no-deps --wheel-dir /tmp/wheels . \
    && python -m venv --without-pip /opt/codex-judge \
    && python -m pip --python /opt/codex-judge/bin/python install --no-compile \
        /tmp/wheels/codex_judge-*.whl

# Cold start is import time (DESIGN §14): ship bytecode. unchecked-hash pycs are used without
# comparing source mtimes, which image layers do not promise to keep, and the root filesystem
# is read-only, so a stale check could only ever mean recompiling on every start.
RUN python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/codex-judge

# --- runtime: the venv on a slim base, a non-root numeric user, nothing written outside /tmp ---
FROM ${PYTHON_IMAGE}

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="codex-judge" \
      org.opencontainers.image.description="Judges finished Codex agent runs: stateless CloudEvent functions on Knative, Postgres as the only shared state" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="python:3.11-slim-bookworm"

COPY --from=builder /opt/codex-judge /opt/codex-judge

# /tmp is the only writable path (the Service mounts an emptyDir there): HOME, TMPDIR (gunicorn's
# worker heartbeat files) and the data directory point at it.
ENV PATH=/opt/codex-judge/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    CODEX_JUDGE_DATA_DIR=/tmp/codex-judge \
    PORT=8080

WORKDIR /tmp
USER 65532:65532
EXPOSE 8080

# `docker run IMAGE migrate` runs another subcommand with the same image.
ENTRYPOINT ["codex-judge"]
CMD ["serve"]
