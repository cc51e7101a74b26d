# Two commands a newcomer needs: `make run` and `make test`. Both start from nothing but Python 3.11.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test install

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# The app on embedded defaults: SQLite, Celery's filesystem broker, a worker with beat, the demo
# orders service and demo data, served on http://127.0.0.1:8000 (admin / drdrill-demo).
run: $(STAMP)
	$(VENV)/bin/python scripts/run_embedded.py

# The whole suite. Uses PostgreSQL and Redis when DATABASE_URL / CELERY_BROKER_URL say so, the
# embedded defaults otherwise.
test: $(STAMP)
	DRDRILL_DATA_DIR=$${DRDRILL_DATA_DIR:-var/test} $(VENV)/bin/python -m pytest $(PYTEST_ARGS)
