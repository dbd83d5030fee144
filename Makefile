# Peerline — two commands matter: `make up` (start everything) and `make test` (run every check).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint unit bench chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

up: $(STAMP)  ## start nats-server, every service and the demo region on this machine
	$(BIN)/peerline up

test: lint $(STAMP)  ## lint, type-check, import contracts, then every test against a real nats-server
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check shared services tests bench
	$(BIN)/ruff format --check shared services tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -m unit

bench: $(STAMP)  ## raw JetStream, the projection runner, then every service's benchmark, in one run; one table + bench/results/<time>.json
	$(BIN)/python -m bench

chaos: $(STAMP)  ## 10,000 requests + 1,000 CAD incidents while services are killed (-9) 20 times and nats-server restarts 3 times
	$(BIN)/python -m bench.chaos

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
