# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SHARED ?= ../shared
DEMO_HOME := $(CURDIR)/.pgxlit-demo

.PHONY: install demo test bench snapshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Load the bundled snapshot into a fresh embedded SQLite store and run every stage that exists.
demo: install
	rm -rf $(DEMO_HOME)
	PGXLIT_HOME=$(DEMO_HOME) $(VENV)/bin/pgxlit load corpora/snapshot
	PGXLIT_HOME=$(DEMO_HOME) $(VENV)/bin/pgxlit labels --pgx
	PGXLIT_HOME=$(DEMO_HOME) $(VENV)/bin/pgxlit extract
	PGXLIT_HOME=$(DEMO_HOME) $(VENV)/bin/pgxlit triples --drug clopidogrel --gene CYP2C19 --pgx --limit 3
	PGXLIT_HOME=$(DEMO_HOME) $(VENV)/bin/pgxlit triples --drug abacavir --pgx --limit 2
	PGXLIT_HOME=$(DEMO_HOME) $(VENV)/bin/pgxlit index
	PGXLIT_HOME=$(DEMO_HOME) $(VENV)/bin/pgxlit ask --batch corpora/demo_questions.txt
	PGXLIT_HOME=$(DEMO_HOME) $(VENV)/bin/pgxlit check --drug clopidogrel --diplotype "CYP2C19 *2/*2"
	PGXLIT_HOME=$(DEMO_HOME) $(VENV)/bin/pgxlit stats

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) bench/ingest.py --shared $(SHARED)
	$(PY) bench/extract.py --shared $(SHARED)
	PGXLIT_HOME=$(DEMO_HOME) $(PY) bench/search.py

# Rebuild corpora/snapshot with our own crawler against the replay of ../shared/corpora.
snapshot: install
	$(PY) tools/build_snapshot.py --shared $(SHARED) --out corpora/snapshot

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache
