"""A third-party driver, installed only as a dist-info on sys.path: the entry-point path.

Each step appends `start` and `end` lines to a step log (`-p log=FILE`), with
the worker's host, so tests see what ran, where, in what order and how often.
`-p fail=NAME -p fail_marker=FILE` makes step NAME fail while FILE exists
(the operator "fixes things" by removing it).

`-p hold=FOLDER` makes a step wait on the test instead of the clock: it
creates `FOLDER/started.<kind>.<name>.<hosts>.<n>` (n counts the attempts) and
then waits until `FOLDER/release` or `FOLDER/release.<kind>.<name>.<hosts>`
exists.  With `-p child=true` the waiting is done by a child process (as a
driver's command would be), which writes its pid into the `started.` file and
logs the step's `end` line itself; with `-p setsid=true` too, that child leaves
the worker's process group and session (`setsid`), as a daemonising command does.
With `-p remote=true` each step records a remote side (`remember_remote`) and
`stop_remote` creates `FOLDER/stopped-remote.<that step's key>`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from celery import shared_task

from kostyor_dsl.runtime.drivers import Driver, Parameter
from kostyor_dsl.runtime.step_context import remember_remote


def _append(log: str, line: str) -> None:
    handle = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(handle, (line + "\n").encode())
        os.fsync(handle)
    finally:
        os.close(handle)


_CHILD = """
import os, sys, time
hold, key, log, line = sys.argv[1:5]
while not (os.path.exists(os.path.join(hold, "release"))
           or os.path.exists(os.path.join(hold, "release." + key))):
    time.sleep(0.05)
if log:
    handle = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(handle, (line + " %.3f\\n" % time.time()).encode())
    os.close(handle)
"""


def _hold(options: dict, kind: str, name: str, hosts: list[str], label: str) -> bool:
    """Wait until the test releases this step; True if a child process logged its end."""
    folder = options["hold"]
    key = f"{kind}.{name}.{','.join(hosts) or '-'}"
    attempt = 1
    while True:
        started = os.path.join(folder, f"started.{key}.{attempt}")
        try:
            handle = os.open(started, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            attempt += 1
    if options["remote"]:
        remember_remote({"key": key})
    if options["child"]:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, folder, key, options["log"], f"end {label}"],
            start_new_session=options["setsid"],
        )
        os.write(handle, str(child.pid).encode())
        os.close(handle)
        child.wait()
        return True
    os.close(handle)
    while not (
        os.path.exists(os.path.join(folder, "release"))
        or os.path.exists(os.path.join(folder, f"release.{key}"))
    ):
        time.sleep(0.05)
    return False


@shared_task(name="kostyor_testdriver.step")
def step(kind: str, name: str, hosts: list[str], options: dict) -> dict:
    where = os.environ.get("KOSTYOR_WORKER_HOST") or "-"
    label = f"{kind} {name} {','.join(hosts) or '-'} {where}"
    if options["log"]:
        _append(options["log"], f"start {label} {time.time():.3f}")
    if options["sleep"]:
        time.sleep(options["sleep"])
    if options["hold"] and _hold(options, kind, name, hosts, label):
        return {"did": label}
    if (
        options["fail"] == name
        and options["fail_marker"]
        and os.path.exists(options["fail_marker"])
    ):
        raise RuntimeError(f"{name} is broken on {','.join(hosts)}")
    if options["log"]:
        _append(options["log"], f"end {label} {time.time():.3f}")
    return {"did": label}


class StepLogDriver(Driver):
    name = "steplog"
    PARAMETERS: ClassVar[Mapping[str, Parameter]] = {
        "log": Parameter(str, required=True, help="step log file"),
        "sleep": Parameter(float, default=0.0, help="seconds per step"),
        "fail": Parameter(str, default="", help="name of a step that fails"),
        "fail_marker": Parameter(str, default="", help="the step fails while this file exists"),
        "hold": Parameter(str, default="", help="steps wait for a release file in this folder"),
        "child": Parameter(bool, default=False, help="a child process does the holding"),
        "setsid": Parameter(bool, default=False, help="that child leaves the session"),
        "remote": Parameter(bool, default=False, help="steps record a remote side"),
    }

    def stop_remote(self, remote: Mapping[str, Any]) -> None:
        path = os.path.join(self.parameters["hold"], f"stopped-remote.{remote['key']}")
        with open(path, "w", encoding="utf-8"):
            pass

    def _sig(self, kind: str, name: str, hosts: list[str]):
        return step.si(kind, name, list(hosts), dict(self.parameters))

    def pre_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._sig("pre-upgrade", action, [])

    def post_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._sig("post-upgrade", action, [])

    def start(self, service: str, hosts: list[str]):
        return self._sig("upgrade", service, hosts)

    def action(self, name: str, host: str | None, parameters: Mapping[str, Any]):
        return self._sig("action", name, [host] if host else [])
