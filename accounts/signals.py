"""What accounts announces; the audit trail records it (audit/receivers.py), so accounts, the lowest
layer, imports nothing of the apps above it."""

from django.dispatch import Signal

# A role was granted or revoked through drdrill (the CLI, the services): ``user``, ``role``,
# ``granted`` (bool), ``actor``, ``before`` and ``after`` (sorted role names).
role_changed = Signal()
