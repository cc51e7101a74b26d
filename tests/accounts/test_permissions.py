"""The permission matrix: every URL, as every role and as a stranger. A new URL without a rule
fails here, so no page or htmx endpoint can ship unguarded."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.roles import ROLE_CAPABILITIES, Capability, Role
from drills.models import Drill, StepRun
from runbooks.models import Runbook
from tests.support.roles import user_with_role
from tests.support.scenarios import backup_restore_runbook_yaml as runbook_yaml
from tests.support.scenarios import orders_system_yaml

# URLs anyone may reach, each with the reason.
PUBLIC = {
    "login": "the sign-in page",
    "healthz": "load balancer health check; reveals nothing",
}
# Any signed-in person, whatever their role.
ANY_SIGNED_IN = {"logout": "signing out"}


def our_url_patterns() -> list[tuple[str, URLPattern]]:
    """(route, pattern) of every URL outside the Django admin, which has its own staff checks."""
    found = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.app_name == "admin":
                    continue
                walk(entry.url_patterns, prefix + str(entry.pattern))
            else:
                found.append((prefix + str(entry.pattern), entry))

    walk(get_resolver().url_patterns, "")
    return found


def name_of(pattern: URLPattern) -> str:
    return pattern.name or pattern.lookup_str


def test_every_url_has_a_rule():
    missing = []
    for route, pattern in our_url_patterns():
        if pattern.name in PUBLIC or pattern.name in ANY_SIGNED_IN:
            continue
        if not hasattr(pattern.callback, "required_capability"):
            missing.append(route)
    assert missing == [], f"views without a capability rule (decorate them with accounts.roles.requires): {missing}"


@pytest.fixture
def world(db, import_yaml, orders_db, coordinator):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), runbook_yaml())
    version = Runbook.objects.get().latest_version
    drill = Drill.objects.create(runbook_version=version, system=version.runbook.system, kind=version.runbook.kind,
                                 status=Drill.Status.FAILED, started_by=coordinator)
    for step in version.steps.all():
        StepRun.objects.create(drill=drill, step=step, position=step.position, status=StepRun.Status.FAILED)
    return {"slug": "demo-orders-backup-restore", "pk": drill.pk, "position": 1, "system": "orders"}


def concrete(route: str, world: dict) -> str:
    url = "/" + route
    replacements = {"<slug:slug>": world["slug"], "<int:pk>": str(world["pk"]), "<int:position>": str(world["position"]),
                    "<str:quarter>": "2026-Q3", "<str:fmt>": "csv", "<slug:chart>": "overview", "<int:number>": "1"}
    if route.startswith("systems/"):
        replacements["<slug:slug>"] = world["system"]
    for placeholder, value in replacements.items():
        url = url.replace(placeholder, value)
    return url


def method_of(client: Client, url: str) -> str:
    """GET for pages, POST for actions (they answer GET with 405)."""
    return "post" if client.get(url).status_code == 405 else "get"


@pytest.mark.parametrize("role", [None, *[r.value for r in Role]])
def test_each_role_reaches_exactly_what_it_may(world, role):
    admin = Client()
    admin.force_login(user_with_role("probe-admin", Role.ADMIN.value))
    client = Client()
    client.force_login(user_with_role(f"user-{role or 'none'}", role))
    granted = ROLE_CAPABILITIES[Role(role)] if role else frozenset()

    checked = 0
    for route, pattern in our_url_patterns():
        capability: Capability | None = getattr(pattern.callback, "required_capability", None)
        if capability is None:
            continue
        url = concrete(route, world)
        method = method_of(admin, url)
        # Empty form data. A permitted person may act on the throwaway drill; what matters is
        # whether the request is refused.
        response = getattr(client, method)(url, {})
        if capability in granted:
            assert response.status_code != 403, f"{role} should reach {method.upper()} {url}"
        else:
            assert response.status_code == 403, f"{role} must not reach {method.upper()} {url} (got {response.status_code})"
        checked += 1
    assert checked >= 15


@pytest.mark.django_db
def test_a_stranger_is_sent_to_sign_in_everywhere_but_the_public_pages(world):
    client = Client()
    for route, pattern in our_url_patterns():
        url = concrete(route, world)
        response = client.get(url)
        if pattern.name in PUBLIC:
            assert response.status_code == 200, url
        elif response.status_code != 405:
            assert response.status_code == 302 and response["Location"].startswith("/login/"), url
        else:
            response = client.post(url, {})
            assert response.status_code in (302, 403), url
            if response.status_code == 302:
                assert response["Location"].startswith("/login/"), url


def test_a_viewer_sees_no_buttons_that_would_change_a_drill(world):
    client = Client()
    client.force_login(user_with_role("vera", Role.VIEWER.value))
    runbook_page = client.get(f"/runbooks/{world['slug']}/").content.decode()
    assert "Start live drill" not in runbook_page and "Start dry-run" not in runbook_page
    drill_page = client.get(f"/drills/{world['pk']}/").content.decode()
    assert "Retry step" not in drill_page and "Abort drill" not in drill_page


def test_the_cli_refuses_a_user_without_the_coordinator_role(world):
    from django.core.management import CommandError, call_command

    user_with_role("pat", Role.PARTICIPANT.value)
    with pytest.raises(CommandError, match="coordinator"):
        call_command("drill", "run", world["slug"], "--dry-run", "--user", "pat")
    assert Drill.objects.count() == 1


@pytest.mark.parametrize("role, may_change_systems", [(Role.COORDINATOR, False), (Role.ADMIN, True)])
def test_only_an_administrator_changes_the_inventory_through_an_import(db, orders_db, role, may_change_systems):
    """Coordinators import runbooks; systems, environments and bindings are an administrator's."""
    from runbooks.models import System

    user_with_role("first-admin", Role.ADMIN.value)
    client = Client()
    client.force_login(user_with_role(f"a-{role.value}", role.value))
    response = client.post("/runbooks/import/", {"text": orders_system_yaml(orders_db, "http://127.0.0.1:9") + runbook_yaml()})
    created = System.objects.filter(slug="orders").exists()
    assert created is may_change_systems
    if not may_change_systems:
        assert response.status_code == 400
        assert "may not change systems" in response.content.decode()
