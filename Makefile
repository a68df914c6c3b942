# kaikyo: `make demo` and `make test` are the two commands a fresh clone needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements.lock

.PHONY: install lock demo test lint unit bench clean

install: $(STAMP)

# The ranges in pyproject.toml say what kaikyo accepts; requirements.lock pins (with hashes)
# what was tested. pip refuses an editable install under hash checking, so the locked
# dependencies go in first, then kaikyo itself without dependencies; the checks fail if
# pyproject.toml asks for something the lock does not hold (then run `make lock`).
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	$(PY) scripts/check_deps.py
	@touch $(STAMP)

# Re-resolves the lock from pyproject.toml, keeping every pin the ranges still allow.
# LOCK_FLAGS=--upgrade moves all to the newest allowed; LOCK_FLAGS='--upgrade-package NAME', one.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet -c $(LOCK) uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python $(PY) --generate-hashes \
	    --custom-compile-command 'make lock' --quiet $(LOCK_FLAGS) -o $(LOCK)

demo: install
	$(PY) scripts/demo.py

lint: install
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: install
	$(VENV)/bin/pytest -q -m 'not slow'

# Every test under branch coverage, the processes the tests start included (see
# [tool.coverage.run]; an absolute data file, as some start in other directories), then a
# figure per package and the floors of some (scripts/coverage_floor.py).
test: lint
	COVERAGE_FILE=$(CURDIR)/.coverage $(VENV)/bin/pytest -q --cov --cov-report=
	COVERAGE_FILE=$(CURDIR)/.coverage $(PY) scripts/coverage_floor.py

# Engine vs restic and BorgBackup (tree, incremental, image, restore), then the index at
# 5 million chunks, the haven (1/4/16 clients, emulated WAN link), the planner at 10,000 servers.
bench: install
	$(PY) bench/run.py
	$(PY) bench/bench_restore_onto.py
	$(PY) bench/bench_index.py
	$(PY) bench/bench_haven.py
	$(PY) bench/bench_plan.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
