# Two commands a newcomer needs: `make run` and `make test`. Both start from nothing but Python 3.11
# (and, for what Debian provides, apt: Chromium for the browser tests, Pango for PDF reports,
# Graphviz for the dependency graph; installed when missing and apt is at hand).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
SYSTEM_PACKAGES := chromium libpango-1.0-0 libpangoft2-1.0-0 graphviz fonts-dejavu-core

.PHONY: run test install system-packages

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Debian packages the app and the tests use; skipped quietly where apt is not available or allowed.
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing from Debian:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Missing Debian packages:$$missing (apt-get install$$missing)"; fi; \
	fi

# The app on embedded defaults: SQLite, Celery's filesystem broker, a worker with beat, the demo
# orders service and demo data, served on http://127.0.0.1:8000 (admin / drdrill-demo).
run: $(STAMP) system-packages
	$(VENV)/bin/python scripts/run_embedded.py

# The whole suite. Uses PostgreSQL and Redis when DATABASE_URL / CELERY_BROKER_URL say so, the
# embedded defaults otherwise.
test: $(STAMP) system-packages
	DRDRILL_DATA_DIR=$${DRDRILL_DATA_DIR:-var/test} $(VENV)/bin/python -m pytest $(PYTEST_ARGS)
