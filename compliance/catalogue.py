"""The control catalogue: which evidence of a drill supports which control of DORA, its RTS, ISO
22301, SOC 2, NIST SP 800-53, PCI DSS and HIPAA. Data, not code: compliance/catalogue/controls.yaml
ships with drdrill; an organisation adds or overrides controls in a file of its own
(``DRDRILL_CONTROLS_FILE``) and chooses the frameworks it follows (``DRDRILL_COMPLIANCE_FRAMEWORKS``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings

from runbooks.strict_yaml import load as load_yaml

BUILTIN_CATALOGUE = Path(__file__).resolve().parent / "catalogue" / "controls.yaml"


class TestType(IntEnum):
    """How much of the recovery a drill exercised, weakest first: a control asks for at least one."""

    __test__ = False  # not a pytest test class, despite its name

    TABLETOP = 1
    WALK_THROUGH = 2
    FUNCTIONAL_RESTORE = 3
    LIVE_SWITCHOVER = 4
    FULL_SCALE = 5

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize().replace("Walk through", "Walk-through")

    @classmethod
    def named(cls, key: str) -> TestType:
        try:
            return cls[key.upper()]
        except KeyError:
            raise CatalogueError(f"unknown test type {key!r}: one of {', '.join(t.key for t in cls)}") from None


# What a drill's records can show, in the catalogue's words (docs/compliance.md#evidence).
EVIDENCE = {
    "timeline": "a timeline of the event, before and during",
    "rto_measured": "RTO measured",
    "rpo_measured": "RPO measured",
    "objectives_met": "every measured figure within its target",
    "failback": "failback done (normal functioning restored)",
    "integrity": "data integrity verified against a baseline",
    "lessons": "lessons learned recorded after the exercise",
}


class CatalogueError(ValueError):
    """The catalogue file cannot be used; the message names the file, the control and the field."""


@dataclass(frozen=True)
class Control:
    id: str
    framework: str
    reference: str
    title: str
    min_test_type: TestType
    evidence: tuple[str, ...]
    every_months: int

    @property
    def asks_for(self) -> str:
        needs = ", ".join(EVIDENCE[e] for e in self.evidence)
        return f"{self.min_test_type.label} or more" + (f", with {needs}" if needs else "")


@dataclass(frozen=True)
class ImpactLevel:
    name: str
    tiers: tuple[int, ...]
    min_test_type: TestType


@dataclass(frozen=True)
class Catalogue:
    frameworks: dict[str, str]            # key → name, only those followed
    controls: tuple[Control, ...]          # only those of the frameworks followed
    impact_levels: tuple[ImpactLevel, ...]

    def control(self, control_id: str) -> Control:
        return next(c for c in self.controls if c.id == control_id)

    def impact_level_of(self, tier: int) -> ImpactLevel | None:
        return next((level for level in self.impact_levels if tier in level.tiers), None)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = load_yaml(path.read_text())
    except OSError as error:
        raise CatalogueError(f"{path}: cannot be read ({error.strerror})") from None
    except ValueError as error:
        raise CatalogueError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: expected a mapping with frameworks, impact_levels and controls")
    return data


def _control(raw: Any, where: str, frameworks: dict[str, str]) -> Control:
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: a control is a mapping")
    missing = [k for k in ("id", "framework", "reference", "title", "min_test_type") if not raw.get(k)]
    if missing:
        raise CatalogueError(f"{where}: control {raw.get('id', '?')} lacks {', '.join(missing)}")
    if raw["framework"] not in frameworks:
        raise CatalogueError(f"{where}: control {raw['id']} names framework {raw['framework']!r}, which is not declared "
                             "under frameworks")
    evidence = tuple(raw.get("evidence") or ())
    unknown = [e for e in evidence if e not in EVIDENCE]
    if unknown:
        raise CatalogueError(f"{where}: control {raw['id']} asks for unknown evidence {', '.join(unknown)} "
                             f"(known: {', '.join(EVIDENCE)})")
    every = raw.get("every_months", 12)
    if not isinstance(every, int) or not 1 <= every <= 120:
        raise CatalogueError(f"{where}: control {raw['id']}: every_months is a whole number of months, 1 to 120")
    try:
        test_type = TestType.named(str(raw["min_test_type"]))
    except CatalogueError as error:
        raise CatalogueError(f"{where}: control {raw['id']}: {error}") from None
    return Control(id=str(raw["id"]), framework=raw["framework"], reference=str(raw["reference"]),
                   title=str(raw["title"]), min_test_type=test_type, evidence=evidence, every_months=every)


def read_catalogue(paths: list[Path], followed: list[str] | None = None) -> Catalogue:
    """Read the catalogue files in order: a later file adds frameworks and controls, and replaces a
    control (or an impact level) of the same id. ``followed``: the frameworks kept; None keeps all."""
    frameworks: dict[str, str] = {}
    controls: dict[str, Control] = {}
    levels: dict[str, ImpactLevel] = {}
    for path in paths:
        data = _read(path)
        for key, value in (data.get("frameworks") or {}).items():
            frameworks[str(key)] = str((value or {}).get("name", key)) if isinstance(value, dict) else str(value)
        for name, value in (data.get("impact_levels") or {}).items():
            try:
                levels[name] = ImpactLevel(name, tuple(int(t) for t in value["tiers"]),
                                           TestType.named(str(value["min_test_type"])))
            except (KeyError, TypeError, CatalogueError) as error:
                raise CatalogueError(f"{path}: impact level {name}: needs tiers and min_test_type ({error})") from None
        for n, raw in enumerate(data.get("controls") or [], start=1):
            control = _control(raw, f"{path}, control {n}", frameworks)
            controls[control.id] = control
    if followed is not None:
        unknown = [f for f in followed if f not in frameworks]
        if unknown:
            raise CatalogueError(f"DRDRILL_COMPLIANCE_FRAMEWORKS names {', '.join(unknown)}, which no catalogue "
                                 f"declares (declared: {', '.join(frameworks)})")
        frameworks = {k: v for k, v in frameworks.items() if k in followed}
    return Catalogue(frameworks=frameworks,
                     controls=tuple(c for c in controls.values() if c.framework in frameworks),
                     impact_levels=tuple(levels.values()))


def catalogue_paths() -> list[Path]:
    paths = [BUILTIN_CATALOGUE]
    if settings.DRDRILL_CONTROLS_FILE:
        paths.append(Path(settings.DRDRILL_CONTROLS_FILE))
    return paths


@cache
def _cached(files: tuple[tuple[Path, int, int], ...], followed: tuple[str, ...] | None) -> Catalogue:
    return read_catalogue([path for path, _, _ in files], list(followed) if followed is not None else None)


def _version(path: Path) -> tuple[Path, int, int]:
    try:
        stat = path.stat()
    except OSError:
        return path, 0, -1  # read_catalogue says why it cannot be read
    return path, stat.st_mtime_ns, stat.st_size


def catalogue() -> Catalogue:
    """The catalogue as configured, read once per process and again when a file or a setting changes."""
    followed = tuple(settings.DRDRILL_COMPLIANCE_FRAMEWORKS) or None
    return _cached(tuple(_version(p) for p in catalogue_paths()), followed)
