"""A coordinator in a real browser: logs in, starts the demo drill, watches the steps turn green
without reloading the page, and reads the achieved RTO and RPO."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import orders_system_yaml
from tests.test_backup_restore_drill import runbook_yaml

pytestmark = [pytest.mark.worker, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def page(live_server):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
    # plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
        yield page
        context.close()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/")
    page.fill("input[name=username]", "casey")
    page.fill("input[name=password]", "correct-horse-battery-staple")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def test_coordinator_runs_the_demo_drill_and_sees_rto_and_rpo(worker, live_server, page, import_yaml, orders_db, orders_service):
    import_yaml(orders_system_yaml(orders_db, orders_service), runbook_yaml())
    log_in(page, live_server)

    page.goto(f"{live_server.url}/runbooks/demo-orders-backup-restore/")
    page.get_by_role("button", name="Start live drill").click()
    page.wait_for_selector("#drill-status")
    drill_url = page.url
    # Mark the document: a reload would lose this, so seeing it at the end proves no reload happened.
    page.evaluate("window.__noReload = true")

    page.wait_for_selector("#step-1[data-status=succeeded]", timeout=30_000)
    page.wait_for_selector("#step-6[data-status=succeeded]", timeout=60_000)
    page.wait_for_selector("#drill-status[data-status=succeeded]", timeout=30_000)
    page.wait_for_selector("#rto-result", timeout=15_000)

    assert page.url == drill_url
    assert page.evaluate("window.__noReload") is True
    rto_text = page.inner_text("#rto-result")
    rpo_text = page.inner_text("#rpo-result")
    assert " s" in rto_text and "±" in rto_text
    assert " s" in rpo_text
    assert page.console_errors == []
