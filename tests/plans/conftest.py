"""The PostgreSQL test clusters (tests/support/pg_cluster.py) for the failback across a real pair."""

from tests.actions.postgres.conftest import pg_template, sandbox  # noqa: F401
