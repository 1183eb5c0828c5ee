# dlrun developer entry points. `make run` and `make test` each install first, so both
# work on a fresh machine (see README Quickstart).
PYTHON ?= python
INSTALL = $(PYTHON) -m pip install --quiet -c constraints.txt -e ".[dev]"

.PHONY: install run test test-fast test-lowest bench

install:
	$(INSTALL)

run: install
	dlrun

# two test processes (pytest-xdist), each file's tests in one of them (module fixtures built once):
# the end-to-end tests mostly wait on their dlrun subprocesses, so two fill a 2-core machine
test: install
	$(PYTHON) -m pytest -q -n 2 --dist loadfile

test-fast: install
	$(PYTHON) -m pytest -q -m "not slow"

bench: install
	$(PYTHON) benchmarks/overhead.py

# pyproject's lower bounds, tested: a virtual environment of its own (.venv-lowest, git-ignored)
# with every direct dependency at its declared lower bound (uv's lowest-direct resolution; the
# rest at their newest), then the fast tests, one run and one 2-trial sweep through the CLI.
# Not part of `make test`: the lowest torch is a CUDA build, about 3.5 GB to download once.
# The lowest Python: make test-lowest PYTHON=python3.10 LOWEST=.venv-lowest-3.10
LOWEST ?= .venv-lowest
LOWEST_PY = $(LOWEST)/env/bin/python
UV = $(LOWEST)/tools/bin/uv

test-lowest:
	test -x $(UV) || ($(PYTHON) -m venv $(LOWEST)/tools && $(LOWEST)/tools/bin/python -m pip install --quiet uv)
	test -x $(LOWEST_PY) || $(UV) venv --quiet --python $(PYTHON) $(LOWEST)/env
	$(UV) pip compile --quiet --python $(LOWEST_PY) --resolution lowest-direct --extra dev \
		-o $(LOWEST)/requirements.txt pyproject.toml
	$(UV) pip sync --quiet --python $(LOWEST_PY) $(LOWEST)/requirements.txt
	$(UV) pip install --quiet --python $(LOWEST_PY) pip setuptools wheel  # tests build dlrun's wheel
	$(UV) pip install --quiet --python $(LOWEST_PY) --no-deps -e .
	$(LOWEST_PY) tests/lowest/check_bounds.py
	PYTHONPATH= $(LOWEST_PY) -m pytest -q -n 2 --dist loadfile -m "not slow" -p no:cacheprovider
	PYTHONPATH= $(LOWEST_PY) tests/lowest/cli_check.py
