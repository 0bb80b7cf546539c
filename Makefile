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
.PHONY: help setup run test pytest lint format proto proto-check googleapis proto-tools node-check services reliability bench clean client-check

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

test: setup services proto-tools ## Set up and run the whole suite (lint, contract checks, unit, integration, e2e)
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
	$(BIN)/buf format proto --diff --exit-code
	$(BIN)/buf breaking --against '.git#ref=$(CONTRACT_BASE)'
	@$(MAKE) --no-print-directory proto-check

format: setup ## Apply ruff and buf formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/buf format -w proto

proto: setup ## Regenerate the stubs and descriptor set (with comments) in client/textlens/v1
	@scripts/gen-proto.sh client

googleapis: setup ## Refresh third_party/googleapis from the installed googleapis-common-protos
	@src=$$($(BIN)/python -c 'import google.rpc.status_pb2 as m, pathlib; print(pathlib.Path(m.__file__).parent)') \
	  && cp "$$src"/{status,error_details,code}.proto third_party/googleapis/google/rpc/ \
	  && cp "$$(dirname "$$src")"/../googleapis_common_protos-*.dist-info/licenses/LICENSE third_party/googleapis/ \
	  && echo "third_party/googleapis: copied from $$src"

# Debian's protoc has the generators grpcio-tools' lacks; tests compile the contract with them.
PROTO_TOOLS := protobuf-compiler protoc-gen-go protoc-gen-go-grpc protobuf-compiler-grpc \
  protobuf-compiler-grpc-java-plugin
proto-tools: ## Install protoc with the Go, Java, C++, PHP and Ruby gRPC generators (Debian packages)
	@for tool in protoc protoc-gen-go protoc-gen-go-grpc grpc_java_plugin grpc_cpp_plugin \
	    grpc_php_plugin grpc_ruby_plugin; do command -v $$tool >/dev/null || missing=1; done; \
	[ -z "$${missing:-}" ] \
	  || apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $(PROTO_TOOLS) \
	  || { apt-get update -qq && apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $(PROTO_TOOLS); } \
	  || echo "proto-tools: could not install $(PROTO_TOOLS); the contract's language tests skip (fail under CI)" >&2

proto-check: setup ## Fail if the committed stubs or descriptor set differ from a fresh generation
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && scripts/gen-proto.sh $$tmp \
	  && diff -r $$tmp/textlens/v1 client/textlens/v1 --exclude=__pycache__ \
	  && echo "generated stubs and descriptor set are up to date"

node-check: setup ## Call every RPC from Node (@grpc/grpc-js), npm ci'd once per lockfile into ~/.cache/textlens
	$(BIN)/pytest tests/e2e/test_node_client.py $(PYTEST_ARGS)

reliability: setup services ## Only the load, fault, churn and hostile-input tests, with their figures
	$(BIN)/pytest -m slow -s tests/reliability $(PYTEST_ARGS)

bench: setup services ## Benchmark on real PostgreSQL vs ceiling and FastAPI peer (BENCH_ARGS=--quick)
	@command -v h2load >/dev/null || apt-get install -y nghttp2-client \
	  || { apt-get update -qq && apt-get install -y nghttp2-client; } \
	  || echo "bench: could not install h2load (apt-get install nghttp2-client); unary and peer figures are skipped" >&2
	$(BIN)/python bench/run.py $(BENCH_ARGS)

.PHONY: docker-check
docker-check: ## Run the Dockerfile's install, start, health check and stop steps in fresh venvs
	$(PYTHON) scripts/check_dockerfile.py

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build client/build *.egg-info client/*.egg-info
