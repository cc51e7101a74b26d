"""A new coordinator's first hour in a real browser (issue 14): a dry-run shows each step *Planned*
with what it would do, says nothing was changed and what a live run would change; the drill history
filters live in the address and survive a reload; and at a phone's 375 px no main page scrolls
sideways. Screenshots of the dashboard and the dry-run at 1400 px and 375 px go to var/screenshots/
(the running drill and its result are shot by tests/e2e/test_browser.py)."""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import log_in, page, shoot_both_widths  # noqa: F401  (the browser fixture)
from tests.support.scenarios import backup_restore_runbook_yaml as runbook_yaml
from tests.support.scenarios import orders_system_yaml

pytestmark = [pytest.mark.worker, pytest.mark.browser]

RUNBOOK = "demo-orders-backup-restore"
MAIN_PAGES = ("/", "/systems/", "/systems/orders/", "/runbooks/", f"/runbooks/{RUNBOOK}/", "/drills/",
              "/programme/bia/", "/programme/calendar/", "/programme/cadence/", "/reports/",
              "/programme/notifications/", "/audit/")


def horizontal_overflow(page) -> int:  # noqa: F811
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_a_dry_run_shows_its_plan_history_filters_survive_a_reload_and_pages_fit_a_phone(
        worker, live_server, page, import_yaml, start_drill, orders_db, orders_service):  # noqa: F811
    import_yaml(orders_system_yaml(orders_db, orders_service), runbook_yaml())
    log_in(page, live_server)

    page.goto(f"{live_server.url}/runbooks/{RUNBOOK}/")
    page.get_by_role("button", name="Start dry-run").click()  # a dry-run changes nothing: no confirmation
    page.wait_for_selector("#drill-status[data-status=succeeded]", timeout=60_000)
    dry_run_url = page.url
    assert page.locator("tr[data-shown=planned]").count() == 6
    disaster = page.inner_text("#step-4")
    assert "Planned" in disaster and f"Deletes the database file {orders_db}" in disaster
    progress = page.inner_text("#drill-progress")
    assert "Succeeded" not in progress
    summary = page.inner_text("#dry-run-summary")
    assert "Dry-run: nothing was changed." in summary and "A live run would:" in summary
    assert "Deletes the database file" in summary and orders_db.exists()
    shoot_both_widths(page, "dry-run")

    # The history, filtered to dry-runs of this system: a tabletop of the same runbook is left out,
    # and the filter lives in the address, so a reload (or a shared link) keeps it.
    start_drill(RUNBOOK, mode="tabletop")
    page.goto(f"{live_server.url}/drills/")
    page.select_option("#drill-filters select[name=system]", "orders")
    page.select_option("#drill-filters select[name=mode]", "dry_run")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(lambda url: "mode=dry_run" in url and "system=orders" in url)
    page.reload()
    assert page.input_value("#drill-filters select[name=mode]") == "dry_run"
    assert page.input_value("#drill-filters select[name=system]") == "orders"
    rows = page.locator("main table tbody tr")
    assert rows.count() == 1 and "DRY-RUN" in rows.first.inner_text() and "Planned" in rows.first.inner_text()

    page.goto(f"{live_server.url}/")
    shoot_both_widths(page, "dashboard")
    page.set_viewport_size({"width": 375, "height": 800})
    wide = {}
    for path in (*MAIN_PAGES, dry_run_url.removeprefix(live_server.url)):
        page.goto(f"{live_server.url}{path}")
        if horizontal_overflow(page) > 0:
            wide[path] = horizontal_overflow(page)
    assert wide == {}, f"pages that scroll sideways at 375 px (by px): {wide}"
    assert page.console_errors == []
