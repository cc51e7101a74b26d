"""The report's charts, drawn server-side by matplotlib as SVG (no script in the browser, the same
drawing in the page and the PDF), cleaned so the page's content security policy holds."""

from __future__ import annotations

import io
import threading

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from runbooks.durations import format_duration  # noqa: E402
from runbooks.models import System  # noqa: E402

from .report import QuarterlyReport, TrendPoint  # noqa: E402
from .svg import clean_svg  # noqa: E402

INK, MUTED, OK, BAD, BRAND = "#17202b", "#6b7789", "#17834a", "#c62f2f", "#0f6fde"
RC = {"svg.fonttype": "none", "svg.hashsalt": "drdrill", "font.family": "DejaVu Sans", "font.size": 9,
      "axes.edgecolor": "#c5cfdb", "axes.labelcolor": INK, "xtick.color": MUTED, "ytick.color": MUTED,
      "axes.spines.top": False, "axes.spines.right": False}
# matplotlib's global settings are not thread-safe; gunicorn runs threads.
_lock = threading.Lock()


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return clean_svg(out.getvalue(), css_class="chart")


def _duration_axis(axis) -> None:
    axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_duration(v) if v > 0 else "0"))
    axis.yaxis.set_major_locator(MaxNLocator(5))


def trend_chart(system: System, points: list[TrendPoint]) -> str:
    """Achieved RTO and RPO of one system per quarter (its last figure in each), against its targets."""
    labels = [str(p.quarter).replace("-", "\n") for p in points]
    with _lock, matplotlib.rc_context(RC):
        figure = Figure(figsize=(7.2, 2.3))
        for n, (label, values, target) in enumerate((
                ("RTO", [p.rto for p in points], system.rto_target_seconds),
                ("RPO", [p.rpo for p in points], system.rpo_target_seconds))):
            axis = figure.add_subplot(1, 2, n + 1)
            xs = [i for i, v in enumerate(values) if v is not None]
            ys = [values[i] for i in xs]
            axis.axhline(target, color=BAD, linestyle="--", linewidth=1, label=f"target {format_duration(target)}")
            axis.plot(xs, ys, color=BRAND, marker="o", markersize=4, linewidth=1.5, label=f"achieved {label}")
            for x, y in zip(xs, ys):
                axis.plot([x], [y], marker="o", markersize=5, color=OK if y <= target else BAD, linestyle="none")
            axis.set_xticks(range(len(labels)), labels, fontsize=7)
            axis.set_xlim(-0.5, len(labels) - 0.5)
            axis.set_ylim(bottom=0, top=max(ys + [target]) * 1.25)
            _duration_axis(axis)
            axis.set_title(f"{system.name} · achieved {label}", fontsize=9, loc="left", color=INK)
            axis.legend(fontsize=7, frameon=False, loc="upper right")
        figure.tight_layout()
        return _svg(figure)


def overview_chart(report: QuarterlyReport) -> str:
    """Per quarter: systems whose last figures met their targets, and those that missed."""
    verdicts = report.quarter_verdicts()
    labels = [str(q).replace("-", "\n") for q, _, _ in verdicts]
    met = [m for _, m, _ in verdicts]
    missed = [x for _, _, x in verdicts]
    with _lock, matplotlib.rc_context(RC):
        figure = Figure(figsize=(7.2, 2.4))
        axis = figure.add_subplot(1, 1, 1)
        axis.bar(range(len(labels)), met, color=OK, label="met both targets")
        axis.bar(range(len(labels)), missed, bottom=met, color=BAD, label="missed a target")
        axis.set_xticks(range(len(labels)), labels, fontsize=7)
        axis.yaxis.set_major_locator(MaxNLocator(5, integer=True))
        axis.set_ylabel("systems drilled")
        axis.set_title("Systems meeting their RTO and RPO targets, per quarter", fontsize=9, loc="left", color=INK)
        axis.legend(fontsize=7, frameon=False, loc="upper left")
        figure.tight_layout()
        return _svg(figure)
