# The one entry point. `make run` and `make test` create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE ?= ghcr.io/codex-judge/codex-judge:$(VERSION)

.DEFAULT_GOAL := help
.PHONY: help run test soak lint typecheck bench schemas up ui image clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,local]'
	$(BIN)/python -m compileall -q shared functions >/dev/null
	@touch $(STAMP)

run: $(STAMP) ## Start the local mesh on embedded defaults, replay the recorded scenario, print the runs
	$(BIN)/codex-judge demo

up: $(STAMP) ## Start the local mesh and keep it running (Ctrl-C stops everything)
	$(BIN)/codex-judge up

ui: $(STAMP) ## Serve the api and web UI over the last run's database (prints URL and tokens)
	$(BIN)/codex-judge ui

test: $(STAMP) ## Run the test suite (real Postgres: embedded, or DATABASE_URL)
	$(BIN)/python -m pytest -q

soak: $(STAMP) ## The soak: 300 repositories under faults, invariants, then fault-free compared (REPOS=, SEED=)
	$(BIN)/python -m tests.soak --repos $(or $(REPOS),300) --seed $(or $(SEED),1)

lint: $(STAMP) ## ruff check and format check, and the import rules of the layout (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

typecheck: $(STAMP) ## mypy, strict on shared/ and functions/
	$(BIN)/mypy

bench: $(STAMP) ## Benchmarks, reported as ratios against a baseline measured in the same run
	$(BIN)/python -m bench

schemas: $(STAMP) ## Regenerate schemas/ (JSON Schema per event type) from the models
	$(BIN)/codex-judge schemas --write

image: ## Build the container image every function runs, tagged IMAGE (ghcr.io/codex-judge/codex-judge:VERSION)
	docker build -t $(IMAGE) --build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) .

clean: ## Remove the virtualenv and the embedded database
	rm -rf $(VENV) .data
