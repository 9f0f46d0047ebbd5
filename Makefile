# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SHARED ?= ../shared
DEMO_HOME := $(CURDIR)/.pgxlit-demo

.PHONY: install demo test test-fast bench snapshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Load the bundled snapshot into a fresh embedded SQLite store, run every stage, print each step's time.
demo: install
	$(PY) tools/demo.py --home $(DEMO_HOME)

# The full suite, as CI runs it.
test: install
	$(PY) -m pytest -q

# The quick inner loop: leaves out tests marked slow (real stores, indexes, servers, browsers, clusters).
test-fast: install
	$(PY) -m pytest -q -m "not slow"

bench: install
	$(PY) bench/ingest.py --shared $(SHARED)
	$(PY) bench/extract.py --shared $(SHARED)
	PGXLIT_HOME=$(DEMO_HOME) $(PY) bench/search.py

# Rebuild corpora/snapshot with our own crawler against the replay of ../shared/corpora.
snapshot: install
	$(PY) tools/build_snapshot.py --shared $(SHARED) --out corpora/snapshot

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache
