# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Re-install when a distribution's declared dependencies change.
STAMP := $(VENV)/.installed
PACKAGES := server/pyproject.toml $(wildcard sdks/python/pyproject.toml)

.PHONY: run test test-server venv clean

run: $(STAMP)
	$(BIN)/salesmachine serve --first-project

test: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider server/tests

venv: $(STAMP)

$(STAMP): $(PACKAGES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e './server[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) data
