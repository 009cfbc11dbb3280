"""The end-to-end test: a real OpenStack release N, upgraded to N+1 by kostyorc.

    python -m e2e [--from 2025.2 --to 2026.1] [--base-port 25000] [--redis-db 11]

1. virtualenvs for both releases and for kostyor itself (cached);
2. the cloud, from empty databases to four ACTIVE servers (e2e.cloud);
3. as an operator: `openstack compute service list -f json` and the
   harness's Ansible inventory -> `kostyorc import openstack|ansible|merge`
   -> `check` -> `compile --strategy rolling-computes` -> `kostyorc worker`
   (Redis) + `kostyorc run --driver shell -p commands=systemd-venv -p cloud=e2e`
   -> `status` until done (resuming at the canary gate once the canary checks);
4. verification (grenade's and more) and a summary;
5. teardown, whatever ends the run (atexit, SIGINT/SIGTERM/SIGHUP).

Exit status 0 when every check held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from e2e import verify
from e2e.cloud import CONTROLLER, Cloud
from e2e.monitor import ApiProbe, NovaSampler
from e2e.releases import release
from e2e.svcctl import group_members, kill_group
from e2e.venvs import PYTHON, cache_root, ensure_venv

REPO = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 1800.0
API_SERVICES = ["keystone", "placement-api", "glance-api", "nova-api"]


def log(message: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {message}", flush=True)


def kostyor_venv() -> Path:
    """A virtualenv with this checkout of kostyor installed, as an operator installs it."""
    key = hashlib.sha256((str(REPO) + (REPO / "pyproject.toml").read_text()).encode()).hexdigest()
    venv = cache_root() / "venvs" / f"kostyor-{key[:12]}"
    if (venv / ".complete").exists():
        return venv
    log(f"installing kostyor into {venv}")
    subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True, timeout=300)
    with (cache_root() / "venvs" / f"{venv.name}.log").open("w") as out:
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "-e", f"{REPO}[openstack]"],
            check=True,
            timeout=1200,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    (venv / ".complete").write_text("")
    return venv


class Harness:
    def __init__(self, args) -> None:
        self.args = args
        self.run_id = secrets.token_hex(3)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"kostyor-e2e-{self.run_id}-"))
        self.cloud: Cloud | None = None
        self.worker: subprocess.Popen | None = None
        self.monitors: list = []
        self.torn_down = False
        self.times: dict[str, float] = {}
        self.redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
        self.faults = {f for f in args.faults.split(",") if f}
        self.fault_checks: list[tuple[str, bool, str]] = []
        self.killed_step: str | None = None
        self.unmovable: tuple[str, str] | None = None
        self.retried = False

    # -- cleanup ----------------------------------------------------------------
    def teardown(self) -> None:
        if self.torn_down:
            return
        self.torn_down = True
        log("tearing down")
        for monitor in self.monitors:
            with contextlib.suppress(Exception):
                monitor.stop()
        self.stop_worker()
        if self.cloud is not None:
            self.cloud.teardown()
        with contextlib.suppress(Exception):
            subprocess.run(
                ["redis-cli", "-n", str(self.args.redis_db), "FLUSHDB"],
                capture_output=True,
                timeout=30,
            )
        if not self.args.keep_workdir:
            subprocess.run(["rm", "-rf", str(self.workdir)], timeout=120)
        else:
            log(f"work folder kept: {self.workdir}")

    def stop_worker(self) -> None:
        if self.worker is None:
            return
        pid = self.worker.pid
        kill_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while group_members(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        kill_group(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.worker.wait(timeout=10)
        self.worker = None

    # -- kostyorc, as an operator runs it -------------------------------------------
    def env(self) -> dict[str, str]:
        env = self.cloud.os_env()
        env["KOSTYOR_BROKER_URL"] = self.redis_url
        env["KOSTYOR_HOME"] = str(self.workdir / "kostyor")
        # The machine's Redis keeps nothing on disk and the harness changes no
        # system config; a run that lives minutes in a temp folder needs no more.
        env["KOSTYOR_ALLOW_VOLATILE_STORE"] = "1"
        env["PATH"] = f"{self.kvenv / 'bin'}:{env['PATH']}"
        env.pop("VIRTUAL_ENV", None)
        return env

    def kostyorc(self, *argv: str, timeout: float = 300, check: bool = True) -> str:
        cmd = [str(self.kvenv / "bin" / "kostyorc"), *argv]
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
            cwd=self.workdir,
        )
        (self.workdir / "kostyorc.log").open("a").write(
            f"$ {shlex.join(['kostyorc', *argv])}\n{done.stdout}{done.stderr}\n"
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"kostyorc {' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def start_worker(self) -> None:
        out = (self.workdir / "worker.log").open("ab")
        self.worker = subprocess.Popen(
            [str(self.kvenv / "bin" / "kostyorc"), "worker", "--concurrency", "2"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env(),
            cwd=self.workdir,
            start_new_session=True,
        )

    # -- the test ------------------------------------------------------------------
    def main(self) -> int:
        args = self.args
        t0 = time.monotonic()
        log(f"releases {args.from_release} -> {args.to_release}; work folder {self.workdir}")
        old = ensure_venv(args.from_release, echo=log)
        new = ensure_venv(args.to_release, echo=log)
        self.kvenv = kostyor_venv()
        self.times["virtualenvs"] = time.monotonic() - t0
        self.cloud = Cloud(
            self.workdir,
            old,
            new,
            self.run_id,
            base_port=args.base_port,
            echo=log,
            neutron=args.neutron,
        )
        log("bringing the cloud up")
        t1 = time.monotonic()
        self.cloud.up()
        self.times["bring-up"] = time.monotonic() - t1
        before = json.loads(self.cloud.in_venv(new, "servers", 120))
        log("servers before: " + ", ".join(f"{s['name']}@{s['host']}" for s in before))

        plan = self.import_and_compile()
        token = self.token()
        old_version = verify.service_versions(self.cloud)
        log(f"nova-compute service versions before: {old_version}")
        probe = ApiProbe(self.cloud, token)
        sampler = NovaSampler(self.cloud.db("nova"))
        self.monitors = [probe, sampler]
        self.start_worker()
        probe.start()
        sampler.start()
        if "unmovable" in self.faults:
            self.make_unmovable(plan, before)
        t2 = time.monotonic()
        run = self.run_plan(plan)
        document = self.follow(run)
        self.times["upgrade"] = time.monotonic() - t2
        probe.stop()
        sampler.stop()
        (self.workdir / "api-samples.json").write_text(
            json.dumps([vars(sample) for sample in probe.samples])
        )

        after = json.loads(self.cloud.in_venv(new, "servers", 120))
        simulate = self.kostyorc("simulate", str(plan), "--from-run", run, "--format", "json")
        report = verify.Report()
        verify.check_all(
            report,
            cloud=self.cloud,
            plan=json.loads(plan.read_text()),
            status=document,
            before=before,
            after=after,
            old_versions=old_version,
            new_release=release(args.to_release),
            probe=probe,
            sampler=sampler,
            simulate=json.loads(simulate),
        )
        for name, ok, detail in self.fault_checks:
            report.add(name, ok, detail)
        if self.killed_step:
            step = next(s for s in document["steps"] if s["id"] == self.killed_step)
            report.add(
                "the step a killed worker ran, ran again and succeeded",
                step["state"] == "succeeded" and (step["attempts"] or 0) >= 2,
                f"{step['id']}: {step['state']}, {step['attempts']} attempts",
            )
        if self.retried:
            report.add(
                "retry after the fix completes the run",
                document["state"] == "succeeded",
                document["state"],
            )
        for fault in sorted(self.faults):
            report.add(f"fault {fault} injected", False, "its moment never came")
        self.times["total"] = time.monotonic() - t0
        summary = verify.summary(report, document, probe, before, after, self.times, args)
        print(summary, flush=True)
        (self.workdir / "summary.txt").write_text(summary)
        if args.summary:
            Path(args.summary).write_text(summary)
        return 0 if report.ok else 1

    def token(self) -> str:
        out = self.cloud.openstack("token", "issue", "-f", "json")
        return json.loads(out)["id"]

    def import_and_compile(self) -> Path:
        w = self.workdir
        log("kostyorc import: the API's service lists + the harness's Ansible inventory")
        (w / "compute-services.json").write_text(
            self.cloud.openstack("compute", "service", "list", "--long", "-f", "json")
        )
        lists = [str(w / "compute-services.json")]
        if self.cloud.neutron == "real":
            (w / "network-agents.json").write_text(
                self.cloud.openstack("network", "agent", "list", "-f", "json")
            )
            lists.append(str(w / "network-agents.json"))
        self.kostyorc("import", "openstack", *lists, "-o", str(w / "from-api.yaml"))
        # What `ansible-inventory --list` prints for the harness's inventory: the
        # API services live on the controller, which the API cannot list.
        groups = {"controllers": {"hosts": [CONTROLLER]}}
        (w / "ansible-inventory.json").write_text(
            json.dumps(
                {"_meta": {"hostvars": {}}, "all": {"children": ["ungrouped", *groups]}, **groups}
            )
        )
        services = list(API_SERVICES)
        if self.cloud.neutron == "real":
            services.append("neutron-server")
        (w / "groups.yaml").write_text(json.dumps({"groups": {"controllers": services}}))
        self.kostyorc(
            "import",
            "ansible",
            str(w / "ansible-inventory.json"),
            "--map",
            str(w / "groups.yaml"),
            "-o",
            str(w / "from-ansible.yaml"),
        )
        self.kostyorc(
            "import",
            "merge",
            str(w / "from-api.yaml"),
            str(w / "from-ansible.yaml"),
            "-o",
            str(w / "inventory.yaml"),
        )
        log("inventory:\n" + (w / "inventory.yaml").read_text())
        self.kostyorc("check", "openstack", "-i", str(w / "inventory.yaml"))
        plan = w / "plan.json"
        self.kostyorc(
            "compile",
            "openstack",
            "-i",
            str(w / "inventory.yaml"),
            "--strategy",
            "rolling-computes",
            "--format",
            "json",
            "-o",
            str(plan),
        )
        steps = json.loads(plan.read_text())["steps"]
        log(f"plan: {len(steps)} steps")
        return plan

    def driver_parameters(self) -> list[str]:
        cloud = self.cloud
        svcctl = f"{shlex.quote(sys.executable)} {shlex.quote(str(REPO / 'e2e' / 'svcctl.py'))}"
        projects = "keystone,placement,glance,nova" + (
            ",neutron" if cloud.neutron == "real" else ""
        )
        params = {
            "commands": "systemd-venv",
            "venv": str(cloud.new_venv),
            "config_dir": str(self.workdir / "etc" / "{project}"),
            # systemctl restart, for this machine: stop the old release's
            # process group, start the unit on the new release's virtualenv,
            # wait until it is ready.
            "restart_command": f"{svcctl} --state {shlex.quote(str(cloud.units.state))} "
            "restart {service}@{host} --venv {venv}",
            "command_host": CONTROLLER,
            "projects": projects,
            "cloud": "e2e",
            "poll_interval": "2",
            "timeout": "900",
        }
        out = []
        for key, value in params.items():
            out += ["-p", f"{key}={value}"]
        return out

    def run_plan(self, plan: Path) -> str:
        log("kostyorc run (shell driver, systemd-venv table, OpenStack actions)")
        out = self.kostyorc("run", str(plan), "--driver", "shell", *self.driver_parameters())
        run = out.strip().splitlines()[-1]
        log(f"run {run}")
        return run

    def vm_state(self, server: str) -> str:
        return self.cloud._mysql(
            f"SELECT vm_state FROM `{self.cloud.db('nova')}`.instances WHERE uuid='{server}'"
        ).strip()

    def wait_vm_state(self, server: str, state: str, timeout: float = 180) -> None:
        self.cloud.wait_for(
            f"server {server} {state}", lambda: self.vm_state(server) == state, timeout
        )

    def make_unmovable(self, plan: Path, before: list[dict]) -> None:
        """A server nova will not migrate: suspended (neither live nor cold migration
        takes a SUSPENDED server), on the first compute of the plan that has one."""
        order = [
            s["hosts"][0]
            for s in json.loads(plan.read_text())["steps"]
            if s["id"].startswith("before:evacuate:")
        ]
        # The pause fault acts on the second compute and kill-worker on the third;
        # the first compute with a server is the canary when it has one.
        for host in order:
            on_it = [s for s in before if s["host"] == host]
            if on_it:
                server = on_it[0]["id"]
                log(f"fault: suspend server {on_it[0]['name']} on {host}: it cannot move")
                self.cloud.openstack("server", "suspend", server)
                self.wait_vm_state(server, "suspended")
                self.unmovable = (host, server)
                return

    def fix_unmovable(self, run: str, document: dict) -> None:
        host, server = self.unmovable
        failed = [s for s in document["steps"] if s["state"] == "failed"]
        reason = " ".join(
            [document.get("pause_reason") or ""] + [s.get("error") or "" for s in failed]
        )
        at_host = any(host in s["hosts"] for s in failed)
        self.fault_checks.append(
            (
                "a server that cannot move pauses the run at its host, with the reason",
                at_host and server in reason,
                (document.get("pause_reason") or "")[:160],
            )
        )
        log(f"fault: the run paused at {host}; resume server {server}, kostyorc retry")
        self.cloud.openstack("server", "resume", server)
        self.wait_vm_state(server, "active")
        self.kostyorc("retry", run)
        self.faults.discard("unmovable")
        self.retried = True

    def migrations_from(self, host: str) -> int:
        out = self.cloud._mysql(
            f"SELECT COUNT(*) FROM `{self.cloud.db('nova')}`.migrations WHERE source_compute="
            f"'{host}' AND status IN ('queued','preparing','running')"
        )
        return int(out.strip() or 0)

    def inject_faults(self, run: str, document: dict, running: list[str]) -> None:
        """The faults of issue 23, each once, at the moment it names."""
        faults = self.faults
        computes = [
            s["hosts"][0] for s in document["steps"] if s["id"].startswith("before:evacuate:")
        ]
        if len(computes) < 3:
            return
        second = {s["id"] for s in document["steps"] if s["hosts"] == [computes[1]]}
        if "pause" in faults and second & set(running):
            faults.discard("pause")
            log(f"fault: kostyorc pause while {running[0]} runs")
            self.kostyorc("pause", run)
            deadline = time.monotonic() + 900
            while True:
                doc = json.loads(self.kostyorc("status", run, "--format", "json"))
                if doc["state"] == "paused" and not any(
                    s["state"] == "running" for s in doc["steps"]
                ):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("pause: the running step did not finish in 900 s")
                time.sleep(1)
            if any(step["state"] == "failed" for step in doc["steps"]):
                # The step failed under the pause (an unmovable server): that
                # pause is the failure's, and fix_unmovable retries it.
                self.fault_checks.append(
                    (
                        "pause in the middle of the computes holds",
                        doc["state"] == "paused",
                        "paused; the running step failed meanwhile: "
                        + (doc.get("pause_reason") or "")[:100],
                    )
                )
                log("fault: the paused step failed meanwhile; left for the unmovable fault")
                return
            done = doc["summary"].get("succeeded", 0)
            # Paused: the next look at the record must show nothing new started.
            again = json.loads(self.kostyorc("status", run, "--format", "json"))
            held = again["state"] == "paused" and again["summary"].get("succeeded", 0) == done
            self.fault_checks.append(
                (
                    "pause in the middle of the computes holds, resume continues",
                    held,
                    f"paused after {done} steps",
                )
            )
            self.kostyorc("resume", run)
            log("fault: kostyorc resume")
        if (
            "kill-worker" in faults
            and f"before:evacuate:{computes[2]}" in running
            and self.migrations_from(computes[2]) > 0
        ):
            faults.discard("kill-worker")
            log("fault: kill -9 the worker during a live migration, then start another")
            kill_group(self.worker.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.worker.wait(timeout=30)
            self.worker = None
            self.killed_step = f"before:evacuate:{computes[2]}"
            self.start_worker()

    def follow(self, run: str) -> dict:
        deadline = time.monotonic() + RUN_TIMEOUT
        last = None
        resumed = set()
        while True:
            if self.worker is not None and self.worker.poll() is not None:
                raise RuntimeError("the kostyor worker exited; see worker.log")
            document = json.loads(self.kostyorc("status", run, "--format", "json"))
            running = [s["id"] for s in document["steps"] if s["state"] == "running"]
            if document["state"] == "running" and running:
                self.inject_faults(run, document, running)
            line = f"{document['state']} {document['summary']} {running}"
            if line != last:
                log(line)
                last = line
            if document["state"] in ("succeeded", "failed", "cancelled"):
                if document["state"] != "succeeded":
                    raise RuntimeError(
                        f"run {run} {document['state']}: {document.get('error')} "
                        f"(step {document.get('failed_step')})"
                    )
                return document
            if (
                document["state"] == "paused"
                and not document.get("gate")
                and "unmovable" in self.faults
                and self.unmovable
            ):
                self.fix_unmovable(run, document)
                continue
            if document["state"] == "paused" and document.get("gate"):
                gate = document["gate"]["step"]
                if gate not in resumed:
                    # The operator's look at the canary: its servers and service.
                    verify.canary_ok(
                        self.cloud, document, release(self.args.to_release).compute_service_version
                    )
                    log(f"canary checked at {gate}: kostyorc resume")
                    self.kostyorc("resume", run)
                    resumed.add(gate)
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run} not done after {RUN_TIMEOUT:g} s")
            time.sleep(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="from_release", default="2025.2")
    parser.add_argument("--to", dest="to_release", default="2026.1")
    parser.add_argument("--base-port", type=int, default=25000)
    parser.add_argument("--redis-db", type=int, default=11, help="Redis database the run uses")
    parser.add_argument("--neutron", choices=("standin", "real"), default="standin")
    parser.add_argument(
        "--faults",
        default="pause,kill-worker",
        help="faults to inject, comma-separated: pause (pause and resume during the second "
        "compute), kill-worker (kill -9 the worker during the third compute's live "
        "migration, start another), unmovable (a suspended server on the first compute "
        "with one: the run pauses there, the harness resumes the server and retries); "
        "'' for none",
    )
    parser.add_argument("--keep-workdir", action="store_true")
    parser.add_argument("--summary", help="also write the summary to this file")
    args = parser.parse_args(argv)
    harness = Harness(args)

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    atexit.register(harness.teardown)
    try:
        return harness.main()
    except Exception as exc:
        log(f"FAILED: {type(exc).__name__}: {exc}")
        if harness.cloud is not None:
            for name in harness.cloud.units.names():
                logfile = harness.cloud.units.log(name)
                if logfile.exists():
                    tail = logfile.read_text(errors="replace").splitlines()[-5:]
                    print(f"--- {name} (last lines)\n" + "\n".join(tail), flush=True)
        return 1
    finally:
        harness.teardown()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
