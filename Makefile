# GCC Link: two commands on a fresh clone.
#   make demo   six nodes and the portal on 127.0.0.1 with demo data
#   make test   the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: demo test install bench clean translations

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

translations: $(STAMP)
	$(PY) -m babel.messages.frontend compile -d translations -f -q || $(VENV)/bin/pybabel compile -d translations -f

demo: $(STAMP)
	$(VENV)/bin/gcc-link demo --data-dir demo-data

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-data .pytest_cache
