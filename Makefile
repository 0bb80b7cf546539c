# TextLens: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml client/pyproject.toml constraints.txt | sha1sum | cut -c1-12)
PROTOS := $(wildcard proto/textlens/v1/*.proto)
# The published contract that every later change must stay compatible with (buf breaking).
CONTRACT_BASE := f9d1ae999f98eccef0f9e4971434c3c77ba3aca5
# Kept between runs and shared by every clone on this machine.
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/textlens
DEPLOY_TOOLS := $(CACHE_DIR)/tools
CHECKOV_VERSION := 3.3.30
# The image check runs again only when something the image is built from changes.
DOCKER_CHECK_INPUTS := Dockerfile .dockerignore pyproject.toml client/pyproject.toml constraints.txt scripts/docker_check.py
DOCKER_CHECK_STAMP := $(CACHE_DIR)/docker-check/passed-$(shell cat $(DOCKER_CHECK_INPUTS) | sha1sum | cut -c1-16)

.DEFAULT_GOAL := help
.PHONY: help setup run test pytest coverage lint format proto proto-check googleapis proto-tools node-check services reliability bench clean client-check compose-secrets deploy-tools docker-check docker-check-if-changed model model-eval
# GoEmotions (train and dev splits) for the emotion model; shared/ sits beside the checkout.
GOEMOTIONS ?= $(firstword $(wildcard ../shared/data/goemotions ../../shared/data/goemotions) ../shared/data/goemotions)

help: ## List the targets with what they do
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml client/pyproject.toml constraints.txt
	@echo "installing dependencies into $(VENV) (about 2 minutes the first time, seconds after)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e './client[cli]' -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

setup: $(STAMP) ## Create .venv and install both distributions with the dev tools

run: setup ## Start the server on the embedded SQLite default, in development mode (TEXTLENS_* to configure)
	$(BIN)/textlens-server serve --dev

services: ## Start PostgreSQL and Redis if installed but stopped (fails under CI=true if missing)
	@scripts/ensure-services.sh

test: setup services proto-tools deploy-tools ## The whole suite: lint, unit, integration, e2e, deploy; docker-check if its inputs changed
	$(MAKE) --no-print-directory lint
	DEPLOY_TOOLS=$(DEPLOY_TOOLS)/bin $(BIN)/pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory client-check
	$(MAKE) --no-print-directory docker-check-if-changed

client-check: ## Run the client's own tests in a fresh venv holding only textlens-client
	PYTHON=$(PYTHON) scripts/check-client-alone.sh

pytest: setup ## Run the test suite only (PYTEST_ARGS to narrow it)
	DEPLOY_TOOLS=$(DEPLOY_TOOLS)/bin $(BIN)/pytest $(PYTEST_ARGS)

coverage: setup ## The unit tier under coverage: branch coverage of the use cases and the domain
	$(BIN)/python -m coverage run --branch --source=server/service,server/domain -m pytest -q -p no:cacheprovider tests/unit
	$(BIN)/python -m coverage report -m --skip-covered

lint: setup ## ruff, mypy (strict), import-linter (the layer rule), buf lint, format and breaking, and generated stubs up to date
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
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

compose-secrets: ## Make secrets/ for docker compose: signing key, database password (keeps existing files)
	@scripts/compose-secrets.sh

deploy-tools: ## Install promtool and checkov for tests/deploy (kept in ~/.cache/textlens/tools)
	@CHECKOV_VERSION=$(CHECKOV_VERSION) PYTHON=$(PYTHON) scripts/deploy-tools.sh $(DEPLOY_TOOLS)

docker-check: ## Build the Dockerfile with buildah and run the image: user, HEALTHCHECK, SIGTERM drain
	@command -v buildah >/dev/null && command -v debootstrap >/dev/null \
	  || apt-get install -y buildah debootstrap \
	  || { apt-get update -qq && apt-get install -y buildah debootstrap; }
	$(PYTHON) scripts/docker_check.py
	@mkdir -p $(dir $(DOCKER_CHECK_STAMP)) && touch $(DOCKER_CHECK_STAMP)

docker-check-if-changed: ## docker-check unless it passed here with the same Dockerfile and dependencies
	@if [ -e $(DOCKER_CHECK_STAMP) ]; then \
	  echo "docker-check: skipped, its inputs are unchanged since it passed on this machine ($(notdir $(DOCKER_CHECK_STAMP)))"; \
	else $(MAKE) --no-print-directory docker-check; fi

model: setup ## Retrain the emotion model on GoEmotions' train split (GOEMOTIONS=dir), same seed, same file
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m training.goemotions train --data $(GOEMOTIONS)

model-eval: setup ## Per-class and macro F1 of the shipped emotion model on GoEmotions' dev split
	$(BIN)/python -m training.goemotions eval --data $(GOEMOTIONS)

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage build client/build *.egg-info client/*.egg-info
