# newsstream: `make run` runs the service on embedded defaults; `make test` runs every test.
# Everything a fresh machine needs is installed by these targets (venv, Python packages,
# Kafka jars via Maven, the AsyncAPI parser via npm, promtool via apt).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install tools run demo test test-unit lint bench schemas clean-state

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install newsstream with its dev tools

tools/asyncapi/node_modules/.package-lock.json: tools/asyncapi/package.json tools/asyncapi/package-lock.json
	cd tools/asyncapi && npm ci --no-audit --no-fund --loglevel=error

# kubeconform (Go module proxy) validates the Kubernetes manifests offline against the JSON
# schemas shipped in the kubernetes-validate wheel (PyPI; only downloaded, read by the tests).
KUBECONFORM_VERSION := v0.7.0
K8S_SCHEMAS_WHEEL   := $(VENV)/k8s-schemas/kubernetes_validate-1.37.0-py3-none-any.whl

$(BIN)/kubeconform: | $(STAMP)
	GOBIN=$(abspath $(BIN)) go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)

$(K8S_SCHEMAS_WHEEL): | $(STAMP)
	$(BIN)/pip download -q --no-deps --dest $(dir $@) kubernetes-validate==1.37.0

tools: install tools/asyncapi/node_modules/.package-lock.json $(BIN)/kubeconform $(K8S_SCHEMAS_WHEEL)  ## Kafka jars, AsyncAPI parser, prometheus, kcat, PostgreSQL with TLS, kubeconform
	$(BIN)/newsstream kafka fetch
	@missing=""; \
	  command -v promtool >/dev/null || missing="$$missing prometheus"; \
	  command -v kcat >/dev/null || missing="$$missing kcat"; \
	  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	  [ -z "$$missing" ] || { \
	    echo "installing Debian packages:$$missing (promtool/prometheus, kcat, a PostgreSQL built with TLS for tests)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || { echo "cannot install$$missing: run 'apt-get install$$missing' as root"; exit 1; }; }

run: install  ## run everything on local Kafka + embedded PostgreSQL (live sources)
	$(BIN)/newsstream run

demo: install  ## run everything, crawling the built-in sample site on 127.0.0.1 (offline)
	$(BIN)/newsstream run --demo

test: tools  ## lint (as `make lint`), then the whole suite (starts its own Kafka, PostgreSQL, Prometheus)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

test-unit: tools  ## unit tests only (no broker; promtool and the AsyncAPI parser come with tools)
	$(BIN)/pytest -m "not integration and not chaos"

lint: install  ## ruff check, ruff format --check, mypy --strict over streams/ and bench/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install  ## benchmarks: extraction vs trafilatura & co, classifier, stage throughput, 1/2/4 workers, stories
	$(BIN)/python bench/extraction.py
	$(BIN)/python bench/dedup.py
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/crawl.py
	$(BIN)/python bench/sink.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/stories.py --tune --cost-limit 30

schemas: install  ## regenerate schemas/ from the records and the topology
	$(BIN)/newsstream schemas export
