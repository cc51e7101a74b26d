"""Steps done by people: a participant's confirmation and an approver's gate."""

from ..registry import register_family

register_family(
    name="human",
    package=__name__,
    actions={"manual.confirm": ".actions:ManualConfirm", "approval": ".actions:ApprovalGate"},
    docs="docs/actions.md#people",
)
