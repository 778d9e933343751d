# Every target does its own set-up: a fresh clone needs only python3.11, java 17 and maven.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
CONCLAVE := $(VENV)/bin/conclave
STAMP := $(VENV)/.installed-stamp

.PHONY: install proto lint test unit up down status demo bench images deploy undeploy clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
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

up: install
	$(CONCLAVE) stack up

down: install
	$(CONCLAVE) stack down

status: install
	$(CONCLAVE) stack status

demo: up
	$(CONCLAVE) demo

bench: up
	$(PY) bench/context_ingest.py
	$(PY) bench/deliberation.py
	$(PY) bench/dispatch.py
