# syntax=docker/dockerfile:1.7
# Ray head and worker nodes (started by KubeRay) with the project installed at the same version as the
# services, so Ray jobs import the same `services` code the orchestrator submits them from.
# Build from the repo root:
#   docker build -f docker/ray.Dockerfile -t conclave/ray:<version> .
#   docker build -f docker/ray.Dockerfile --build-arg RAY_IMAGE=rayproject/ray:2.60.0-py311-gpu -t conclave/ray-gpu:<version> .

# No digest for the Ray 2.60.0 images could be looked up offline, so these are pinned to the exact tag only.
ARG RAY_IMAGE=rayproject/ray:2.60.0-py311
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1

# The wheel is built outside the Ray image so no build tooling or source tree ends up in it.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml ./
COPY services ./services
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM ${RAY_IMAGE} AS runtime
# bubblewrap: the sandbox execution checks run candidates' code in (prlimit, setpriv: util-linux).
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap util-linux \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
COPY --from=builder --chown=1000:100 /wheels /tmp/wheels
# Ray is held at the base image's version: head, workers and the orchestrator's job client must agree.
RUN pip install /tmp/wheels/*.whl "ray[default]==2.60.0" \
    && rm -rf /tmp/wheels \
    && python -c "import ray, services; assert ray.__version__ == '2.60.0', ray.__version__"
# Job drivers run the council on this node; the tokenizer vocabularies ship inside the quicktok wheel.
RUN python -c "import quicktok; quicktok.get_encoding('cl100k_base')"
# The base image's `ray` user (uid 1000); KubeRay replaces this command with its own `ray start`.
USER 1000
EXPOSE 6379 8265 10001
CMD ["ray", "start", "--head", "--block", "--dashboard-host=0.0.0.0"]
