"""Throwaway PostgreSQL clusters (tests/support/pg_cluster.py) for the PostgreSQL action tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pg_cluster import OS_USER, PASSWORD_ENV, PG_BIN, SUPERUSER, Sandbox, available, new_root, run


@pytest.fixture(scope="session")
def pg_template() -> Iterator[Path]:
    reason = available()
    if reason:
        pytest.skip(reason)
    root = new_root()
    password_file = root / "password"
    password_file.write_text(os.environ[PASSWORD_ENV])
    shutil.chown(password_file, OS_USER)
    run([str(PG_BIN / "initdb"), "-D", str(root / "template"), "-U", SUPERUSER, "--auth-local=trust",
         "--auth-host=scram-sha-256", f"--pwfile={password_file}", "-N"])
    password_file.unlink()
    yield root / "template"
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sandbox(pg_template: Path) -> Iterator[Sandbox]:
    box = Sandbox(new_root(), pg_template)
    yield box
    box.cleanup()
