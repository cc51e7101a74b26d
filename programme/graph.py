"""The dependency graph drawn by Graphviz (``dot``) as SVG, one node per system coloured by tier,
an arrow from a system to each system it depends on. Drawn once per distinct graph and cached."""

from __future__ import annotations

import hashlib
import subprocess

from django.core.cache import cache

from .bia import Bia
from .svg import clean_svg

TIER_COLOURS = {0: "#101b2b", 1: "#34465e", 2: "#5d7391", 3: "#9aaabf", 4: "#cfd8e3"}
# Above this many systems a drawing is unreadable and slow to lay out: the page lists them instead.
MAX_NODES = 300
DOT_TIMEOUT_SECONDS = 20


class GraphUnavailable(Exception):
    pass


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _quote(text: str) -> str:
    return f'"{_escape(text)}"'


def dependency_dot(bia: Bia) -> str:
    in_cycle = {s.pk for cycle in bia.cycles for s in cycle}
    warned = {w.system for w in bia.warnings}
    lines = ["digraph dependencies {", '  graph [rankdir=LR, bgcolor="transparent", fontname="DejaVu Sans", nodesep=0.3];',
             '  node [shape=box, style="rounded,filled", fontname="DejaVu Sans", fontsize=11, fontcolor="white"];',
             '  edge [color="#6b7789", arrowsize=0.7];']
    for system in bia.systems:
        tier = TIER_COLOURS.get(system.tier, "#9aaabf")
        font = "white" if system.tier <= 2 else "#17202b"
        border = ', color="#c62f2f", penwidth=2.5' if system.pk in in_cycle or system.slug in warned else ""
        label = f'"{_escape(system.name)}\\nT{system.tier}"'  # \n: a line break in a DOT label
        lines.append(f"  s{system.pk} [label={label}, "
                     f'fillcolor="{tier}", fontcolor="{font}", URL={_quote(system.get_absolute_url())}, '
                     f"tooltip={_quote(system.name)}, id={_quote('system-' + system.slug)}{border}];")
    for source, targets in bia.dependencies.items():
        for target in targets:
            colour = ' [color="#c62f2f"]' if source in in_cycle and target in in_cycle else ""
            lines.append(f"  s{source} -> s{target}{colour};")
    lines.append("}")
    return "\n".join(lines)


def dependency_svg(bia: Bia) -> str:
    """Inline-safe SVG of the graph; raises GraphUnavailable with the reason when it cannot be drawn."""
    if len(bia.systems) > MAX_NODES:
        raise GraphUnavailable(f"{len(bia.systems)} systems are too many to draw legibly (at most {MAX_NODES}); "
                               "the recovery order below lists them all.")
    dot = dependency_dot(bia)
    key = "programme:graph:" + hashlib.sha256(dot.encode()).hexdigest()
    svg = cache.get(key)
    if svg is None:
        try:
            drawn = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, check=True,
                                   timeout=DOT_TIMEOUT_SECONDS)
        except FileNotFoundError:
            raise GraphUnavailable("Graphviz is not installed (apt-get install graphviz).") from None
        except subprocess.SubprocessError as error:
            raise GraphUnavailable(f"Graphviz could not draw the graph: {error}") from None
        svg = clean_svg(drawn.stdout.decode(), css_class="dependency-graph")
        cache.set(key, svg, 3600)
    return svg
