# Peerline: one image for every service and the one-shot `peerline bootstrap`.
#
#   docker build -t peerline:dev .
#   docker run --rm peerline:dev                         # prints `peerline --help`
#   docker run --rm peerline:dev python -m services.intake
#
# The running container needs no writable root filesystem (compose and Kubernetes mount it
# read-only and give it an in-memory /tmp) and runs as the unprivileged uid 10001.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# .dockerignore keeps the virtualenv, tests, deploy files and local data out of the context.
COPY . .
RUN python -m venv /opt/peerline \
 && /opt/peerline/bin/pip install . \
 && /opt/peerline/bin/python -m compileall -q /opt/peerline/lib


FROM python:3.11-slim

LABEL org.opencontainers.image.title="peerline" \
      org.opencontainers.image.description="Peerline peer-support services (intake, matching, escalation, tracking, wellness)" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 peerline \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin peerline \
 && mkdir -p /app /var/lib/peerline/bus \
 && chown 10001:10001 /app /var/lib/peerline/bus
# /var/lib/peerline/bus: where `peerline bus credentials` writes in docker-compose. A new named
# volume mounted there takes this directory's owner, so the unprivileged user can write to it.

COPY --from=build /opt/peerline /opt/peerline

ENV PATH=/opt/peerline/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PEERLINE_HTTP_HOST=0.0.0.0

WORKDIR /app
# Numeric user so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001

# 8081: intake HTTP API. 9101-9105: metrics + /healthz of intake, matching, escalation,
# tracking, wellness.
EXPOSE 8081 9101-9105

CMD ["peerline", "--help"]
