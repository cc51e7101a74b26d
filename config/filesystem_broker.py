"""kombu's filesystem transport, with messages written atomically.

The stock transport creates the message file and then writes into it; a worker listing the folder
in between moves and reads a half-written file, fails to decode it and stops ("Unrecoverable error:
JSONDecodeError"). Here a message is written under a name no consumer matches, then renamed into
place: rename is atomic on one filesystem, so a consumer sees a whole message or none.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):  # type: ignore[no-untyped-def]
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Consumers only take files named "<stamp>.<queue>.msg"; "….msg.partial" is never theirs.
        partial = final + ".partial"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel

    # Celery drives a transport without an event loop from a loop that calls drain_events(timeout=2)
    # and only between two calls applies a raised prefetch count. It raises it for every countdown
    # message it holds (a poll, a canary tick, a retry): with as many held as the pool has processes,
    # the channel may take nothing more, and every new message waited up to 2 s. Each canary gap,
    # late step and widened probe interval on the embedded broker was that wait. Returning after one
    # polling interval lets the loop apply the new prefetch count at once.
    def drain_events(self, connection, timeout=None):  # type: ignore[no-untyped-def]
        if timeout is not None and self.polling_interval and timeout > self.polling_interval:
            timeout = self.polling_interval
        return super().drain_events(connection, timeout=timeout)
