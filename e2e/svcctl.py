"""A tiny service manager with systemctl's semantics, for the harness's cloud.

Each unit is a JSON file under ``STATE/units/NAME.json``::

    {"argv": ["{venv}/bin/nova-compute", "--config-dir", "..."],
     "env": {"OS_NOVA_CONFIG_DIR": "..."}, "venv": "/path/to/venv",
     "ready": {"http": "http://127.0.0.1:25000/"} | {"compute": "cmp1"} | null}

``{venv}`` in ``argv`` and ``env`` is the unit's current virtualenv.  A unit
runs in its own session (process group); its PID is in ``STATE/run/NAME.pid``
and its output appended to ``STATE/logs/NAME.log``.

    python -m e2e.svcctl --state STATE restart NAME [--venv NEW]

stops the running process group (SIGTERM, then SIGKILL after ``--stop-timeout``),
switches the unit to ``NEW`` when given (as an operator flips a symlink to a
new release's virtualenv), starts it again and waits, bounded, until it is
ready: an HTTP endpoint answers, or (``compute``) the nova-compute service of
that host has reported to the database after the start.  This is what
``systemctl restart`` does for a ``Type=notify`` unit; the kostyor shell
driver's ``restart_command`` calls it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

STOP_TIMEOUT = 30.0
READY_TIMEOUT = 180.0


class Units:
    def __init__(self, state: str | Path) -> None:
        self.state = Path(state)
        for sub in ("units", "run", "logs"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)

    # -- unit files -----------------------------------------------------
    def path(self, name: str) -> Path:
        return self.state / "units" / f"{name}.json"

    def define(self, name: str, argv: list[str], *, venv: str, env=None, ready=None) -> None:
        unit = {"argv": argv, "env": env or {}, "venv": str(venv), "ready": ready}
        tmp = self.path(name).with_suffix(".tmp")
        tmp.write_text(json.dumps(unit, indent=1))
        tmp.replace(self.path(name))

    def load(self, name: str) -> dict:
        try:
            return json.loads(self.path(name).read_text())
        except FileNotFoundError:
            raise SystemExit(f"svcctl: no unit {name!r} in {self.state}") from None

    def names(self) -> list[str]:
        return sorted(p.stem for p in (self.state / "units").glob("*.json"))

    def log(self, name: str) -> Path:
        return self.state / "logs" / f"{name}.log"

    # -- processes ------------------------------------------------------
    def pid(self, name: str) -> int | None:
        try:
            return int((self.state / "run" / f"{name}.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def running(self, name: str) -> bool:
        pid = self.pid(name)
        return pid is not None and bool(group_members(pid))

    def start(self, name: str) -> int:
        unit = self.load(name)
        venv = unit["venv"]
        argv = [arg.replace("{venv}", venv) for arg in unit["argv"]]
        env = dict(os.environ)
        # The worker's own virtualenv must not leak into a service's.
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        env.update({k: str(v).replace("{venv}", venv) for k, v in unit["env"].items()})
        env["PATH"] = f"{venv}/bin:" + env.get("PATH", "/usr/bin:/bin")
        with self.log(name).open("ab") as out:
            out.write(f"\n=== svcctl start {name} on {venv} at {time.time():.3f}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=str(self.state),
                start_new_session=True,
            )
        (self.state / "run" / f"{name}.pid").write_text(str(proc.pid))
        return proc.pid

    def stop(self, name: str, timeout: float = STOP_TIMEOUT) -> float:
        """Stop the unit's process group; the seconds it took."""
        pid = self.pid(name)
        started = time.monotonic()
        if pid is None:
            return 0.0
        kill_group(pid, signal.SIGTERM)
        deadline = started + timeout
        while group_members(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_members(pid):
            kill_group(pid, signal.SIGKILL)
            end = time.monotonic() + 10
            while group_members(pid) and time.monotonic() < end:
                time.sleep(0.1)
        with contextlib.suppress(FileNotFoundError):
            (self.state / "run" / f"{name}.pid").unlink()
        return time.monotonic() - started

    def wait_ready(self, name: str, since: float, timeout: float = READY_TIMEOUT) -> None:
        unit = self.load(name)
        ready = unit.get("ready") or {}
        deadline = time.monotonic() + timeout
        while True:
            if not self.running(name):
                raise SystemExit(f"svcctl: {name} exited; see {self.log(name)}")
            if _is_ready(ready, since):
                return
            if time.monotonic() >= deadline:
                raise SystemExit(f"svcctl: {name} not ready after {timeout:g} s ({ready})")
            time.sleep(0.5)

    def restart(self, name: str, venv: str | None = None, timeout: float = READY_TIMEOUT) -> None:
        unit = self.load(name)
        self.stop(name)
        if venv and venv != unit["venv"]:
            unit["venv"] = venv
            self.define(name, unit["argv"], venv=venv, env=unit["env"], ready=unit.get("ready"))
        since = time.time()
        self.start(name)
        self.wait_ready(name, since, timeout)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        # fields[0] = state, fields[2] = pgrp
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _is_ready(ready: dict, since: float) -> bool:
    if "http" in ready:
        try:
            with urllib.request.urlopen(ready["http"], timeout=5) as resp:
                return resp.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except (OSError, ValueError):
            return False
    if "compute" in ready:
        # The compute reported (its heartbeat) after it was started.
        query = (
            "SELECT UNIX_TIMESTAMP(updated_at) FROM services WHERE deleted=0 "
            f"AND `binary`='nova-compute' AND host='{ready['compute']}'"
        )
        done = subprocess.run(
            ["mysql", "-h", "127.0.0.1", "-u", "root", "-N", "-B", ready["database"], "-e", query],
            capture_output=True,
            text=True,
            timeout=30,
        )
        try:
            return float(done.stdout.strip() or 0) >= since
        except ValueError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="svcctl", description=__doc__.splitlines()[0])
    parser.add_argument("--state", required=True)
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in ("start", "stop", "restart", "status"):
        p = sub.add_parser(verb)
        p.add_argument("unit")
        if verb == "restart":
            p.add_argument("--venv")
            p.add_argument("--timeout", type=float, default=READY_TIMEOUT)
    args = parser.parse_args(argv)
    units = Units(args.state)
    if args.verb == "start":
        since = time.time()
        units.start(args.unit)
        units.wait_ready(args.unit, since)
    elif args.verb == "stop":
        units.stop(args.unit)
    elif args.verb == "restart":
        units.restart(args.unit, args.venv, args.timeout)
        print(f"{args.unit} restarted on {units.load(args.unit)['venv']}")
    else:
        print(f"{args.unit}: {'running' if units.running(args.unit) else 'stopped'}")
        return 0 if units.running(args.unit) else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
