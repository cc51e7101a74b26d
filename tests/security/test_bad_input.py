"""Hostile or broken YAML is refused with the file, the object and the field named, and nothing is
saved: alias bombs, oversized documents, non-finite and absurd numbers, NUL bytes, duplicate keys
and slugs, unknown binding fields. A secret a step echoes back is redacted before anything is cut."""

from __future__ import annotations

import pytest

from drills.engine import EVIDENCE_TEXT_CHARS, redact_outcome
from runbooks.actions import Done
from runbooks.models import Runbook, System
from runbooks.services import import_runbooks
from runbooks.yaml_format import RunbookFormatError

SYSTEM = """
systems:
  - slug: orders
    name: Orders
    tier: 2
    targets:
      db: {kind: sqlite, path: /srv/orders.sqlite3}
"""


def runbook(step_extra: str = "", slug: str = "orders-check") -> str:
    return f"""
runbooks:
  - slug: {slug}
    title: Orders check
    system: orders
    kind: partial_failover
    steps:
      - name: Wait a moment
        action: wait
        params: {{seconds: 1}}
{step_extra}"""


def refused(*texts: str) -> str:
    with pytest.raises(RunbookFormatError) as error:
        import_runbooks(sources=[(f"paste-{i}.yaml", t) for i, t in enumerate(texts)])
    assert not Runbook.objects.exists() and not System.objects.exists()
    return str(error.value)


@pytest.mark.django_db
def test_an_alias_bomb_is_refused_before_it_expands():
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" \
           "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    assert len(bomb) < 500
    assert "paste-0.yaml: line 1, column 4: YAML anchors (&a) are not accepted" in refused(bomb)


@pytest.mark.django_db
def test_documents_over_the_size_or_node_limit_are_refused():
    assert "larger than 1 MB" in refused(SYSTEM + "# " + "x" * 1_000_001)
    many = "systems:\n" + "".join(f"  - {{slug: s{i}, tier: 3, description: x}}\n" for i in range(20_000))
    assert "more than 50000 values" in refused(many)


@pytest.mark.django_db
@pytest.mark.parametrize("timeout, message", [
    (".inf", "'.inf' is not a finite number"),
    (".nan", "'.nan' is not a finite number"),
    ("1.0e+300", "timeout: at most a year"),
    ("99999999d", "timeout: at most a year"),
])
def test_non_finite_and_absurd_timeouts_are_refused(timeout, message):
    text = refused(SYSTEM, runbook(f"""      - name: Wait again
        action: wait
        params: {{seconds: 1}}
        timeout: {timeout}
"""))
    assert message in text


@pytest.mark.django_db
def test_nul_bytes_duplicate_keys_duplicate_slugs_and_unknown_binding_fields_are_refused():
    assert "NUL character" in refused(SYSTEM.replace("name: Orders", 'name: "Ord\\0ers"'))
    assert "duplicate key 'tier'" in refused(SYSTEM.replace("tier: 2", "tier: 2\n    tier: 0"))
    both = refused(SYSTEM, runbook(), runbook())
    assert "runbook 'orders-check': slug: defined twice in this import (first in paste-1.yaml)" in both
    unknown = refused(SYSTEM.replace("path: /srv/orders.sqlite3}", "path: /srv/orders.sqlite3, mode: rwx}"))
    assert "system 'orders': targets.db.mode: unknown field; a sqlite target takes: path" in unknown


@pytest.mark.django_db
def test_a_huge_number_in_a_parameter_is_refused():
    assert "params.seconds: must be at most" in refused(SYSTEM, runbook().replace("seconds: 1}", "seconds: 1.0e+300}"))


def test_a_secret_is_redacted_before_the_evidence_is_shortened(monkeypatch):
    secret = "s3cr3t-" + "k" * 40
    monkeypatch.setenv("ORDERS_API_TOKEN", secret)
    echoed = "x" * (EVIDENCE_TEXT_CHARS - 10) + secret  # the cut falls inside the secret
    outcome = redact_outcome(Done(evidence={"response": echoed}), {})
    shown = outcome.evidence["response"]
    assert "s3cr3t" not in shown and shown.endswith("[redacted:…")
