# GCC Link: two commands on a fresh clone.
#   make demo   six nodes and the portal on 127.0.0.1 with demo data
#   make test   the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: demo test test-clock lint install bench bench-quick clean translations vendor

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

translations: $(STAMP)
	$(PY) -m babel.messages.frontend compile -d translations -f -q || $(VENV)/bin/pybabel compile -d translations -f

# Refresh the committed third-party assets from npm (versions pinned in package.json): the Arabic webfont
# (Arabic-script subset, WOFF2, with its licence) and axe-core for the accessibility tests. Not needed to
# build or test: the files are committed, so a clean clone works offline.
vendor:
	npm install --no-save --no-audit --no-fund
	cp node_modules/@fontsource/noto-naskh-arabic/files/noto-naskh-arabic-arabic-400-normal.woff2 \
	   node_modules/@fontsource/noto-naskh-arabic/files/noto-naskh-arabic-arabic-700-normal.woff2 knowledge_portal/static/fonts/
	cp node_modules/@fontsource/noto-naskh-arabic/LICENSE knowledge_portal/static/fonts/OFL.txt
	cp node_modules/axe-core/axe.min.js tests/portal/vendor/axe.min.js
	cp node_modules/axe-core/LICENSE tests/portal/vendor/axe-core.LICENSE

# make demo PORT_BASE=9100 moves the portal to 9100 and the nodes to 9101..
demo: $(STAMP)
	$(VENV)/bin/gcc-link demo --data-dir demo-data $(if $(PORT_BASE),--port-base $(PORT_BASE))

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff (lint and format check) and mypy over the whole tree, as configured in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The core and node unit tests again with the clock a year ahead (libfaketime):
# no test may depend on today's date.
test-clock: $(STAMP)
	@command -v faketime >/dev/null || { echo "test-clock needs faketime (Debian package faketime)"; exit 1; }
	FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f '+365d' $(PY) -m pytest -p no:cacheprovider tests/core tests/node/test_node_units.py

# Benchmarks (not tests): tables of medians and ratios to ceilings measured in the same run;
# the last line is one JSON object. See BENCHMARKS.md.
bench: $(STAMP)
	@$(PY) bench/crypto.py
	@$(PY) bench/run.py

bench-quick: $(STAMP)
	@$(PY) bench/run.py --quick

clean:
	rm -rf $(VENV) demo-data .pytest_cache
