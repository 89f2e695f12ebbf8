# make demo: set up .venv and run the whole planning cycle on the bundled sample (runs/demo/).
# make test: set up .venv and run the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_FLAGS ?= --quiet --disable-pip-version-check

.PHONY: demo test lint bench sample clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/align validate data/samples
	$(BIN)/align demo --out runs/demo
	@echo "planning room: run '$(BIN)/align serve' and open http://127.0.0.1:8000/ (docs/web.md)"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py

sample: $(STAMP)
	$(BIN)/python scripts/make_sample.py --out data/samples

clean:
	rm -rf $(VENV) runs .pytest_cache
