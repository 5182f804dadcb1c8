# Haulout. The contract: `make run` starts the whole system with demo data on
# http://127.0.0.1:8000/, `make test` runs the test suite. Both work from a fresh clone
# on a machine with Python 3.11+ and gpg; they create .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; make reinstalls only when pyproject.toml is newer.
STAMP := $(VENV)/.installed
MANAGE := $(BIN)/python manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help install run test lint check-deploy demo totp

help:
	@echo "make run           start web, worker and beat with demo data on http://$(HOST):$(PORT)/"
	@echo "make test          run the test suite (SQLite; set DATABASE_URL for PostgreSQL)"
	@echo "make lint          ruff check and ruff format --check"
	@echo "make check-deploy  Django's deployment checks with production settings"
	@echo "make totp          print the demo reviewer's current TOTP code (TOTP_EMAIL=...)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $@

install: $(STAMP)

# Local run: plain HTTP on loopback, so the HTTPS-only settings are off. Everything
# else uses the embedded defaults: SQLite, broker, mail and cache under var/.
run: export DJANGO_SECURE := 0
run: export DJANGO_DEBUG ?= 0
run: export HAULOUT_BIND := $(HOST):$(PORT)
run: export HAULOUT_SITE_URL ?= http://$(HOST):$(PORT)
run: $(STAMP)
	@$(MANAGE) migrate --noinput -v 0
	@$(MANAGE) collectstatic --noinput -v 0
	@$(MANAGE) demo
	@echo
	@echo "Haulout is starting on http://$(HOST):$(PORT)/  (mail is written to var/mail/; Ctrl+C stops it)"
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

# Exit code 5 means pytest collected nothing: a failure, and said so plainly.
test: $(STAMP)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Production settings (HTTPS, no debug); the rest comes from the environment.
check-deploy: $(STAMP)
	DJANGO_SECURE=1 DJANGO_DEBUG=0 $(MANAGE) check --deploy --fail-level WARNING

demo: export DJANGO_SECURE := 0
demo: $(STAMP)
	@$(MANAGE) migrate --noinput -v 0
	@$(MANAGE) demo

totp: $(STAMP)
	@$(MANAGE) demo_totp $(TOTP_EMAIL)
