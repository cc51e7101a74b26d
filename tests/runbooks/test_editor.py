"""Editing a runbook in the browser: the latest version's YAML, a diff preview, saving as version
N+1 through the import (whose error messages the editor shows), every version's diff against any
other, and an explicit choice to drill an old version."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEntry
from drills.models import Drill
from runbooks.models import Runbook, RunbookVersion
from tests.support.scenarios import backup_restore_runbook_yaml, orders_system_yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client: Client, coordinator, import_yaml, orders_db) -> Client:
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), backup_restore_runbook_yaml())
    client.force_login(coordinator)
    return client


URL = "/runbooks/demo-orders-backup-restore/edit/"


def edited_text(client: Client, old: str, new: str) -> str:
    page = client.get(URL).content.decode()
    import html
    text = html.unescape(page.split('id="runbook-yaml">')[1].split("</textarea>")[0])
    assert old in text
    return text.replace(old, new)


def test_saving_an_edit_creates_the_next_version_and_its_page_shows_the_diff(signed_in: Client):
    text = edited_text(signed_in, "seconds: 3", "seconds: 10")
    preview = signed_in.post(URL, {"text": text, "based_on": "1", "action": "preview"})
    assert preview.status_code == 200
    body = preview.content.decode()
    assert "-      seconds: 3" in body and "+      seconds: 10" in body
    assert RunbookVersion.objects.count() == 1  # a preview saves nothing

    saved = signed_in.post(URL, {"text": text, "based_on": "1", "action": "save"})
    assert saved.status_code == 302 and saved["Location"].endswith("?version=2#changes")
    v2 = Runbook.objects.get().latest_version
    assert v2.number == 2 and v2.source_name == "demo-orders-backup-restore (browser editor)"
    assert AuditEntry.objects.filter(action="runbook.version_created", after__version=2).exists()
    page = signed_in.get("/runbooks/demo-orders-backup-restore/?version=2").content.decode()
    assert "Changes of v2 against v1" in page and "+      seconds: 10" in page
    page = signed_in.get("/runbooks/demo-orders-backup-restore/?version=1&compare=2").content.decode()
    assert "Changes of v1 against v2" in page and "-      seconds: 10" in page


def test_a_broken_edit_is_refused_with_the_imports_error_and_creates_nothing(signed_in: Client):
    text = edited_text(signed_in, "action: sqlite.backup", "action: sqlite.bakup")
    response = signed_in.post(URL, {"text": text, "based_on": "1", "action": "save"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was saved" in body
    assert ("demo-orders-backup-restore (browser editor): runbook &#x27;demo-orders-backup-restore&#x27;, step 2 "
            "&#x27;Back up the orders database&#x27;: action: unknown action &#x27;sqlite.bakup&#x27;") in body
    assert "sqlite.bakup" in body  # the edit is kept in the editor to be fixed
    broken_yaml = signed_in.post(URL, {"text": "runbooks: [", "based_on": "1", "action": "save"})
    assert "not valid YAML" in broken_yaml.content.decode()
    assert RunbookVersion.objects.count() == 1


def test_the_editor_changes_the_runbook_only(signed_in: Client, orders_db):
    text = orders_system_yaml(orders_db, "http://127.0.0.1:9") + edited_text(signed_in, "seconds: 3", "seconds: 4")
    response = signed_in.post(URL, {"text": text, "based_on": "1", "action": "save"})
    assert response.status_code == 400 and "the editor changes this runbook only" in response.content.decode()
    other = edited_text(signed_in, "slug: demo-orders-backup-restore", "slug: another-runbook")
    response = signed_in.post(URL, {"text": other, "based_on": "1", "action": "save"})
    assert "the document must hold that one runbook" in response.content.decode()
    assert RunbookVersion.objects.count() == 1


def test_an_edit_based_on_an_older_version_does_not_overwrite_a_newer_one(signed_in: Client):
    first = edited_text(signed_in, "seconds: 3", "seconds: 10")
    signed_in.post(URL, {"text": first, "based_on": "1", "action": "save"})
    stale = first.replace("seconds: 10", "seconds: 20")
    response = signed_in.post(URL, {"text": stale, "based_on": "1", "action": "save"})
    assert response.status_code == 400 and "v2 was saved by casey while you edited v1" in response.content.decode()
    assert RunbookVersion.objects.count() == 2


def test_drilling_an_old_version_needs_an_explicit_choice(signed_in: Client):
    signed_in.post(URL, {"text": edited_text(signed_in, "seconds: 3", "seconds: 10"), "based_on": "1", "action": "save"})
    start = "/runbooks/demo-orders-backup-restore/start/"
    refused = signed_in.post(start, {"mode": "dry_run", "version": "1"}, follow=True)
    assert "v1 is not the latest version (v2)" in refused.content.decode() and not Drill.objects.exists()
    page = signed_in.get("/runbooks/demo-orders-backup-restore/?version=1").content.decode()
    assert 'name="old_version" value="1"' in page
    signed_in.post(start, {"mode": "tabletop", "version": "1", "old_version": "1"})
    drill = Drill.objects.get()
    assert drill.runbook_version.number == 1
    drill_page = signed_in.get(f"/drills/{drill.pk}/").content.decode()
    assert "The runbook changed since this drill" in drill_page and "+      seconds: 10" in drill_page
