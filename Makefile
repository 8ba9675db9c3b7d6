# Two entry points on a fresh machine: `make demo` (main job on a built-in default) and `make test`.
# Both install what they need into .venv (idempotent: a stamp file skips work when up to date).
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.symzoo-installed
export SYMZOO_HOME ?= $(CURDIR)/.symzoo_home

.PHONY: install demo test test-all bench lint docs docs-serve

install: $(STAMP)

$(STAMP): pyproject.toml scripts/install.sh
	bash scripts/install.sh $(VENV)
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/symzoo compare nbody-charged --models egnn,gnn,mlp,mlp+aug,linear --train-sizes 50,200 --seeds 1 --preset tiny --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -q tests

test-all: $(STAMP)
	$(PY) -m pytest -q tests -m ""

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy symzoo models datasets train eval zoo configs

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

docs-serve: $(STAMP)
	$(VENV)/bin/mkdocs serve

bench: $(STAMP)
	$(PY) benchmarks/nbody_paper.py --out runs/bench
