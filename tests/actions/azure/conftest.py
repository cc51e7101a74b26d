"""The fake Azure Resource Manager (fake_arm.py) for the azure family's tests: one HTTPS server per
session on loopback, reset before each test; the worker processes reach it through environment
variables only (the endpoint, App Service's managed-identity variables, the CA bundle)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import yaml

from runbooks.actions import Done, StepContext, get_action, parse_params
from tests.actions.azure.fake_arm import FakeArm
from tests.support.workers import ROOT, WorkerPool

EXAMPLES = ROOT / "runbooks" / "examples" / "azure"
# Short request timeouts in the tests' runbooks: a killed worker's lease (derived from them) ends sooner.
FAST = {"interval: 2}": "interval: 0.2, request_timeout: 2}",
        "to_server: orders-sql-neu}": "to_server: orders-sql-neu, request_timeout: 2}",
        "to_server: orders-sql-weu}": "to_server: orders-sql-weu, request_timeout: 2}"}


@pytest.fixture(scope="session")
def arm_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeArm]:
    fake = FakeArm(tmp_path_factory.mktemp("arm"))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def arm(arm_fake: FakeArm, monkeypatch: pytest.MonkeyPatch) -> FakeArm:
    """The fake, fresh; this test process uses it too (orphan searches, steps called directly)."""
    arm_fake.reset()
    for name, value in arm_fake.environment().items():
        monkeypatch.setenv(name, value)
    return arm_fake


@pytest.fixture
def azure_worker(worker: WorkerPool, arm: FakeArm) -> WorkerPool:
    """The real worker processes, started with the fake's environment (restarted once if they were
    started without it)."""
    wanted = arm.environment()
    if any(worker.env.get(name) != value for name, value in wanted.items()):
        worker.env.update(wanted)
        worker.restart()
    return worker


def example(name: str, **replacements: str) -> str:
    text = (EXAMPLES / name).read_text()
    for old, new in replacements.items():
        assert old in text, f"{old!r} is not in {name}"
        text = text.replace(old, new)
    return text


def fast(name: str) -> str:
    """A shipped example with the tests' short request timeouts."""
    text = (EXAMPLES / name).read_text()
    for old, new in FAST.items():
        text = text.replace(old, new)
    return text


@pytest.fixture
def orders_sql(import_yaml: Callable[..., Any]) -> Callable[..., Any]:
    """Import the shipped orders-sql system and the given runbook texts."""

    def _import(*runbooks: str) -> Any:
        return import_yaml(example("orders-sql.yaml"), *runbooks)

    return _import


def targets() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((EXAMPLES / "orders-sql.yaml").read_text())["systems"][0]["targets"]


def context(*, state: dict[str, Any] | None = None, drill_id: int = 1, bindings: dict[str, Any] | None = None,
            created: tuple[Any, ...] = ()) -> StepContext:
    now = datetime.now(timezone.utc)
    return StepContext(drill_id=drill_id, step_key="step", attempt=1, targets=bindings or targets(), earlier={},
                       state=state or {}, idempotency_key=f"drdrill-drill-{drill_id}-step-1", now=lambda: datetime.now(timezone.utc),
                       started_at=now, created_resources=created)


def drive(action_name: str, raw: dict[str, Any], **context_options: Any) -> Done:
    """run() then poll() until done, in this process (the engine's part done by hand, for error cases)."""
    action = get_action(action_name)
    params = parse_params(action.Params, raw)
    outcome = action.run(params, context(**context_options))
    while not isinstance(outcome, Done):
        outcome = action.poll(params, context(state=outcome.state, **context_options))
    return outcome
