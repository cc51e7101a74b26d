"""A coordinator in a real browser: logs in, starts the demo drill, watches the steps turn green
without reloading the page, and reads the achieved RTO and RPO."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from drills.models import Drill
from tests.support.roles import PASSWORD
from tests.support.scenarios import backup_restore_runbook_yaml as runbook_yaml
from tests.support.scenarios import orders_system_yaml

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


SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "var" / "screenshots"
WIDTHS = (1400, 375)


def shoot_both_widths(page, name: str) -> None:
    """Screenshots at a desk's width and a phone's (var/screenshots/, kept by CI for reviewers);
    at the phone's width nothing may scroll sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{page.url} scrolls {overflow} px sideways at {width} px"
    page.set_viewport_size({"width": WIDTHS[0], "height": 1000})


def log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/")
    page.fill("input[name=username]", "casey")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def test_coordinator_runs_the_demo_drill_and_sees_rto_and_rpo(worker, live_server, page, import_yaml, orders_db, orders_service):
    import_yaml(orders_system_yaml(orders_db, orders_service), runbook_yaml())
    log_in(page, live_server)

    page.goto(f"{live_server.url}/runbooks/demo-orders-backup-restore/")
    page.get_by_role("button", name="Start live drill").click()
    # First what the drill will do, in words, with the targets each step touches; nothing runs yet.
    page.wait_for_selector("#live-plan")
    disaster = page.inner_text("#plan-4")
    assert f"Deletes the database file {orders_db}" in disaster and "touches db (sqlite: path=" in disaster
    assert "touches web (http: url=" in page.inner_text("#plan-1")
    assert not Drill.objects.exists() and orders_db.exists()
    page.get_by_role("button", name="Confirm and start the live drill").click()
    page.wait_for_selector("#drill-status")
    drill_url = page.url
    # Mark the document: a reload would lose this, so seeing it at the end proves no reload happened.
    page.evaluate("window.__noReload = true")

    page.wait_for_selector("#step-1[data-status=succeeded]", timeout=30_000)
    # A running drill, as a reviewer sees it on a desk and on a phone.
    shoot_both_widths(page, "drill-running")
    page.wait_for_selector("#step-6[data-status=succeeded]", timeout=60_000)
    page.wait_for_selector("#drill-status[data-status=succeeded]", timeout=30_000)
    page.wait_for_selector("#rto-result", timeout=15_000)
    shoot_both_widths(page, "drill-result")
    # The drill over time, drawn while it ran without a reload: a bar per step, the outage behind them.
    assert page.locator("#gantt rect.bar").count() == 6
    assert page.locator("#gantt rect.outage").count() == 1

    assert page.url == drill_url
    assert page.evaluate("window.__noReload") is True
    rto_text = page.inner_text("#rto-result")
    rpo_text = page.inner_text("#rpo-result")
    assert " s" in rto_text and "±" in rto_text
    assert " s" in rpo_text
    assert page.console_errors == []


def sign_in_as(browser_page, live_server, username: str) -> None:
    browser_page.goto(f"{live_server.url}/login/")
    browser_page.fill("input[name=username]", username)
    browser_page.fill("input[name=password]", PASSWORD)
    browser_page.click("button[type=submit]")
    browser_page.wait_for_url(lambda url: "/login" not in url)


def test_main_flows_work_under_the_content_security_policy(worker, live_server, page, coordinator, orders_db, service,
                                                            tmp_path):
    """Upload a production runbook, request a live drill with the typed name, have a second person
    approve it, and read the audit trail: all with the strict policy on and no console error."""
    from tests.support.roles import user_with_role
    from tests.support.scenarios import system_and_runbook

    user_with_role("ann", "approver")
    system, runbook = system_and_runbook(orders_db, service.url, f"""
      - name: Call the failover endpoint
        action: http.request
        params: {{url: "{service.url}/apply", method: POST}}
""")
    upload = tmp_path / "orders.yaml"
    upload.write_text(system.replace("environment: staging", "environment: production") + runbook)

    log_in(page, live_server)
    page.goto(f"{live_server.url}/runbooks/")
    page.set_input_files("input[name=files]", str(upload))
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector("text=New runbook versions: drill-under-test v1")

    page.goto(f"{live_server.url}/runbooks/drill-under-test/")
    page.get_by_role("button", name="Request live drill on production").click()
    page.wait_for_selector("#live-plan")
    page.fill("input[name=confirmation]", "Orders")
    page.get_by_role("button", name="Confirm and request the live drill").click()
    page.wait_for_selector("#start-approval")
    drill_url = page.url
    assert service.count("/apply") == 0

    approver = page.context.browser.new_context().new_page()
    approver.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
    sign_in_as(approver, live_server, "ann")
    approver.goto(drill_url)
    approver.fill("#start-comment", "Change CHG-981 approved")
    approver.get_by_role("button", name="Approve start").click()
    approver.wait_for_selector("#drill-status[data-status=succeeded]", timeout=30_000)
    # The requester's page follows along without a reload.
    page.wait_for_selector("#drill-status[data-status=succeeded]", timeout=30_000)
    assert service.count("/apply") == 1

    page.goto(f"{live_server.url}/audit/")
    audit_text = page.inner_text("main")
    assert "approval.approved" in audit_text and "drill.start_requested" in audit_text
    for path in ("/", "/systems/", "/systems/orders/", "/drills/"):
        page.goto(f"{live_server.url}{path}")
    approver.context.close()
    assert page.console_errors == []
