"""What the engine announces to whoever watches it (observability, notifications), so that drills
depends on none of them."""

from django.dispatch import Signal

# A drill reached its end (succeeded, or failed and measured: its figures are stored). Sent once its
# transaction committed, with ``drill_id``.
drill_ended = Signal()

# An entry was written on a drill's timeline (drills/timeline.py). Sent once its transaction
# committed, with ``drill_id``, ``event_id``, ``kind`` (an EventKind value) and ``step_run_id``.
# Receivers run in the process that wrote the event, often a worker in a drill's hot path: look at
# ``kind`` first and hand anything slow to a Celery task.
event_recorded = Signal()
