# syntax=docker/dockerfile:1
# TextLens server image: wheels are built in one stage and installed, with no index and
# no compiler, into a slim runtime that runs as an unprivileged user.
#
#   docker build -t textlens-server .
#   openssl rand -base64 32 > jwt-secret && chmod 0644 jwt-secret
#   docker run --rm -p 50051:50051 -v "$PWD/jwt-secret:/run/secrets/jwt-secret:ro" \
#     -e TEXTLENS_JWT_SECRET_FILE=/run/secrets/jwt-secret textlens-server
#
# The server refuses to start without a signing key: the image has none, and its CMD
# never asks for the development mode that would make one up.
#
# `make docker-check` builds this file with buildah and runs the image's filesystem: its
# user, CMD, HEALTHCHECK and SIGTERM drain (scripts/docker_check.py).
#
# The base names its Debian release, so that a rebuild cannot move to another one. To pin
# it exactly: --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: wheels for both distributions and every dependency --------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY client/ client/
COPY server/ server/

# Naming ./client on the same command line makes pip take textlens-client from here,
# never from an index; constraints.txt pins every dependency to the tested version.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip wheel --wheel-dir /wheels -c constraints.txt ./client .

# --- runtime -----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# A fixed numeric uid lets Kubernetes' runAsNonRoot verify the user without a passwd lookup.
RUN groupadd --system --gid 10001 textlens \
 && useradd --system --uid 10001 --gid textlens --home-dir /var/lib/textlens \
        --shell /usr/sbin/nologin textlens \
 && mkdir -p /var/lib/textlens \
 && chown textlens:textlens /var/lib/textlens

# The wheels are bind-mounted, not copied, so they never become a layer of this image.
# --no-index: a dependency missing from the builder's wheels fails the build here. The
# venv gets no pip of its own: nothing installs into it at run time.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv --without-pip /opt/textlens \
 && python -m pip --python /opt/textlens/bin/python install --no-index --find-links /wheels \
        textlens-server

# The SQLite default (for a single container) lives in the one directory the user may
# write; with PostgreSQL (TEXTLENS_DATABASE_URL) the root filesystem can be read-only.
# docker stop waits 10 s before SIGKILL, so the image's drain grace stays below that;
# compose and Kubernetes raise both together.
ENV PATH=/opt/textlens/bin:$PATH \
    TEXTLENS_HOST=0.0.0.0 \
    TEXTLENS_PORT=50051 \
    TEXTLENS_METRICS_PORT=9464 \
    TEXTLENS_LOG_FORMAT=json \
    TEXTLENS_DATABASE_URL=sqlite+aiosqlite:////var/lib/textlens/textlens.db \
    TEXTLENS_SHUTDOWN_GRACE_SECONDS=8

WORKDIR /var/lib/textlens
USER 10001:10001

# gRPC, and Prometheus metrics at /metrics.
EXPOSE 50051 9464

# A real grpc.health.v1 Check (SERVING or not), not a TCP connect. The textlens service
# rather than the server as a whole: it turns NOT_SERVING while the database is
# unreachable and while draining, which is what "healthy" should mean to Docker.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD textlens --timeout 4 --target "127.0.0.1:${TEXTLENS_PORT:-50051}" health --service textlens.v1.AnalysisService

# Exec form: the server is PID 1 and receives SIGTERM itself; it turns health
# NOT_SERVING, drains in-flight calls for TEXTLENS_SHUTDOWN_GRACE_SECONDS and exits 0.
STOPSIGNAL SIGTERM
CMD ["textlens-server", "serve"]
