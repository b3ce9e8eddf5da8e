# cbrtl — developer entry points. `make help` lists them.
#
#   make run    create .venv, install, migrate, start every Procfile process
#               on the embedded defaults (data in ./var) at http://127.0.0.1:$PORT
#   make test   everything the tests need (venv, ffmpeg, chromium, nginx, PostgreSQL,
#               Redis, RabbitMQ), then lint, then the whole pytest suite (two workers, then
#               the service-restart tests alone)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help .venv ffmpeg chromium nginx services run lint test bench clean

help: ## list the targets
	@echo "usage: make TARGET"
	@echo
	@grep -E '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'
	@echo
	@echo "variables: PORT (default 5000) for run, PYTEST_ARGS for test, BENCH_ARGS for bench, e.g."
	@echo "  make test PYTEST_ARGS='-x tests/unit'"

.venv: $(STAMP) ## create .venv and install the package with its dev extras

# Re-installs whenever the package metadata changes.
$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || { echo "creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

ffmpeg: ## install Debian's ffmpeg if it is not on PATH
	@if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then \
		if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
		echo "ffmpeg is not installed: apt-get install ffmpeg"; \
		$$SUDO apt-get update -q \
		&& $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ffmpeg; \
	fi

chromium: ## install Debian's chromium for the browser tests if it is missing (never a download by Playwright)
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
		echo "chromium is not installed: apt-get install chromium"; \
		$$SUDO apt-get update -q \
		&& $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; \
	fi

nginx: ## install Debian's nginx for the load-balancer tests if it is missing (its service is not started)
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
		if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
		echo "nginx is not installed: apt-get install nginx"; \
		$$SUDO apt-get update -q \
		&& $$SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q --no-install-recommends nginx; \
	fi

services: ## make sure PostgreSQL, Redis and RabbitMQ answer on 127.0.0.1 (tests need them)
	@./.ci/services

run: .venv ffmpeg ## migrate, seed the demo catalogue if empty, start the Procfile
	$(BIN)/cbrtl db upgrade
	@if $(BIN)/cbrtl demo --help >/dev/null 2>&1; then $(BIN)/cbrtl demo seed --if-empty; fi
	@echo "cbrtl is starting at http://127.0.0.1:$${PORT:-5000}"
	@export PATH="$(CURDIR)/$(BIN):$$PATH"; exec $(BIN)/honcho start

lint: .venv ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: .venv ffmpeg chromium nginx services ## lint, then the whole suite (PYTEST_ARGS passes through)
	@$(MAKE) --no-print-directory lint
	$(BIN)/pytest -n 2 --dist loadgroup -m "not serial" $(PYTEST_ARGS)
	@# Then, alone, the tests that restart PostgreSQL and RabbitMQ (5: none selected).
	$(BIN)/pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

bench: .venv ffmpeg services ## run every bench/*.py script (results go to docs/BENCHMARKS.md)
	@set -e; found=0; \
	for script in bench/*.py; do \
		grep -q '^if __name__ == "__main__":' "$$script" || continue; \
		found=1; echo "== $$script $(BENCH_ARGS)"; $(BIN)/python "$$script" $(BENCH_ARGS); \
	done; \
	[ $$found -eq 1 ] || echo "no benchmark scripts in bench/ yet"

clean: ## remove var/ (all local data) and caches; keeps .venv
	rm -rf var artifacts .pytest_cache .mypy_cache .ruff_cache build dist
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
