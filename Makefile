# The two commands: `make serve` and `make test`. Each sets up what it needs.
#   make serve [HOST=0.0.0.0] [PORT=8080] [WORKERS=N]   (HOST and PORT are also read from the environment)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?=

.PHONY: serve test install browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# What serving needs, nothing more.
$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The runtime and the test tools.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(RUNTIME)

install: $(STAMP)

# Serve the catalogue on http://$(HOST):$(PORT) (migrates, and loads the seed papers when empty).
serve: $(RUNTIME)
	$(BIN)/papers serve --host $(HOST) --port $(PORT) $(if $(WORKERS),--workers $(WORKERS))

# Debian's chromium drives the browser tests (no browser download needed).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

# The whole suite, browser tests included, warnings as errors.
test: $(STAMP) browser
	$(BIN)/pytest -W error

clean:
	rm -rf $(VENV) data artifacts
