"""Durations as people write them in runbooks: ``90``, ``90s``, ``30m``, ``4h``, ``2d``, ``1h30m``."""

from __future__ import annotations

import math
import re

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
# Nothing in a drill is planned beyond a year: a larger figure is a typo, and would overflow the
# date arithmetic of the engine (a step timeout of 1e300 s wedged a drill).
MAX_SECONDS = 366 * 86400


def parse_duration(value: object) -> float:
    """Return seconds (> 0) or raise ValueError with a message a runbook author can act on."""
    hint = "write a positive duration such as 90, 90s, 30m, 4h or 1h30m"
    if isinstance(value, bool):
        raise ValueError(f"{hint}, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            seconds = float(text)
        elif text and _PART.sub("", text) == "":
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
        else:
            raise ValueError(f"{hint}, got {value!r}")
    else:
        raise ValueError(f"{hint}, got {value!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{hint}, got {value!r}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"at most a year ({MAX_SECONDS} s), got {value!r}")
    return seconds


def format_duration(seconds: float | None) -> str:
    """``4 m 12 s``, ``1 h 05 m``, ``2.4 s``: short and unambiguous for reports."""
    if seconds is None:
        return "—"
    negative = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    elif seconds < 3600:
        m, s = divmod(int(round(seconds)), 60)
        text = f"{m} m {s:02d} s"
    elif seconds < 86400:
        h, rest = divmod(int(round(seconds)), 3600)
        text = f"{h} h {rest // 60:02d} m"
    else:
        d, rest = divmod(int(round(seconds)), 86400)
        text = f"{d} d {rest // 3600:02d} h"
    return f"-{text}" if negative else text
