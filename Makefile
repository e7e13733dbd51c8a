# Two commands for a fresh machine with Python 3.11 and make:
#   make demo   - run the narrated demo
#   make test   - install what the tests use (make deps), lint, run the test suite
# Both create .venv and install the project into it on first use.
#   make deps   - the Debian packages the tests and benchmarks use (.ci/setup): installed as root or with
#                 password-less sudo; otherwise it prints the command and the tests that need them skip

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test deps lint typecheck bench fuzz venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/ptx demo

deps:
	bash .ci/setup

test: $(STAMP) deps lint
	$(BIN)/python -m pytest -n auto --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check exchange gateway tests bench fuzz
	$(BIN)/mypy

# make bench: every figure beside its reference, measured in the same run (bench/README.md says what each means
# and its goal; about 35 min on 2 shared cores). make bench BENCH_FLAGS=--quick: the same from shorter runs.
# A script that finds a wrong exit code, verdict or status says PROBLEM and the run fails, after all have run.
BENCH_FLAGS ?=
bench: $(STAMP) deps
	@status=0; for script in validate rules sign_verify trust gateway scale; do \
	    echo "== bench/$$script.py $(BENCH_FLAGS)"; \
	    $(BIN)/python bench/$$script.py $(BENCH_FLAGS) || status=1; echo; \
	done; exit $$status

fuzz: $(STAMP)
	$(BIN)/python fuzz/run.py --seconds 300

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
