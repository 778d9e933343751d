# syntax=docker/dockerfile:1.7
# Orchestrator service: gRPC on 50052, Prometheus metrics on 9102. Also runs the streams Job.
# Build from the repo root: docker build -f docker/orchestrator.Dockerfile -t conclave/orchestrator:<version> .

# Pinned by tag and digest so a rebuild gets the same interpreter and OS packages.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml ./
COPY services ./services
# The cluster denies egress to the internet; the tokenizer vocabularies ship inside the quicktok wheel.
RUN python -m venv /opt/venv && /opt/venv/bin/pip install . \
    && /opt/venv/bin/python -c "import quicktok; quicktok.get_encoding('cl100k_base')"

FROM ${PYTHON_IMAGE} AS runtime
# bubblewrap: Deliberate runs candidates' code in it (the execution checks).
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 conclave \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --shell /usr/sbin/nologin conclave
COPY --from=builder /opt/venv /opt/venv
# Bytecode writes would fail on the read-only root filesystem the Deployment asks for.
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 50052 9102
ENTRYPOINT ["conclave"]
CMD ["orchestrator", "serve"]
