# Everything a fresh machine needs goes through these targets; each one sets up what it uses.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck jscheck docs docs-check pytest package bench clean

# Reinstalled when the dependencies or these steps change.
$(STAMP): pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

# The main job: two seeded projects and the ui on http://127.0.0.1:8080 (a free port if 8080 is taken; the
# address is printed). Options: make demo DEMO_ARGS="--listen 127.0.0.1:9000 --data-dir /tmp/demo"
demo: $(STAMP)
	$(BIN)/hero-assistance demo $(DEMO_ARGS)

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

# The browser app (ui/static/js), checked statically: JSDoc types by tsc --checkJs (tsconfig.json) and ESLint
# (eslint.config.mjs), at the versions package-lock.json pins. Node and npm come from Debian's packages when
# missing (apt-get, through sudo -n when not root).
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { \
	  as_root=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  $$as_root apt-get update && $$as_root apt-get install -y --no-install-recommends nodejs npm; }
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

jscheck: $(NODE_STAMP)
	node_modules/.bin/tsc -p tsconfig.json
	node_modules/.bin/eslint --max-warnings 0 ui/static/js

# docs/api.md is generated from the method registry; docs-check fails when it is stale.
docs: $(STAMP)
	$(BIN)/python -m hero_assistance._apidoc docs/api.md

docs-check: $(STAMP)
	$(BIN)/python -m hero_assistance._apidoc --check docs/api.md

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# The installed package: wheel, fresh venv without cache, --help, a server's /health, mypy --strict downstream.
package:
	PY=$(PY) .ci/check-wheel

# The test command: set-up, lint, types, the browser app's static checks, the API reference, the whole suite,
# the package as users install it.
test: lint typecheck jscheck docs-check pytest package

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .typecheck .pytest_cache .mypy_cache .ruff_cache node_modules
