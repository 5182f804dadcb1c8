# Haulout. The contract is dev.py (it needs only Python 3.11+ and gpg):
#   python3 dev.py run    web, worker and beat with demo data on http://127.0.0.1:8000/
#   python3 dev.py test   the whole test suite (PYTEST_ARGS here, plain args there)
# These targets are shortcuts for people who have make.

PYTHON ?= python3

.DEFAULT_GOAL := help
.PHONY: help install run test lint check-deploy demo totp

help:
	@echo "make run           start web, worker and beat with demo data on http://127.0.0.1:8000/"
	@echo "make test          run the test suite (SQLite; set DATABASE_URL for PostgreSQL)"
	@echo "make lint          ruff check and ruff format --check"
	@echo "make check-deploy  Django's deployment checks with production settings"
	@echo "make totp          print the demo reviewer's current TOTP code (TOTP_EMAIL=...)"

install:
	@$(PYTHON) dev.py install

run:
	@$(PYTHON) dev.py run

test:
	@$(PYTHON) dev.py test $(PYTEST_ARGS)

lint:
	@$(PYTHON) dev.py lint

check-deploy:
	@$(PYTHON) dev.py check-deploy

demo:
	@$(PYTHON) dev.py manage migrate --noinput -v 0
	@$(PYTHON) dev.py manage demo

totp:
	@$(PYTHON) dev.py totp $(TOTP_EMAIL)
