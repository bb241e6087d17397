# distillguard: `make demo` and `make test` work on a fresh machine (they create .venv).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CONSTRAINTS := requirements/constraints.txt
DEMO_OUT ?= demo-out
DEMO_EXCHANGES ?= 200000
DEMO_SEED ?= 7
SHARED ?= ../shared

.PHONY: demo test bench lint install clean

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	@touch $@

# The tests also exercise the optional parts (gateway, intel, spark) against real services.
TEST_EXTRAS ?= dev,gateway,intel,spark

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml $(CONSTRAINTS)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[$(TEST_EXTRAS)]'
	@touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m distillguard demo --out $(DEMO_OUT) --exchanges $(DEMO_EXCHANGES) --seed $(DEMO_SEED)

test: $(VENV)/.installed-test
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

bench: $(VENV)/.installed
	$(PY) benchmarks/run.py --out bench-out

clean:
	rm -rf $(VENV) $(DEMO_OUT) bench-out .mypy_cache .ruff_cache .pytest_cache
