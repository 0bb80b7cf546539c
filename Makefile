# TextLens: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml client/pyproject.toml constraints.txt | sha1sum | cut -c1-12)
PROTOS := $(wildcard proto/textlens/v1/*.proto)
# The published contract that every later change must stay compatible with (buf breaking).
CONTRACT_BASE := f9d1ae999f98eccef0f9e4971434c3c77ba3aca5

.DEFAULT_GOAL := help
.PHONY: help setup run test pytest lint format proto proto-check services reliability bench clean client-check model model-eval
# GoEmotions (train and dev splits) for the emotion model; shared/ sits beside the checkout.
GOEMOTIONS ?= $(firstword $(wildcard ../shared/data/goemotions ../../shared/data/goemotions) ../shared/data/goemotions)

help: ## List the targets with what they do
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml client/pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e './client[cli]' -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

setup: $(STAMP) ## Create .venv and install both distributions with the dev tools

run: setup ## Start the server on the embedded SQLite default (TEXTLENS_* to configure)
	$(BIN)/textlens-server serve

services: ## Start PostgreSQL and Redis if installed but stopped (fails under CI=true if missing)
	@scripts/ensure-services.sh

test: setup services ## Set up and run the whole suite (lint, contract checks, unit, integration, e2e)
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory client-check

client-check: ## Run the client's own tests in a fresh venv holding only textlens-client
	PYTHON=$(PYTHON) scripts/check-client-alone.sh

pytest: setup ## Run the test suite only (PYTEST_ARGS to narrow it)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup ## ruff, mypy (strict), buf lint, format and breaking, and generated stubs up to date
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/buf lint
	$(BIN)/buf format --diff --exit-code
	$(BIN)/buf breaking --against '.git#ref=$(CONTRACT_BASE)'
	@$(MAKE) --no-print-directory proto-check

format: setup ## Apply ruff and buf formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/buf format -w

proto: setup ## Regenerate the Python stubs in client/textlens/v1 from proto/
	@scripts/gen-proto.sh client

proto-check: setup ## Fail if the committed stubs differ from a fresh generation
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && scripts/gen-proto.sh $$tmp \
	  && diff -r $$tmp/textlens/v1 client/textlens/v1 --exclude=__pycache__ \
	  && echo "generated stubs are up to date"

reliability: setup services ## Only the load, fault, churn and hostile-input tests, with their figures
	$(BIN)/pytest -m slow -s tests/reliability $(PYTEST_ARGS)

bench: setup services ## Benchmark on real PostgreSQL vs ceiling and FastAPI peer (BENCH_ARGS=--quick)
	@command -v h2load >/dev/null || apt-get install -y nghttp2-client \
	  || { apt-get update -qq && apt-get install -y nghttp2-client; } \
	  || echo "bench: could not install h2load (apt-get install nghttp2-client); unary and peer figures are skipped" >&2
	$(BIN)/python bench/run.py $(BENCH_ARGS)

model: setup ## Retrain the emotion model on GoEmotions' train split (GOEMOTIONS=dir), same seed, same file
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m training.goemotions train --data $(GOEMOTIONS)

model-eval: setup ## Per-class and macro F1 of the shipped emotion model on GoEmotions' dev split
	$(BIN)/python -m training.goemotions eval --data $(GOEMOTIONS)

.PHONY: docker-check
docker-check: ## Run the Dockerfile's install, start, health check and stop steps in fresh venvs
	$(PYTHON) scripts/check_dockerfile.py

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build client/build *.egg-info client/*.egg-info
