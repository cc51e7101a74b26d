"""An outage of known length behind http.wait_healthy: the measured RTO is within one probe
interval of the truth as the service itself saw it."""

from __future__ import annotations

import pytest

from drills.models import Drill
from tests.support.scenarios import system_and_runbook
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

INTERVAL = 0.25


@pytest.mark.parametrize("outage_seconds", [2.0, 3.7])
def test_measured_rto_is_within_one_probe_interval_of_the_injected_outage(worker, import_yaml, start_drill, orders_db, service, outage_seconds):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Inject the outage
        action: http.request
        params: {{url: "{service.url}/fault?seconds={outage_seconds}", method: POST}}
        marks: [outage_start]
      - name: Wait until healthy
        action: http.wait_healthy
        params: {{url: "{service.url}/health", interval: {INTERVAL}, consecutive: 2}}
        marks: [service_restored]
"""))
    drill = wait_for_drill(start_drill("drill-under-test"), timeout=60)
    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome

    truth = service.up_at - service.down_at
    rto = drill.measurements.get(kind="rto")
    assert abs(rto.value_seconds - truth) <= INTERVAL, (rto.value_seconds, truth)
    assert rto.error_bound_seconds <= INTERVAL + 0.1
    # The truth lies inside the reported bound (give the clocks a few ms).
    assert rto.value_seconds - rto.error_bound_seconds - 0.05 <= truth <= rto.value_seconds + 0.05
    assert rto.evidence["last_failure_at"] is not None
