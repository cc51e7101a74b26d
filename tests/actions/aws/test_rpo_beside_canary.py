"""A drill with a canary and an AWS restore step has two RPO figures: the canary's (measured from the
rows that survived) wins, and the one AWS's restore metadata gives is kept beside it; when they
differ by more than their bounds, the measurement says so.

In production the canary writes into the restored database itself (a postgres target on the RDS
endpoint). moto keeps no data behind its instances, so here the canary writes to a SQLite target of
the same system: what is tested is how the two figures are recorded and compared."""

from __future__ import annotations

import pytest

from drills.models import Drill
from tests.support.aws_moto import instance_binding, runbook_yaml, system_yaml
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker


def test_the_canary_wins_and_a_restore_point_far_from_it_is_flagged(worker, aws, import_yaml, start_drill, orders_db):
    created = aws.multi_az_instance("billing-db")["InstanceCreateTime"]
    import_yaml(system_yaml({"billing": instance_binding(), "db": {"kind": "sqlite", "path": str(orders_db)}}), runbook_yaml(f"""
      - key: writes
        name: Let the canary write
        action: wait
        params: {{seconds: 3}}
      - key: restore
        name: Restore billing to the moment it was created
        action: aws.rds.restore_point_in_time
        params: {{target: billing, restore_time: "{created.isoformat()}", poll_interval: 0.5}}
        marks: [outage_start]
""", kind="backup_restore", extra="    canary: {target: db, interval: 0.5s}\n"))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    rpo = drill.measurements.get(kind="rpo")
    assert rpo.method.startswith("canary:")
    aws_figure = drill.step_runs.get(step__key="restore").evidence["rpo_seconds"]
    assert aws_figure >= 3  # the restore point is older than the whole wait
    [figure] = rpo.evidence["step_figures"]
    assert figure["step"] == "Restore billing to the moment it was created"
    assert figure["rpo_seconds"] == aws_figure
    assert figure["rpo_method"].startswith("AWS metadata: restore requested at − restore point")
    assert figure["differs_by_seconds"] == pytest.approx(abs(aws_figure - rpo.value_seconds), abs=0.001)
    assert figure["disagrees"] is True
    assert rpo.evidence["disagreement"].startswith("step “Restore billing to the moment it was created” recorded ")
