# syntax=docker/dockerfile:1.7
# OpenAI-compatible model simulator on 8000 (/v1/models, /health): the dev overlay's stand-in for vLLM.
# Build from the repo root: docker build -f docker/simulator.Dockerfile -t conclave/simulator:<version> .

# Pinned by tag and digest so a rebuild gets the same interpreter and OS packages.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml constraints.txt ./
COPY services ./services
# Pinned by constraints.txt, and only what this image runs (the "simulator" group of pyproject.toml).
# The cluster denies egress to the internet; the tokenizer vocabularies ship inside the quicktok wheel.
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -c constraints.txt ".[simulator]" \
    && /opt/venv/bin/python -c "import quicktok; quicktok.get_encoding('cl100k_base')"

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 conclave \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --shell /usr/sbin/nologin conclave
COPY --from=builder /opt/venv /opt/venv
# Bytecode writes would fail on the read-only root filesystem the Deployment asks for.
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# The simulator binds to loopback by default; in a container it must listen on all interfaces.
ENV SIM_HOST=0.0.0.0 SIM_PORT=8000
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["conclave"]
CMD ["sim", "serve"]
