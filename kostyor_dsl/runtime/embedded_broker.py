"""The embedded broker: kombu's `filesystem://` transport, writing each message atomically.

kombu's filesystem channel creates a message file in the queue folder and then
writes it.  A consumer listing the folder in between takes the empty file,
fails to decode it and the worker stops ("Unrecoverable error:
JSONDecodeError"); with two workers polling every 0.1 s it happened about
once in ten runs.  Here a message is written under a name no consumer picks
(it does not end in `.<queue>.msg`), then renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        temporary = os.path.join(self.data_folder_out, f".{uuid.uuid4()}.tmp")
        try:
            with open(temporary, "wb") as stream:
                stream.write(str_to_bytes(dumps(payload)))
            os.replace(temporary, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
