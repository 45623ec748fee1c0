# The targets README names. `make install` is idempotent: a stamp file records the last install,
# so a second run only re-installs when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mobilevision-installed

.PHONY: install test demo clean

install: $(STAMP)

# pip byte-compiles one file at a time (about a minute of a 2-core install, most of it torch's);
# compileall shares the same work across the cores. Files it cannot compile (torch ships tests in
# Python 3.12 syntax) are skipped, as pip skips them: Python compiles what it imports anyway.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -e '.[test]'
	$(BIN)/python -m compileall -q -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
		> /dev/null || true
	touch $(STAMP)

test: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n 2

demo: install
	$(BIN)/mobilevision quickstart

clean:
	rm -rf $(VENV) runs
