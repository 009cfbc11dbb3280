"""`noop`: does nothing, for dry runs, demos and tests.

`-p sleep=SECONDS` makes each step take that long (to watch pause and resume);
`-p log=FILE` appends one line per finished step (`<kind> <name> <hosts>`),
a step log that shows what ran, in what order, and how often.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from celery import shared_task

from kostyor_dsl.runtime.drivers import Driver, Parameter

TASK = "kostyor_dsl.drivers.noop.run"


@shared_task(name=TASK)
def run_noop(kind: str, name: str, hosts: list[str], sleep: float = 0.0, log: str = "") -> dict:
    if sleep:
        time.sleep(sleep)
    line = f"{kind} {name} {','.join(hosts) or '-'}"
    if log:
        # One write of a whole line with O_APPEND, so concurrent writers never interleave.
        handle = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(handle, (line + "\n").encode())
            os.fsync(handle)
        finally:
            os.close(handle)
    return {"did": line}


class NoopDriver(Driver):
    name = "noop"
    PARAMETERS: ClassVar[Mapping[str, Parameter]] = {
        "sleep": Parameter(float, default=0.0, minimum=0, help="seconds each step takes"),
        "log": Parameter(str, default="", help="file to append one line per finished step"),
    }

    def unsupported(self, kind: str, name: str | None) -> str | None:
        return None  # it does nothing, so it can do anything (and logs it)

    def _signature(self, kind: str, name: str, hosts: list[str]):
        return run_noop.si(
            kind, name, list(hosts), self.parameters["sleep"], self.parameters["log"]
        )

    def pre_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._signature("pre-upgrade", action, [])

    def post_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._signature("post-upgrade", action, [])

    def start(self, service: str, hosts: list[str]):
        return self._signature("upgrade", service, hosts)

    def action(self, name: str, host: str | None, parameters: Mapping[str, Any]):
        return self._signature("action", name, [host] if host else [])
