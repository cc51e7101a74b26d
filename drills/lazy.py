"""Read on first use: what a step's context offers but most actions never read (the evidence of
earlier steps, the resources the drill created) costs a no-op step no query."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any


class LazyMapping(Mapping[str, Any]):
    def __init__(self, load: Callable[[], dict[str, Any]]) -> None:
        self._load = load
        self._data: dict[str, Any] | None = None

    def _loaded(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self._load()
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._loaded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


class LazySequence(Sequence[Any]):
    def __init__(self, load: Callable[[], Sequence[Any]]) -> None:
        self._load = load
        self._data: Sequence[Any] | None = None

    def _loaded(self) -> Sequence[Any]:
        if self._data is None:
            self._data = tuple(self._load())
        return self._data

    def __getitem__(self, index: Any) -> Any:
        return self._loaded()[index]

    def __len__(self) -> int:
        return len(self._loaded())
