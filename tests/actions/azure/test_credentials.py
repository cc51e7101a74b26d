"""How the workers reach Azure: DefaultAzureCredential, unchanged, takes a managed identity from the
environment (the fake serves App Service's identity endpoint); the Resource Manager endpoint comes
from the environment too (a sovereign cloud through azure-core's own setting, any other through
AZURE_RESOURCE_MANAGER_ENDPOINT). The token and the identity secret are never stored or logged."""

from __future__ import annotations

import json

import pytest

from drills.models import Drill, DrillEvent
from runbooks.actions.azure import arm as azure_arm
from tests.actions.azure.conftest import fast
from tests.support.waiting import wait_for_drill


@pytest.mark.worker
def test_the_token_and_the_identity_secret_appear_nowhere_drdrill_keeps(azure_worker, arm, orders_sql, start_drill):
    orders_sql(fast("failover-group.yaml"))

    drill = wait_for_drill(start_drill("orders-sql-failover"), timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert any(path == "/msi/token" for _, path in arm.requests)  # DefaultAzureCredential's managed identity
    kept = json.dumps([list(drill.step_runs.values("evidence", "poll_state", "error", "marks")),
                       list(DrillEvent.objects.filter(drill=drill).values("message", "data")),
                       list(drill.measurements.values("evidence", "method"))], default=str)
    log = azure_worker.log_path.read_text(errors="replace")
    for secret in (arm.token, arm.identity_header):
        assert secret not in kept
        assert secret not in log


def test_a_sovereign_cloud_is_chosen_by_azure_cores_own_setting(monkeypatch):
    monkeypatch.delenv(azure_arm.ENDPOINT_VARIABLE, raising=False)
    monkeypatch.setenv("AZURE_SDK_CLOUD_CONF", "AZURE_US_GOVERNMENT")

    with azure_arm.sql_client("00000000-0000-0000-0000-000000000000", request_timeout=5) as client:
        assert client._config.base_url == "https://management.usgovcloudapi.net/"
        assert client._config.credential_scopes == ["https://management.core.usgovcloudapi.net/.default"]


def test_any_other_resource_manager_is_named_by_its_endpoint_and_audience(monkeypatch):
    monkeypatch.setenv(azure_arm.ENDPOINT_VARIABLE, "https://management.local.azurestack.external")
    monkeypatch.setenv(azure_arm.AUDIENCE_VARIABLE, "https://management.adfs.azurestack.local/4f1c")

    with azure_arm.sql_client("00000000-0000-0000-0000-000000000000", request_timeout=5) as client:
        assert client._config.base_url == "https://management.local.azurestack.external"
        assert client._config.credential_scopes == ["https://management.adfs.azurestack.local/4f1c/.default"]
