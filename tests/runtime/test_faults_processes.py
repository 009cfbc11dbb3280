"""`step_processes`: what a killed attempt of a step left running is found and stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from kostyor_dsl.runtime import step_processes

# A pool process that leads its own group starts a command, and dies.
_LEADER = """
import os, subprocess, sys
os.setpgid(0, 0)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
print(child.pid, flush=True)
os._exit(0)
"""


def _orphan(tmp_path) -> tuple[int, int, float]:
    started = time.time()
    leader = subprocess.Popen([sys.executable, "-c", _LEADER], stdout=subprocess.PIPE, text=True)
    child = int(leader.stdout.readline())
    leader.wait(timeout=30)
    return leader.pid, child, started


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def test_the_orphans_of_a_dead_attempt_on_this_machine_are_stopped(tmp_path):
    pgid, child, started = _orphan(tmp_path)
    try:
        assert _alive(child) and not _alive(pgid)
        extra = {"pgid": pgid, "machine": step_processes.machine()}
        assert step_processes.members(pgid, started) == [child]
        assert step_processes.stop_leftovers(extra, started, grace=5) == [child]
        assert not _alive(child)
    finally:
        if _alive(child):
            os.kill(child, 9)


def test_leftovers_elsewhere_or_before_the_attempt_are_not_touched(tmp_path):
    pgid, child, started = _orphan(tmp_path)
    try:
        other = {"pgid": pgid, "machine": "another-host/boot"}
        assert step_processes.stop_leftovers(other, started) == []
        # A group id reused by processes older than the attempt is not the attempt's.
        mine = {"pgid": pgid, "machine": step_processes.machine()}
        assert step_processes.stop_leftovers(mine, time.time() + 60) == []
        # No group recorded (solo and threads pools): nothing to do.
        assert step_processes.stop_leftovers({}, started) == []
        assert _alive(child)
    finally:
        os.kill(child, 9)


def test_a_live_pool_process_s_group_is_left_alone():
    # This process is alive: an attempt it ran has ended, its group is busy elsewhere.
    extra = {"pgid": os.getpid(), "machine": step_processes.machine()}
    assert step_processes.stop_leftovers(extra, 0.0) == []
