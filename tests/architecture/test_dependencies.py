"""The folder layout is the architecture, and its dependencies point one way: what we plan
(runbooks) ← what we run and measure (drills) ← the apps that watch or use drills. Every import in
the project counts, those inside functions too: a lazy import hides a dependency, it does not
remove it."""

from __future__ import annotations

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

# What each app may import. The lowest layer first; an app may never import one listed after it
# unless it says so here. tests/, bench/ and scripts/ drive the apps from outside and may use any.
ALLOWED: dict[str, set[str]] = {
    "accounts": set(),
    "audit": {"accounts"},
    "runbooks": {"accounts", "audit"},
    "drills": {"accounts", "audit", "runbooks"},
    "plans": {"accounts", "audit", "runbooks", "drills"},
    "observability": {"accounts", "drills", "runbooks"},
    # What a drill's evidence supports (the control catalogue), whether its records may go (retention).
    "compliance": {"accounts", "audit", "runbooks", "drills"},
    "reviews": {"accounts", "audit", "runbooks", "drills", "compliance"},
    "programme": {"accounts", "audit", "runbooks", "drills", "compliance", "reviews"},
    "demo": {"accounts", "audit", "runbooks", "drills", "plans", "compliance", "reviews", "programme"},
    "config": {"accounts", "audit", "runbooks", "drills", "plans", "compliance", "reviews", "observability",
               "programme", "demo"},
}
APPS = set(ALLOWED)


def project_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: Path) -> set[str]:
    """Every module this file imports, wherever the import statement is (TYPE_CHECKING blocks aside)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    type_checking_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            type_checking_only |= {id(n) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_checking_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # "from . import engine" imports the module drills.engine, not just the package.
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return found


def project_import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        graph[module] = {name for name in imports_of(module, path) if name in modules and name != module}
    return graph


def app_of(module: str) -> str:
    return module.split(".")[0]


def test_every_app_imports_only_what_its_layer_allows():
    wrong = []
    for module, imported in sorted(project_import_graph().items()):
        app = app_of(module)
        for target in sorted(imported):
            other = app_of(target)
            if other != app and other not in ALLOWED[app]:
                wrong.append(f"{module} imports {target}: {app} may not depend on {other}")
    assert not wrong, "imports against the grain:\n" + "\n".join(wrong)


def test_the_planning_app_never_reads_what_runs_and_observability_only_watches():
    graph = project_import_graph()
    edges = {(app_of(a), app_of(b)) for a, targets in graph.items() for b in targets}
    assert ("runbooks", "drills") not in edges
    assert ("drills", "observability") not in edges


def test_no_import_cycles_between_apps_or_modules():
    graph = project_import_graph()
    apps: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        apps[app_of(module)] |= {app_of(t) for t in targets if app_of(t) != app_of(module)}
    for name, dependencies in (("apps", apps), ("modules", graph)):
        try:
            tuple(TopologicalSorter(dependencies).static_order())
        except CycleError as error:
            raise AssertionError(f"an import cycle between {name}: {' → '.join(error.args[1])}") from None


def test_the_rules_themselves_form_no_cycle():
    tuple(TopologicalSorter(ALLOWED).static_order())
