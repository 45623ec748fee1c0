# The targets README names. `make install` is idempotent: a stamp file records the last install,
# so a second run only re-installs when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mobilevision-installed

.PHONY: install test demo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -n 2

demo: install
	$(BIN)/mobilevision quickstart

clean:
	rm -rf $(VENV) runs
