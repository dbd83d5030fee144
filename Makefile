# Peerline — two commands matter: `make up` (start everything) and `make test` (run every check).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint unit bench bench-region chaos audit fuzz lock clean

# Every dependency at the exact version of requirements.lock (`make lock` refreshes it after a change
# to pyproject.toml's dependencies).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]" --constraint requirements.lock
	touch $(STAMP)

up: $(STAMP)  ## start nats-server, every service and the demo region on this machine
	$(BIN)/peerline up

test: lint $(STAMP)  ## lint, type-check, import contracts, then every test against a real nats-server
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check shared services tests bench demo
	$(BIN)/ruff format --check shared services tests bench demo
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -m unit

bench: $(STAMP)  ## raw JetStream, the projection runner, then every service's benchmark, in one run; one table + bench/results/<time>.json
	$(BIN)/python -m bench

bench-region: $(STAMP)  ## a 5,000,000-event regional history (100 agencies, 3 years; made once under var/bench-region/, then reused), every service's projections rebuilt from it: total time and rates beside the raw replay
	$(BIN)/python -m bench.region $(ARGS)

chaos: $(STAMP)  ## 10,000 requests + 1,000 CAD incidents while services are killed (-9) 20 times and nats-server restarts 3 times (CLUSTER=1: 3 NATS nodes, log at R3, a node killed -9 5 times)
	$(BIN)/python -m bench.chaos $(if $(CLUSTER),--cluster)

audit: $(STAMP)  ## supply chain: known vulnerabilities of every installed dependency (PyPI advisories), bandit at medium and above
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off
	$(BIN)/bandit -q -c pyproject.toml -r shared services bench --severity-level medium

fuzz: $(STAMP)  ## schemathesis over every service's OpenAPI (0 answers >= 500), then 10,000+ events and CAD documents over NATS to every service's process (0 crashes, 0 stalled consumers, nothing lost)
	PEERLINE_FUZZ_EXAMPLES=$${PEERLINE_FUZZ_EXAMPLES:-220} PEERLINE_NATS_FUZZ_INPUTS=$${PEERLINE_NATS_FUZZ_INPUTS:-10500} \
	  $(BIN)/pytest tests/fuzz -p no:cacheprovider -q -s --timeout 3000

lock: $(STAMP)  ## write requirements.lock from the test environment (exact versions)
	{ echo "# Exact versions of every dependency (make lock). make installs with --constraint requirements.lock"; \
	  $(BIN)/pip freeze --exclude-editable --all | grep -v '^pip=='; } > requirements.lock
	touch $(STAMP)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
