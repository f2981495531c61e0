# learnsite: `make run` serves the site, `make test` runs every test. Both install what is missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# The stamp names a hash of requirements.txt: pip runs again only when the file changes.
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
HOST ?= 127.0.0.1
WEB_PORT ?= 8000
# With REDIS_URL set, that Redis is used and none is started here.
PROCESSES := $(if $(REDIS_URL),,redis )web worker worker-labs worker-long content mail

.PHONY: run test lint format bench browser clean

$(STAMP): requirements.txt
	@if ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		rm -rf $(VENV); python=$$(bin/find-python) && echo "Creating $(VENV) with $$python" && \
		"$$python" -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(PY) manage.py migrate --no-input
	@# A content error is shown on the site (and fixed live), so it does not stop the start.
	-$(PY) manage.py content_load
	@echo ""
	@echo "  learnsite: open http://$(HOST):$(WEB_PORT)/  (Ctrl-C stops Redis, the workers, the web server, the content watcher and the mail server)"
	@echo ""
	HOST=$(HOST) WEB_PORT=$(WEB_PORT) PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/honcho start $(PROCESSES)

# Browser tests drive the system Chromium (Playwright cannot download its own here).
browser:
	@bin/ensure-chromium

test: $(STAMP) browser lint
	$(PY) -m pytest

# ruff, then the import contracts in pyproject.toml: the apps' layers and no import circles.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) var
