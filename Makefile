# Two commands for a fresh machine with Python 3.11 and make:
#   make demo   - run the main job
#   make test   - run the test suite
# Both create .venv and install the project into it on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench fuzz venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/ptx demo

test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check exchange gateway tests bench fuzz
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/validate.py --quick
	$(BIN)/python bench/sign_verify.py --quick
	$(BIN)/python bench/gateway.py --quick
	$(BIN)/python bench/scale.py --quick

fuzz: $(STAMP)
	$(BIN)/python fuzz/run.py --seconds 300

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
