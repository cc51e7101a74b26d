"""The drill as it unfolds, on one time axis: a bar per step from its start to its end (steps of a
parallel group overlap), coloured by where its time goes in the RTO (people, recovery actions,
verification), with the outage window behind them. Geometry is computed here and drawn by a
template as SVG attributes — no inline style, so the content security policy holds — and it is part
of the live drill page's partial, so it is redrawn on every poll."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from runbooks.actions import ActionFailed, get_action
from runbooks.durations import format_duration

from .models import Drill, StepRun

WIDTH = 1000.0
LEFT = 36.0         # room for the step numbers
RIGHT = 12.0
ROW_HEIGHT = 24.0
TOP = 8.0
AXIS_HEIGHT = 26.0
TICKS = 5
MIN_SPAN_SECONDS = 1.0


@dataclass(frozen=True)
class Bar:
    position: int
    name: str
    y: float
    x: float
    width: float
    status: str
    phase: str
    running: bool


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Window:
    x: float
    width: float
    open: bool   # the service was not restored (yet)


@dataclass(frozen=True)
class Gantt:
    width: float
    height: float
    rows_height: float
    left: float
    bars: list[Bar]
    ticks: list[Tick]
    outage: Window | None
    span_label: str


def _phase(run: StepRun) -> str:
    try:
        return get_action(run.step.action).phase
    except ActionFailed:
        return "recover"


def drill_gantt(drill: Drill, runs: list[StepRun], *, now: datetime, outage_start: datetime | None,
                service_restored: datetime | None) -> Gantt | None:
    """None until a step has started (a draft, a drill that failed at once, a tabletop)."""
    started = [run.started_at for run in runs if run.started_at]
    if drill.is_tabletop or not started:
        return None
    begin = min([drill.started_at, *started] if drill.started_at else started)
    end = drill.finished_at or now
    end = max([end, *(run.finished_at for run in runs if run.finished_at)])
    span = max((end - begin).total_seconds(), MIN_SPAN_SECONDS)
    usable = WIDTH - LEFT - RIGHT

    def x_of(moment: datetime) -> float:
        return round(LEFT + usable * max((moment - begin).total_seconds(), 0.0) / span, 2)

    bars = []
    for row, run in enumerate(runs):
        y = TOP + row * ROW_HEIGHT
        if run.started_at is None:
            bars.append(Bar(run.position, run.step.name, y, LEFT, 0.0, run.status, _phase(run), False))
            continue
        x = x_of(run.started_at)
        right = x_of(run.finished_at or end)
        bars.append(Bar(run.position, run.step.name, y, x, max(right - x, 2.0), run.status, _phase(run),
                        running=run.finished_at is None))
    rows_height = TOP + len(runs) * ROW_HEIGHT
    outage = None
    if outage_start is not None:
        x = x_of(outage_start)
        outage = Window(x, max(x_of(service_restored or end) - x, 1.0), open=service_restored is None)
    ticks = [Tick(round(LEFT + usable * i / (TICKS - 1), 2), "+" + format_duration(span * i / (TICKS - 1)))
             for i in range(TICKS)]
    return Gantt(WIDTH, rows_height + AXIS_HEIGHT, rows_height, LEFT, bars, ticks, outage, format_duration(span))
