"""What the engine announces to whoever watches it (observability, notifications), so that drills
depends on none of them."""

from django.dispatch import Signal

# A drill reached its end (succeeded, or failed and measured). Sent once its transaction committed,
# with ``drill_id``.
drill_ended = Signal()
