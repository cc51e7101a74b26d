"""SVG we draw (matplotlib charts, Graphviz graphs) made safe to put inline under our content
security policy: no ``<style>`` elements or ``style`` attributes (style-src 'self' refuses inline
styles), no scripts or event handlers. Style declarations become the presentation attributes they
stand for (``style="fill: #fff"`` → ``fill="#fff"``), which the policy does not govern."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

# The properties matplotlib and Graphviz write in style attributes, all of them SVG presentation
# attributes of the same name.
PRESENTATION = {"fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-dasharray",
                "stroke-dashoffset", "stroke-linejoin", "stroke-linecap", "stroke-miterlimit", "opacity",
                "font-size", "font-family", "font-weight", "font-style", "text-anchor", "dominant-baseline",
                "clip-path", "color", "visibility", "display"}
DROPPED_ELEMENTS = {"script", "style", "foreignObject", "metadata"}


def clean_svg(text: str, *, css_class: str = "") -> str:
    root = ET.fromstring(text.encode() if isinstance(text, str) else text)
    # matplotlib's one stylesheet rule, "*{stroke-linejoin: round; stroke-linecap: butt}": inherited
    # presentation attributes on the root do the same.
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    for tag in ("width", "height"):
        root.attrib.pop(tag, None)  # the viewBox scales it; the stylesheet sizes it
    if css_class:
        root.set("class", css_class)
    _clean(root)
    # ElementTree's prefixes are global, and other libraries in the process (WeasyPrint) register
    # their own for SVG: set ours each time, so the markup is <svg>, which HTML understands.
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(root, encoding="unicode")


def _clean(element: ET.Element) -> None:
    for child in list(element):
        if _local(child.tag) in DROPPED_ELEMENTS:
            element.remove(child)
        else:
            _clean(child)
    style = element.attrib.pop("style", None)
    if style:
        for declaration in style.split(";"):
            name, _, value = declaration.partition(":")
            name, value = name.strip(), value.strip()
            if name in PRESENTATION and value:
                element.set(name, value)
    for name in list(element.attrib):
        if _local(name).lower().startswith("on"):
            del element.attrib[name]
        elif _local(name) == "href" and re.match(r"\s*javascript:", element.attrib[name], re.IGNORECASE):
            del element.attrib[name]


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]
