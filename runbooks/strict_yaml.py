"""Reading YAML someone else wrote, defensively: a runbook file is untrusted input.

PyYAML's safe loader already builds only plain data. On top of it this refuses what has hurt us or
hides mistakes: anchors and aliases (a 446-byte "billion laughs" paste expanded to 5.5 MB), documents
over a size or node limit, duplicate keys (YAML would silently keep the last), NUL bytes and
non-finite numbers (``.inf`` and ``.nan`` reached date arithmetic and crashed a page)."""

from __future__ import annotations

import math
from typing import Any

import yaml

MAX_BYTES = 1_000_000
MAX_NODES = 50_000


class StrictYamlError(ValueError):
    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column

    @property
    def where(self) -> str:
        return f"line {self.line}, column {self.column}" if self.line else ""


def _at(node_or_event: Any) -> tuple[int | None, int | None]:
    mark = getattr(node_or_event, "start_mark", None)
    return (mark.line + 1, mark.column + 1) if mark else (None, None)


class StrictLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.node_count = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise StrictYamlError(f"YAML aliases (*{event.anchor}) are not accepted: write the value out", *_at(event))
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise StrictYamlError(f"YAML anchors (&{event.anchor}) are not accepted: write each value out", *_at(event))
        self.node_count += 1
        if self.node_count > MAX_NODES:
            raise StrictYamlError(f"the document has more than {MAX_NODES} values; split it into several files",
                                  *_at(event))
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:  # type: ignore[override]
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise StrictYamlError(f"a key must be a plain value, got {type(key).__name__}", *_at(key_node))
            if key in seen:
                raise StrictYamlError(f"duplicate key {key!r}: YAML would silently keep the last value; keep one",
                                      *_at(key_node))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_float(self, node: Any) -> float:  # type: ignore[override]
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise StrictYamlError(f"{node.value!r} is not a finite number", *_at(node))
        return value

    def construct_yaml_str(self, node: Any) -> str:  # type: ignore[override]
        value = super().construct_yaml_str(node)
        if "\x00" in value:
            raise StrictYamlError("a text contains a NUL character", *_at(node))
        return value


StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)
StrictLoader.add_constructor("tag:yaml.org,2002:str", StrictLoader.construct_yaml_str)


def load(text: str) -> Any:
    """Parse one untrusted YAML document; raise StrictYamlError or yaml.YAMLError with a position."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise StrictYamlError(f"the file is larger than {MAX_BYTES // 1_000_000} MB; split it into several files")
    if "\x00" in text:
        raise StrictYamlError("the file contains a NUL character: it is not a text file")
    loader = StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
