# kaikyo: `make demo` and `make test` are the two commands a fresh clone needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint unit bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: install
	$(PY) scripts/demo.py

lint: install
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: install
	$(VENV)/bin/pytest -q -m 'not slow'

test: lint
	$(VENV)/bin/pytest -q

# Engine vs restic and BorgBackup (tree, incremental, image, restore), then the index at
# 5 million chunks, the haven (1/4/16 clients, emulated WAN link), the planner at 10,000 servers.
bench: install
	$(PY) bench/run.py
	$(PY) bench/bench_index.py
	$(PY) bench/bench_haven.py
	$(PY) bench/bench_plan.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
