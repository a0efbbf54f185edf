# The two commands of the README: `make run` and `make test`. `make bench` runs bench/.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Re-install when a distribution's declared dependencies change.
STAMP := $(VENV)/.installed
PACKAGES := server/pyproject.toml sdks/python/pyproject.toml server/requirements.lock
# The client suites that need a runtime from Debian's packages (sdks/install-runtimes.sh).
# In CI a missing runtime fails the run; elsewhere the suite is skipped with a line that says so.
CLIENT_SUITES := ruby php

.PHONY: run test test-fast lint lock test-server test-python-client test-js $(addprefix test-,$(CLIENT_SUITES)) bench venv clean

# Through ./salesmachine (.venv/bin/salesmachine for a shell without the venv on its PATH), so
# that the commands the server prints, spelled the same way, run as printed.
run: $(STAMP)
	./salesmachine serve --first-project

test: test-server test-python-client test-js $(addprefix test-,$(CLIENT_SUITES))

# The fast tier: the app in process and the rules as functions (server/tests/fast), in seconds.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -m fast server/tests

# Segment's node client comes from npm first (server/tests/test_segment_clients.py drives it).
# The suite runs on TEST_WORKERS pytest-xdist processes, each with its own servers, databases
# and temporary files; a file's tests stay on one worker (--dist loadfile), in their order, with
# the servers and browser its module fixtures start. Most tests wait on servers more than they
# compute: 4 workers keep 2 cores busy (3,068 s of test time in 797 s on 2026-12-06, the files
# spread within 4 % of even). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 4
test-server: $(STAMP)
	bash server/tests/segment_node/install.sh
	$(BIN)/python -m pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile server/tests

test-python-client: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider sdks/python/tests

# The browser library's unit tests (node's own test runner; no npm packages needed). Node 20
# runs every .js file of a directory given to --test, the helper too: hence the glob.
test-js:
	@if command -v node >/dev/null 2>&1 || [ -n "$$CI" ]; then node --test sdks/js/test/*.test.js; else echo "SKIPPED: the browser library's unit tests (node is not installed)"; fi

test-ruby: RUNTIME := ruby
test-php: RUNTIME := php
$(addprefix test-,$(CLIENT_SUITES)): $(STAMP)
	@if command -v $(RUNTIME) >/dev/null 2>&1 || [ -n "$$CI" ]; then \
		PATH="$(CURDIR)/$(BIN):$$PATH" bash sdks/$(RUNTIME)/run-tests.sh; \
	else \
		echo "SKIPPED: the $(RUNTIME) client suite ($(RUNTIME) is not installed; bash sdks/install-runtimes.sh)"; \
	fi

# ruff (lint and format) and mypy strict on the server package: what .ci/run checks first.
lint: $(STAMP)
	cd server && ../$(BIN)/ruff check . && ../$(BIN)/ruff format --check . && ../$(BIN)/mypy

# The server's dependencies and test tools, pinned (installed as constraints by make venv).
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	cd server && ../$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 --quiet \
		-o requirements.lock --custom-compile-command "make lock"

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

venv: $(STAMP)

$(STAMP): $(PACKAGES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c server/requirements.lock -e './server[test]' -e ./sdks/python
	touch $(STAMP)

clean:
	rm -rf $(VENV) data
