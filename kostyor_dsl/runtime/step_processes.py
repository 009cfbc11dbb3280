"""The processes a step leaves behind when its worker is killed, and stopping them.

A prefork pool process leads its own process group (`become_group_leader`,
at pool start), so a driver's commands run in that group.  When the pool
process dies (its worker's main process was killed: billiard's pdeathsig
kills the pool with it), the commands it started keep running, orphaned.
The step record carries the group and the machine (`marker`), and the next
attempt of the step on that machine stops what is left of the group before
it starts (`stop_leftovers`): a step never runs twice at the same time.

A command can leave the group (`setsid`, a daemon's double fork), so each
attempt also gets a token of its own in the environment (`KOSTYOR_STEP_TOKEN`),
which every process it starts inherits whatever its group or session: the
next attempt stops the processes of the group *and* every process whose
environment (/proc/PID/environ, as it was at exec) carries the token.  What
escapes both: a process started with a cleared environment (`env -i`, `sudo`
with env_reset, which resets it for the command it runs) that also left the
group, and anything on another machine (a remote command behind `ssh`): for
those a driver can record how to stop its remote side (`remember_remote`) and
implement `Driver.stop_remote`, called before the step runs again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

# How long the leftovers get between SIGTERM and SIGKILL.
TERM_GRACE = 10.0


def become_group_leader() -> None:
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def machine() -> str:
    """This machine, as long as it is up: its name and its boot."""
    return f"{socket.gethostname()}/{_boot_id()}"


# Inherited by every process an attempt starts: what finds them after `setsid`.
TOKEN_VARIABLE = "KOSTYOR_STEP_TOKEN"


def marker() -> dict:
    """What the step record keeps of the process running a step, or {} when the
    step shares its worker's process group (the solo and threads pools).  Puts a
    new token in this process's environment, for the commands the attempt starts."""
    if os.getpgrp() != os.getpid():
        return {}
    token = uuid.uuid4().hex
    os.environ[TOKEN_VARIABLE] = token
    return {"pgid": os.getpid(), "machine": machine(), "token": token}


def carriers(token: str) -> list[int]:
    """The live processes whose environment carries the attempt's `token`."""
    needle = f"\0{TOKEN_VARIABLE}={token}\0".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in b"\0" + environ + b"\0" and _started_at(int(entry)) is not None:
            found.append(int(entry))
    return found


def _started_at(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, IndexError, StopIteration, ValueError):
        return None
    # fields[0] is the state (field 3 of stat); starttime is field 22.
    if fields[0] == "Z":
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def members(pgid: int, since: float) -> list[int]:
    """The live processes of group `pgid` started at or after `since` (a reused
    group id belongs to processes started later than the step's own)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if os.getpgid(pid) != pgid:
                continue
        except OSError:
            continue
        started = _started_at(pid)
        # /proc's start times have a clock tick's precision, btime a second's.
        if started is not None and started >= since - 2.0:
            found.append(pid)
    return found


def stop_leftovers(
    record_extra: dict, started: float | None, *, grace: float = TERM_GRACE
) -> list[int]:
    """Stop what an earlier attempt of a step left running on this machine; the pids stopped."""
    pgid = record_extra.get("pgid")
    if not pgid or record_extra.get("machine") != machine() or pgid == os.getpgrp():
        return []
    if _started_at(pgid) is not None:
        # The pool process that ran the attempt is alive: the attempt ended
        # (its driver waited for its commands) and what runs in the group now
        # belongs to a later step.
        return []
    since = started or 0.0
    token = record_extra.get("token")

    def remaining() -> list[int]:
        found = set(members(pgid, since))
        if token:
            found.update(carriers(token))
        return sorted(found)

    left = remaining()
    if not left:
        return []
    log.warning(
        "kostyor: stopping processes %s left running by an earlier attempt of this step",
        ", ".join(map(str, left)),
    )
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        for pid in remaining():
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not remaining():
                return left
            time.sleep(0.05)
    return left
