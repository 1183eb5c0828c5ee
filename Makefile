# dlrun developer entry points. `make run` and `make test` each install first, so both
# work on a fresh machine (see README Quickstart).
PYTHON ?= python
INSTALL = $(PYTHON) -m pip install --quiet -c constraints.txt -e ".[dev]"

.PHONY: install run test test-fast bench

install:
	$(INSTALL)

run: install
	dlrun

test: install
	$(PYTHON) -m pytest -q

test-fast: install
	$(PYTHON) -m pytest -q -m "not slow"

bench: install
	$(PYTHON) benchmarks/overhead.py
