# learnsite: `make run` serves the site, `make test` runs every test. Both install what is missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# The stamp names a hash of requirements.txt: pip runs again only when the file changes.
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
HOST ?= 127.0.0.1
WEB_PORT ?= 8000
VAR_DIR := $(abspath $(or $(LEARNSITE_VAR_DIR),var))
# The Procfile's Celery workers: `make run` and `make serve` start the same ones.
WORKERS := $(shell sed -n 's/^\(worker[A-Za-z0-9_-]*\):.*/\1/p' Procfile)
# With REDIS_URL (DATABASE_URL) set, that Redis (PostgreSQL) is used and none is started here.
PROCESSES := $(if $(REDIS_URL),,redis) web $(WORKERS) content mail url
SERVE_PROCESSES := $(if $(DATABASE_URL),,postgres) $(if $(REDIS_URL),,durable-redis) serve-web $(WORKERS) mail url

# axe-core, for the browser tests' accessibility scan (tests/browser/test_accessibility.py).
AXE_CORE := 4.14.1
AXE_STAMP := var/node/.axe-core-$(AXE_CORE)

.PHONY: run serve test lint format bench browser clean

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
	@# The Procfile's url process prints it once the site answers.
	@ANNOUNCE="learnsite: open http://$(HOST):$(WEB_PORT)/  (Ctrl-C stops Redis, the workers, the web server, the content watcher and the mail server)" \
	HOST=$(HOST) WEB_PORT=$(WEB_PORT) PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/honcho start $(PROCESSES)

# The production profile on one machine (README: "Production on one machine: make serve").
serve: export DJANGO_DEBUG := 0
serve: export LEARNSITE_STATIC_COLLECTED := 1
serve: export DATABASE_URL := $(or $(DATABASE_URL),postgres://learnsite@/learnsite?host=$(VAR_DIR)/pg)
serve: $(STAMP)
	$(PY) manage.py collectstatic --no-input --verbosity 0
	@$(if $(DJANGO_SECRET_KEY),,echo "  DJANGO_SECRET_KEY is unset: using the key made once in $(VAR_DIR)/secret_key.")
	@ANNOUNCE="learnsite (production profile): http://$(HOST):$(WEB_PORT)/ behind your TLS proxy (DJANGO_HTTPS=0 to try it over plain HTTP). Ctrl-C stops everything it started." \
	HOST=$(HOST) WEB_PORT=$(WEB_PORT) PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/honcho start $(SERVE_PROCESSES)

# Browser tests drive the system Chromium (Playwright cannot download its own here).
browser: $(AXE_STAMP)
	@bin/ensure-chromium

$(AXE_STAMP):
	@command -v npm >/dev/null || { echo "The browser tests need npm for axe-core: install Node.js and npm (apt-get install npm)." >&2; exit 1; }
	npm install --no-save --no-audit --no-fund --prefix var/node axe-core@$(AXE_CORE)
	@rm -f var/node/.axe-core-* && touch $@

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
	@bin/ensure-wrk
	$(PY) bench/pages.py
	$(PY) bench/grading.py
	$(PY) bench/class_clicks.py
	$(PY) bench/run.py
	$(PY) bench/content_scale.py

clean:
	rm -rf $(VENV) var
