"""Helpers of the runtime tests: plans, brokers, and real worker processes.

Worker processes are `kostyorc worker` subprocesses in their own session,
so a test can SIGKILL a whole worker (main process and pool) at once; every
worker, and every process of its session (pool processes lead their own
process groups, a step's commands run in those), is killed at teardown
whatever ends the test: by the fixture, and, for a pytest that is itself
killed or interrupted, by an `atexit` hook and the session finalizer
(`stop_everything`).  A broker service that is absent skips its tests,
except when `CI` is set: then they fail.

Steps wait on the test, not on the clock: submitted with `hold=True`, each
step of the `steplog` driver creates `hold/started.<kind>.<name>.<hosts>.<n>`
and waits until the test calls `release()` (see `Runtime.wait_started`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DRIVER_PKG = Path(__file__).resolve().parent / "driver_pkg"
KOSTYORC = [sys.executable, "-m", "kostyor_dsl"]
ZERO = "0" * 64

BROKERS = {
    "embedded": None,
    "redis": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/0"),
    "rabbitmq": ("127.0.0.1", 5672, "amqp://guest:guest@127.0.0.1:5672//"),
}


def make_plan(
    hosts: int = 2,
    services: tuple[str, ...] = ("api", "conductor", "scheduler"),
    *,
    pre_upgrade: bool = True,
    driver: str = "steplog",
) -> dict:
    steps = []
    if pre_upgrade:
        steps.append(
            {
                "id": "pre-upgrade:refresh-repos",
                "kind": "pre-upgrade",
                "action": "refresh-repos",
                "parameters": {},
                "source": "test.kostyor:1",
            }
        )
    for number in range(1, hosts + 1):
        for service in services:
            steps.append(
                {
                    "id": f"nova-{service}@node-{number}",
                    "kind": "upgrade",
                    "project": "nova",
                    "service": f"nova-{service}",
                    "hosts": [f"node-{number}"],
                    "source": "test.kostyor:2",
                }
            )
    return {
        "format": "kostyor-plan/1",
        "strategy": "node-by-node",
        "engine": "node-by-node",
        "driver": {"name": driver, "parameters": {}},
        "inputs": {
            "spec": [{"file": "test.kostyor", "sha256": ZERO}],
            "inventory": {"file": "inv.yaml", "sha256": ZERO},
        },
        "steps": steps,
    }


def rollout_plan(
    layout: list[tuple],
    *,
    groups: list[dict] | None = None,
    services: dict[str, tuple[str, ...]] | None = None,
    hooks: bool = True,
) -> dict:
    """A plan with rollout: `layout` items, in order, are
    `("batch", GROUP, NUMBER, [HOSTS])`, `("gate", GROUP, NUMBER)` and
    `("host", HOST)` (a host in no group).  Each host runs `services[host]`
    (default api, compute), inside `before drain` / `after enable` hooks for
    grouped hosts; a pre-upgrade and a post-upgrade step frame the plan.
    """
    services = services or {}
    steps: list[dict] = [
        {
            "id": "pre-upgrade:refresh-repos",
            "kind": "pre-upgrade",
            "action": "refresh-repos",
            "parameters": {},
            "source": "test.kostyor:1",
        }
    ]
    names: dict[str, dict] = {}
    for item in layout:
        if item[0] == "gate":
            _, group, number = item
            steps.append(
                {
                    "id": f"gate:{group}#{number}",
                    "kind": "gate",
                    "message": f"batch {group}#{number} is done: check it, then resume",
                    "group": group,
                    "batch": number,
                    "source": "test.kostyor:3",
                }
            )
            continue
        if item[0] == "batch":
            _, group, number, hosts = item
            names.setdefault(group, {"hosts": set()})["hosts"].update(hosts)
            tags = {"group": group, "batch": number}
        else:
            hosts, tags = [item[1]], {}
        for host in hosts:
            if tags and hooks:
                steps.append(_hook("before", "drain", host, tags))
            for service in services.get(host, ("api", "compute")):
                steps.append(
                    {
                        "id": f"nova-{service}@{host}",
                        "kind": "upgrade",
                        "project": "nova",
                        "service": f"nova-{service}",
                        "hosts": [host],
                        "source": "test.kostyor:2",
                        **tags,
                    }
                )
            if tags and hooks:
                steps.append(_hook("after", "enable", host, tags))
    steps.append(
        {
            "id": "post-upgrade:health-check",
            "kind": "post-upgrade",
            "action": "health-check",
            "parameters": {},
            "source": "test.kostyor:4",
        }
    )
    plan = make_plan(hosts=0, pre_upgrade=False)
    plan["steps"] = steps
    plan["groups"] = groups or [
        {
            "name": name,
            "selector": [name],
            "hosts": len(info["hosts"]),
            "batches": [1],
            "max_failed_hosts": 0,
            "source": "test.kostyor:5",
        }
        for name, info in names.items()
    ]
    return plan


def _hook(when: str, action: str, host: str, tags: dict) -> dict:
    return {
        "id": f"{when}:{action}:{host}",
        "kind": "hook",
        "when": when,
        "action": action,
        "parameters": {},
        "hosts": [host],
        "source": "test.kostyor:6",
        **tags,
    }


def step_label(step: dict) -> str:
    """The step-log label (`kind name hosts`) of a plan step with at most one host."""
    if step["kind"] in ("pre-upgrade", "post-upgrade"):
        return f"{step['kind']} {step['action']} -"
    if step["kind"] == "hook":
        return f"action {step['action']} {','.join(step['hosts'])}"
    return f"upgrade {step['service']} {','.join(step['hosts'])}"


def hold_keys(plan: dict) -> list[str]:
    """The hold keys (`kind.name.hosts`) of a plan's steps, in order (gates hold nothing)."""
    return [label.replace(" ", ".") for label in expected_log(plan)]


def expected_log(plan: dict) -> list[str]:
    """The step-log labels (`kind name hosts`) of a plan's steps, in order (gates log nothing)."""
    return [step_label(step) for step in plan["steps"] if step["kind"] != "gate"]


# Every process a test started that may still run: its session id.
_SESSIONS: set[int] = set()


def session_members(sid: int) -> list[int]:
    """The live processes of session `sid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.getsid(int(entry)) == sid:
                    found.append(int(entry))
    return found


def kill_session(sid: int) -> None:
    """SIGKILL every process of session `sid` (its leader's process group and the
    groups of its pool processes)."""
    for _ in range(50):
        members = session_members(sid)
        if not members:
            break
        for pid in members:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    _SESSIONS.discard(sid)


def stop_everything() -> None:
    for sid in sorted(_SESSIONS):
        kill_session(sid)


atexit.register(stop_everything)


def spawn(command: list[str], **options) -> subprocess.Popen:
    """Start a process in a session of its own, remembered until it is killed."""
    process = subprocess.Popen(command, start_new_session=True, **options)
    _SESSIONS.add(process.pid)
    return process


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it is true (its value is returned); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_up(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class StepLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def events(self) -> list[tuple[str, str, str]]:
        """(event, label, worker host) per line; label is `kind name hosts`."""
        return [(event, label, where) for event, label, where, _ in self.timed_events()]

    def timed_events(self) -> list[tuple[str, str, str, float]]:
        """(event, label, worker host, time) per line."""
        if not self.path.exists():
            return []
        result = []
        for line in self.path.read_text().splitlines():
            event, kind, name, hosts, where, moment = line.split(" ")
            result.append((event, f"{kind} {name} {hosts}", where, float(moment)))
        return result

    def ends(self) -> list[str]:
        return [label for event, label, _ in self.events() if event == "end"]

    def starts(self) -> list[str]:
        return [label for event, label, _ in self.events() if event == "start"]


class Runtime:
    """One isolated kostyor installation: a state folder, a broker, workers, the CLI."""

    def __init__(self, tmp_path: Path, broker: str, broker_url: str | None = None) -> None:
        self.tmp = tmp_path
        self.broker = broker
        self.namespace = f"kt-{uuid.uuid4().hex[:10]}"
        self.env = dict(os.environ)
        self.env.pop("KOSTYOR_BROKER_URL", None)
        self.env.pop("KOSTYOR_BACKEND_URL", None)
        self.env.update(
            {
                "KOSTYOR_HOME": str(tmp_path / "state"),
                "KOSTYOR_POLL_INTERVAL": "0.1",
                "KOSTYOR_STALL_SECONDS": "4",
                "KOSTYOR_LOCK_TTL": "3",
                "KOSTYOR_NAMESPACE": self.namespace,
                # The shared test Redis keeps nothing on disk; the tests of the
                # persistence check run without this.
                "KOSTYOR_ALLOW_VOLATILE_STORE": "1",
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(DRIVER_PKG), str(ROOT), os.environ.get("PYTHONPATH")])
                ),
            }
        )
        if broker_url or BROKERS[broker]:
            self.env["KOSTYOR_BROKER_URL"] = broker_url or BROKERS[broker][2]
        self.workers: list[tuple[subprocess.Popen, Path]] = []
        self.log = StepLog(tmp_path / "steps.log")
        self.hold = tmp_path / "hold"
        self.hold.mkdir(exist_ok=True)

    def kostyorc(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*KOSTYORC, *map(str, args)],
            env=self.env,
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"kostyorc {' '.join(map(str, args))} exited {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    def write_plan(self, plan: dict, name: str = "plan.json") -> Path:
        """The plan as `kostyorc compile` would write it: sealed (a test of an edited
        plan writes its own file)."""
        from kostyor_dsl.plan.seal import seal_plan

        path = self.tmp / name
        path.write_text(json.dumps(seal_plan(plan)))
        return path

    def submit(self, plan: dict, *extra: str, sleep: float = 0.2, hold: bool = False) -> str:
        path = self.write_plan(plan)
        held = ["-p", f"hold={self.hold}"] if hold else []
        done = self.kostyorc(
            "run", path, "-p", f"log={self.log.path}", "-p", f"sleep={sleep}", *held, *extra
        )
        return done.stdout.strip().splitlines()[-1]

    def release(self, key: str | None = None) -> None:
        """Let the held step `key` (`kind.name.hosts`, e.g. `upgrade.nova-api.node-1`)
        finish, or every held step, now and later."""
        (self.hold / (f"release.{key}" if key else "release")).touch()

    def started(self) -> list[str]:
        """The held steps that started, in order: `kind.name.hosts.attempt`."""
        entries = [path for path in self.hold.glob("started.*")]
        return [path.name[len("started.") :] for path in sorted(entries, key=os.path.getmtime)]

    def wait_started(self, key: str, attempt: int = 1, timeout: float = 60) -> Path:
        """Wait until attempt `attempt` of held step `key` has started."""
        path = self.hold / f"started.{key}.{attempt}"
        self.wait_for(path.exists, timeout, f"step {key} (attempt {attempt}) to start")
        return path

    def start_worker(self, host: str | None = None, *, concurrency: int = 1) -> subprocess.Popen:
        number = len(self.workers)
        output = self.tmp / f"worker-{number}.log"
        name = f"kt-{host or 'deploy'}-{self.namespace}@%h"
        command = [
            *KOSTYORC,
            "worker",
            "--concurrency",
            str(concurrency),
            "--name",
            name,
            "--loglevel",
            "info",
        ]
        if host:
            command += ["--host", host]
        process = spawn(
            command, env=self.env, cwd=self.tmp, stdout=output.open("w"), stderr=subprocess.STDOUT
        )
        self.workers.append((process, output))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if " ready." in output.read_text():
                return process
            if process.poll() is not None:
                raise AssertionError(f"worker exited {process.returncode}:\n{output.read_text()}")
            time.sleep(0.1)
        raise AssertionError(f"worker not ready after 30 s:\n{output.read_text()}")

    def kill_worker(self, process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the worker's process group and wait for the worker to exit;
        after SIGKILL, nothing of its session is left."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill_session(process.pid)
            process.wait(timeout=5)
        if sig == signal.SIGKILL:
            kill_session(process.pid)

    def stop_all(self) -> None:
        self.release()
        for process, _ in self.workers:
            kill_session(process.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)

    def status(self, run_id: str) -> dict:
        return json.loads(self.kostyorc("status", run_id, "--format", "json").stdout)

    def wait_for(self, predicate, timeout: float, what: str, interval: float = 0.1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        logs = "\n".join(f"--- {path.name}\n{path.read_text()[-6000:]}" for _, path in self.workers)
        steps = self.log.path.read_text() if self.log.path.exists() else "(no step log)"
        raise AssertionError(
            f"timed out after {timeout} s waiting for {what}\n--- step log\n{steps}\n{logs}"
        )

    def store(self):
        """The run store, opened directly (no subprocess)."""
        from kostyor_dsl.runtime.settings import resolve_settings
        from kostyor_dsl.runtime.store_factory import open_store

        return open_store(resolve_settings(self.env))

    def run_state(self, run_id: str) -> str:
        """The run's state, read from the store directly (no subprocess)."""
        return self.store().run(run_id).state

    def wait_state(self, run_id: str, state: str, timeout: float = 60) -> None:
        self.wait_for(lambda: self.run_state(run_id) == state, timeout, f"run {run_id} {state}")

    def worker_logs(self) -> str:
        return "\n".join(path.read_text() for _, path in self.workers)


def start_plain_celery_worker(runtime: Runtime) -> subprocess.Popen:
    """`celery -A kostyor_dsl.runtime.app worker`, without kostyorc."""
    output = runtime.tmp / f"worker-{len(runtime.workers)}.log"
    process = spawn(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kostyor_dsl.runtime.app",
            "worker",
            "--concurrency=1",
            "--loglevel=info",
            f"--hostname=kt-plain-{runtime.namespace}@%h",
        ],
        env=runtime.env,
        cwd=runtime.tmp,
        stdout=output.open("w"),
        stderr=subprocess.STDOUT,
    )
    runtime.workers.append((process, output))
    runtime.wait_for(lambda: " ready." in output.read_text(), 30, "the celery worker")
    return process


def require_broker(broker: str) -> None:
    """Skip a test whose broker is not running, or fail it when `CI` is set.

    Here, not in conftest.py: several test folders have a conftest, so
    `from conftest import` would pick whichever was imported first."""
    import pytest

    service = BROKERS[broker]
    if service and not service_up(service[0], service[1]):
        message = f"{broker} is not running on {service[0]}:{service[1]}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set: broker tests must run)")
        pytest.skip(message)
