"""An organisation adds its own family of actions the way drdrill's families are written: a package
that registers itself, here written into a temporary folder and named by DRDRILL_ACTION_FAMILIES, so
no file of drdrill is edited. Its SDK is loaded only once one of its actions is used."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runbooks.actions import action_names, canary_kinds, canary_writer, get_action, load_families
from runbooks.actions.registry import REGISTRY
from runbooks.services import import_runbooks
from runbooks.yaml_format import RunbookFormatError

ROOT = Path(__file__).resolve().parent.parent.parent

FAMILY = '''
from runbooks.actions import register_family

register_family(
    name="acme",
    package=__name__,
    actions={"acme.flip": ".actions:Flip"},
    binding_checks={"acme-switch": ".actions:switch_problems"},
    canary_writers={"acme-switch": ".actions:SwitchCanary"},
)
'''
ACTIONS = '''
from dataclasses import dataclass

import acme_sdk  # the vendor's SDK: imported when an acme action is first used

from runbooks.actions import Action, Done


@dataclass(frozen=True)
class FlipParams:
    target: str


class Flip(Action[FlipParams]):
    name = "acme.flip"
    summary = "Flip the switch."
    Params = FlipParams
    target_kind = "acme-switch"
    changes = "flips the switch"

    def run(self, params, ctx):
        return Done(evidence={"flipped": acme_sdk.flip(ctx.target(params.target)["switch"])})


def switch_problems(binding):
    return [] if binding.get("switch") else [("switch", "required: the switch to flip")]


class SwitchCanary:
    def __init__(self, binding):
        self.binding = binding

    def describe(self):
        return f"switch {self.binding['switch']}"
'''


@pytest.fixture
def acme_family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    package = tmp_path / "acme_family"
    package.mkdir()
    (package / "__init__.py").write_text(FAMILY)
    (package / "actions.py").write_text(ACTIONS)
    (tmp_path / "acme_sdk.py").write_text("def flip(switch):\n    return switch\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DRDRILL_ACTION_FAMILIES", "acme_family")
    yield package
    REGISTRY.families.pop("acme", None)
    for name in ("acme_family", "acme_family.actions", "acme_sdk"):
        sys.modules.pop(name, None)


def system_with(binding: str) -> str:
    return textwrap.dedent(f"""
        systems:
          - slug: plant
            name: Plant
            tier: 3
            targets:
              main: {binding}
        runbooks:
          - slug: flip-it
            title: Flip it
            system: plant
            kind: partial_failover
            steps:
              - name: Flip the main switch
                action: acme.flip
                params: {{target: main}}
        """)


@pytest.mark.django_db
def test_a_new_family_registers_itself_and_its_sdk_loads_only_when_used(acme_family):
    load_families()
    assert "acme.flip" in action_names()
    assert "acme-switch" in canary_kinds()
    assert "acme_sdk" not in sys.modules  # registered, listed, not yet used

    with pytest.raises(RunbookFormatError, match=r"targets.main.switch: required: the switch to flip"):
        import_runbooks(sources=[("plant.yaml", system_with("{kind: acme-switch}"))])
    report = import_runbooks(sources=[("plant.yaml", system_with("{kind: acme-switch, switch: s1}"))])
    assert report.versions_created == ["flip-it v1"]

    assert get_action("acme.flip").changes == "flips the switch"
    assert "acme_sdk" in sys.modules
    assert canary_writer({"kind": "acme-switch", "switch": "s1"}).describe() == "switch s1"


def test_drdrills_own_families_load_their_sdks_only_when_used():
    """A worker that runs no PostgreSQL step never imports psycopg for it (the web and worker
    processes on SQLite import it for nothing)."""
    probe = ("import os, sys, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
             "os.environ.pop('DATABASE_URL', None); django.setup(); "
             "from runbooks.actions import action_names, get_action; names = action_names(); "
             "before = 'psycopg' in sys.modules; get_action('postgres.fault'); "
             "print(len(names), before, 'psycopg' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "DRDRILL_DATA_DIR": str(ROOT / "var" / "test")}).stdout.split()
    assert out[1:] == ["False", "True"] and int(out[0]) >= 18
