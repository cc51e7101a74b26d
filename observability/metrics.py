"""Prometheus metrics, read from the database at scrape time.

Web servers, workers and beat are separate processes (often on separate hosts); counting in the
database every one of them writes to gives one consistent answer without Prometheus' multiprocess
mode. Each scrape costs a handful of aggregate queries.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from drills.models import Drill, DrillEvent, Measurement, StepRun
from drills.selectors import systems_with_last_drill


def _seconds(total) -> float:
    return total.total_seconds() if total is not None else 0.0


class DrillCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        drills = GaugeMetricFamily("drdrill_drills", "Drills by status and mode.", labels=["status", "mode"])
        for row in Drill.objects.values("status", "mode").annotate(n=Count("id")).order_by():
            drills.add_metric([row["status"], row["mode"]], row["n"])
        yield drills

        steps = GaugeMetricFamily("drdrill_step_runs", "Step runs by status.", labels=["status"])
        for row in StepRun.objects.values("status").annotate(n=Count("id")).order_by():
            steps.add_metric([row["status"]], row["n"])
        yield steps

        duration = SummaryMetricFamily("drdrill_step_duration_seconds", "Time from a step's start to its end, by action.",
                                       labels=["action", "status"])
        took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        for row in (StepRun.objects.filter(started_at__isnull=False, finished_at__isnull=False)
                    .values("step__action", "status").annotate(n=Count("id"), total=Sum(took)).order_by()):
            duration.add_metric([row["step__action"], row["status"]], row["n"], _seconds(row["total"]))
        yield duration

        # Queue wait: from the moment the engine dispatched a step to the moment a worker took it.
        waited = ExpressionWrapper(F("started_at") - F("dispatched_at"), output_field=DurationField())
        queue = StepRun.objects.filter(started_at__isnull=False, dispatched_at__isnull=False,
                                       started_at__gte=F("dispatched_at")).aggregate(n=Count("id"), total=Sum(waited))
        queue_wait = SummaryMetricFamily("drdrill_step_queue_wait_seconds",
                                         "Time from dispatching a step to a worker starting it.")
        queue_wait.add_metric([], queue["n"], _seconds(queue["total"]))
        yield queue_wait

        events = CounterMetricFamily("drdrill_drill_events", "Timeline events written, by kind.", labels=["kind"])
        for row in DrillEvent.objects.values("kind").annotate(n=Count("id")).order_by():
            events.add_metric([row["kind"]], row["n"])
        yield events

        yield from self._latest_measurements()

    def _latest_measurements(self) -> Iterator[Metric]:
        """The measurements of each system's newest finished live drill, against its targets:
        alert on ``drdrill_measurement_met == 0``."""
        value = GaugeMetricFamily("drdrill_measured_seconds", "RTO/RPO measured by each system's newest live drill.",
                                  labels=["system", "kind"])
        target = GaugeMetricFamily("drdrill_target_seconds", "RTO/RPO target of each system.", labels=["system", "kind"])
        met = GaugeMetricFamily("drdrill_measurement_met", "1 when the newest measurement met its target, 0 when not.",
                                labels=["system", "kind"])
        last_drill = dict(systems_with_last_drill().values_list("last_drill_id", "slug"))
        for row in Measurement.objects.filter(drill_id__in=[d for d in last_drill if d]).values(
                "drill_id", "kind", "value_seconds", "target_seconds", "met"):
            labels = [last_drill[row["drill_id"]], row["kind"]]
            target.add_metric(labels, row["target_seconds"])
            if row["value_seconds"] is not None:
                value.add_metric(labels, row["value_seconds"])
            if row["met"] is not None:
                met.add_metric(labels, 1.0 if row["met"] else 0.0)
        yield value
        yield target
        yield met
