# Everything a fresh machine needs goes through these targets; each one sets up what it uses.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# xstatic-bootstrap ships only an sdist whose setup imports pkg_resources (gone from setuptools 81):
	# build it against an older setuptools, without build isolation.
	$(BIN)/pip install -q "setuptools>=64,<81" wheel
	$(BIN)/pip install -q --no-build-isolation xstatic-bootstrap
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

# The main job: two seeded projects and the ui on http://127.0.0.1:8080
demo: $(STAMP)
	$(BIN)/hero-assistance demo

# mypy cannot follow setuptools' editable finder for mapped folders: give it a shim of symlinks.
.typecheck/hero_assistance: Makefile
	rm -rf .typecheck && mkdir -p .typecheck/hero_assistance
	for f in src/hero_assistance/*.py; do ln -s ../../$$f .typecheck/hero_assistance/; done
	for p in core transport supervisor ui; do ln -s ../../$$p .typecheck/hero_assistance/$$p; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) .typecheck/hero_assistance
	MYPYPATH=.typecheck $(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# The test command: set-up, lint, types, the whole suite.
test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .typecheck .pytest_cache .mypy_cache .ruff_cache
