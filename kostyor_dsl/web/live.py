"""Live updates: one feed per thing viewed (a run, the list of runs), as
server-sent events.

A feed reads the run store every `interval` seconds (in a thread: the stores
block) while someone watches it, and turns each difference from the last
reading into an event numbered `<boot>-<n>`, where `boot` is this server's
start.  It keeps the last events, so a page that reconnects with
`Last-Event-ID` gets exactly what it missed; a page whose id the feed does not
know (the server restarted, or it missed more than is kept) gets a
`snapshot`: the whole state, which replaces everything it shows.  So a page
is never left showing a state the store no longer has.  When the store cannot
be read, the feed says so (`store` event) and the page marks what it shows
as stale until a reading succeeds again.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from sse_starlette import ServerSentEvent

KEEP_EVENTS = 2000
BOOT = secrets.token_hex(4)


def describe_store_error(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"cannot read the run store: {message}"


class Feed:
    """Readings of one thing, numbered, for any number of watchers.

    `read()` returns the whole state (JSON-able); `diff(before, after)` the
    part that changed, or None.
    """

    def __init__(
        self,
        read: Callable[[], dict[str, Any]],
        diff: Callable[[dict | None, dict], dict | None],
        interval: float,
    ) -> None:
        self.read = read
        self.diff = diff
        self.interval = interval
        self.seq = 0
        self.latest: dict[str, Any] | None = None
        self.store_error: dict[str, Any] | None = None
        self.events: deque[tuple[int, str, str]] = deque(maxlen=KEEP_EVENTS)
        self.changed = asyncio.Condition()
        # One reading at a time: two overlapping ones could land out of order.
        self.reading = asyncio.Lock()
        self.watchers = 0
        self.task: asyncio.Task | None = None

    def event_id(self, seq: int | None = None) -> str:
        return f"{BOOT}-{self.seq if seq is None else seq}"

    async def _emit(self, name: str, payload: dict[str, Any]) -> None:
        async with self.changed:
            self.seq += 1
            self.events.append((self.seq, name, json.dumps(payload, sort_keys=True)))
            self.changed.notify_all()

    async def poll_once(self) -> None:
        async with self.reading:
            await self._poll()

    async def _poll(self) -> None:
        try:
            reading = await asyncio.to_thread(self.read)
        except Exception as exc:  # a store away (Redis restarting), a damaged record
            error = {"error": describe_store_error(exc), "since": time.time()}
            if self.store_error is None or self.store_error["error"] != error["error"]:
                self.store_error = error
                await self._emit("store", error)
            return
        if self.store_error is not None:
            self.store_error = None
            await self._emit("store", {"error": None, "since": None})
        change = self.diff(self.latest, reading)
        self.latest = reading
        if change is not None:
            await self._emit("update", change)

    async def _loop(self) -> None:
        while self.watchers > 0:
            await self.poll_once()
            await asyncio.sleep(self.interval)

    def _start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._loop())

    def snapshot_payload(self) -> dict[str, Any]:
        return {"state": self.latest, "store": self.store_error}

    def _known(self, last_id: str | None) -> int | None:
        """The sequence number of `last_id` if the events after it are all kept."""
        if not last_id or "-" not in last_id:
            return None
        boot, _, number = last_id.rpartition("-")
        if boot != BOOT or not number.isdigit():
            return None
        seq = int(number)
        if seq > self.seq:
            return None
        oldest = self.events[0][0] if self.events else self.seq + 1
        if seq < oldest - 1:
            return None
        return seq

    async def stream(self, last_id: str | None) -> AsyncIterator[dict[str, Any]]:
        """The events after `last_id`, then every new one, as sse-starlette dicts."""
        self.watchers += 1
        self._start()
        try:
            if self.latest is None and self.store_error is None:
                await self.poll_once()
            sent = self._known(last_id)
            # Something at once, so the page knows it is connected (headers go
            # with the first chunk) even when it missed nothing.
            yield ServerSentEvent(comment="connected", retry=1000)
            if sent is None:
                sent = self.seq
                yield {
                    "id": self.event_id(sent),
                    "event": "snapshot",
                    "data": json.dumps(self.snapshot_payload(), sort_keys=True),
                    "retry": 1000,
                }
            while True:
                for seq, name, data in list(self.events):
                    if seq > sent:
                        sent = seq
                        yield {"id": self.event_id(seq), "event": name, "data": data}
                async with self.changed:
                    if self.seq == sent:
                        await self.changed.wait()
        finally:
            self.watchers -= 1
            if self.watchers == 0 and self.task is not None:
                self.task.cancel()
                self.task = None
