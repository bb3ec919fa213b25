# The two commands: `make serve` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test install browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Serve the catalogue on http://127.0.0.1:8000 (migrates, and loads the seed papers when empty).
serve: $(STAMP)
	$(BIN)/papers serve

# Debian's chromium drives the browser tests (no browser download needed).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

# The whole suite, browser tests included, warnings as errors.
test: $(STAMP) browser
	$(BIN)/pytest -W error

clean:
	rm -rf $(VENV) data artifacts
