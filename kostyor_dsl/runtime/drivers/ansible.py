"""`ansible`: runs a playbook for each step through ansible-runner.

`-p inventory=FILE -p playbook=FILE` upgrade each step's hosts with the
playbook, `--limit`ed to them (or to the addresses the plan step carries for
them, `targets: {HOST: [NAME, ...]}`, e.g. OpenStack-Ansible containers),
with extra vars naming the step (`kostyor_step_id`, `kostyor_kind`,
`kostyor_service`, `kostyor_project`, `kostyor_action`,
`kostyor_parameters`, ...).  `pre_upgrade_playbook`,
`post_upgrade_playbook` and `action_playbook` give a step kind its own
playbook; `-p cloud=NAME` hands the OpenStack actions (`evacuate`, ...) to
`openstack_actions`.

ansible-runner's event stream is followed as the playbook runs: the play and
task it is at and each host's ok/changed/failed counts go to the step's
record (`kostyorc status` shows them); a failed or unreachable host fails the
step with its task's message; the step's timeout stops the playbook.  The
`kolla-ansible` and `openstack-ansible` drivers build on this one: the same
task runs their tool's command instead of a playbook.

Long because the three Ansible drivers share it: parameters, command lines, ansible-runner's events and its cancel are one contract.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import re
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from celery import shared_task

from kostyor_dsl.inventory.hostnames import target_problem
from kostyor_dsl.runtime.drivers import Driver, Parameter, done_elsewhere
from kostyor_dsl.runtime.drivers.command_tables import fill
from kostyor_dsl.runtime.drivers.openstack_actions import PARAMETERS as OPENSTACK_PARAMETERS
from kostyor_dsl.runtime.drivers.openstack_actions import OpenStackActions
from kostyor_dsl.runtime.drivers.shell import step_timeout
from kostyor_dsl.runtime.errors import DriverError, ParameterError, StepFailed
from kostyor_dsl.runtime.step_context import StepContext, current_step, report_progress

TASK = "kostyor_dsl.drivers.ansible.run"
MESSAGE_LIMIT = 2000
KIND_PLAYBOOKS = {
    "upgrade": "playbook",
    "pre-upgrade": "pre_upgrade_playbook",
    "post-upgrade": "post_upgrade_playbook",
    "hook": "action_playbook",
}
COUNTS = ("ok", "changed", "failed", "unreachable", "skipped")
MARK = "KOSTYOR_ANSIBLE_STEP"


def limit_for(step: Mapping[str, Any] | None, hosts: list[str]) -> list[str]:
    """What `--limit` names for these hosts: the names the plan step recorded for the
    step's service on a host, else the host itself.

    The step's `targets` may be keyed by host (`{HOST: [NAME, ...]}`), by host then
    service (`{HOST: {SERVICE: [NAME, ...]}}`, an imported inventory's `targets`
    per host), or, for a step of one host, by service (`{SERVICE: [NAME, ...]}`).
    """
    step = step or {}
    targets = step.get("targets") or {}
    if not isinstance(targets, Mapping):
        targets = {}
    service = step.get("service")
    names: list[str] = []
    for host in hosts:
        recorded = targets.get(host)
        if isinstance(recorded, Mapping):
            recorded = recorded.get(service)
        if recorded is None and len(hosts) == 1 and service:
            recorded = targets.get(service)
        if isinstance(recorded, str):
            recorded = [recorded]
        for name in recorded or [host]:
            problem = target_problem(name)
            if problem is not None:  # the runtime refused it already; never reach --limit
                raise StepFailed(f"--limit {name!r} refused: {problem}")
            if name not in names:
                names.append(name)
    return names


def step_variables(
    kind: str, name: str, hosts: list[str], parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """The extra vars that tell a playbook which step it runs."""
    context = current_step()
    step = dict(context.step) if context else {}
    variables = {
        "kostyor_step_id": step.get("id", ""),
        "kostyor_unit_id": context.unit_id if context else "",
        "kostyor_run_id": context.run_id if context else "",
        "kostyor_kind": step.get("kind", kind),
        "kostyor_service": step.get("service", name if kind == "upgrade" else ""),
        "kostyor_project": step.get("project", ""),
        "kostyor_action": step.get("action", "" if kind == "upgrade" else name),
        "kostyor_when": step.get("when", ""),
        "kostyor_parameters": dict(parameters),
        "kostyor_hosts": list(hosts),
    }
    for key in ("group", "batch"):
        if key in step:
            variables[f"kostyor_{key}"] = step[key]
    return variables


class Progress:
    """Follows ansible-runner's events: where the playbook is, and each host's counts."""

    def __init__(self, label: str, context: StepContext | None) -> None:
        self.label = label
        self.context = context
        self.play = ""
        self.task = ""
        self.tasks = 0
        self.hosts: dict[str, dict[str, int]] = {}
        self.failures: list[dict[str, str]] = []

    def host(self, name: str) -> dict[str, int]:
        return self.hosts.setdefault(name, dict.fromkeys(COUNTS, 0))

    def event(self, event: dict) -> bool:
        data = event.get("event_data") or {}
        kind = event.get("event", "")
        if kind == "playbook_on_play_start":
            self.play = data.get("play", "")
        elif kind == "playbook_on_task_start":
            self.task = data.get("task", "")
            self.tasks += 1
            self.report()
        elif kind.startswith("runner_on_") and data.get("host"):
            counts = self.host(data["host"])
            result = data.get("res") or {}
            if kind == "runner_on_ok":
                counts["ok"] += 1
                counts["changed"] += bool(result.get("changed"))
            elif kind == "runner_on_skipped":
                counts["skipped"] += 1
            elif kind == "runner_on_failed" and not data.get("ignore_errors"):
                counts["failed"] += 1
                self.failed(data["host"], data.get("task", self.task), result)
            elif kind == "runner_on_unreachable":
                counts["unreachable"] += 1
                self.failed(data["host"], data.get("task", self.task), result, "unreachable")
        return True

    def failed(self, host: str, task: str, result: Mapping, how: str = "failed") -> None:
        parts = [str(result.get("msg") or "").strip()]
        for stream in ("stderr", "stdout"):
            text = str(result.get(stream) or "").strip()
            if text and text not in parts:
                parts.append(text[-MESSAGE_LIMIT:])
        message = "; ".join(part for part in parts if part) or how
        self.failures.append({"host": host, "task": task, "how": how, "message": message})
        self.report()

    def document(self) -> dict[str, Any]:
        return {
            "playbook": self.label,
            "play": self.play,
            "task": self.task,
            "tasks_started": self.tasks,
            "hosts": {name: dict(counts) for name, counts in sorted(self.hosts.items())},
            "summary": self.summary(),
        }

    def summary(self) -> str:
        line = f"{self.label}: task {self.tasks} {self.task!r}" if self.task else self.label
        changed = sum(counts["changed"] for counts in self.hosts.values())
        failed = sorted(h for h, c in self.hosts.items() if c["failed"] or c["unreachable"])
        if changed:
            line += f", {changed} changed"
        if failed:
            line += f", failed on {', '.join(failed)}"
        return line

    def report(self) -> None:
        report_progress(self.document(), self.context)


def marked_processes(mark: str) -> list[int]:
    """The processes whose environment carries this step's mark: the tool, its
    ansible-playbook and the workers Ansible detaches into sessions of their own
    (which a process-group kill misses), wherever their parents went."""
    needle = f"\0{MARK}={mark}\0".encode()
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:  # no procfs: nothing to find
        return []
    for entry in entries:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in b"\0" + environ:
            found.append(int(entry))
    return found


def stop_marked(mark: str, patience: float = 10.0) -> int:
    """Stop every process of this step's mark, TERM then KILL; how many there were."""
    pids = marked_processes(mark)
    for sig, wait in ((signal.SIGTERM, patience), (signal.SIGKILL, 5.0)):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and marked_processes(mark):
            time.sleep(0.05)
        if not marked_processes(mark):
            break
        pids = marked_processes(mark)
    return len(pids)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", name)[:120] or "_"


def _workdir(request: Mapping[str, Any], context: StepContext | None) -> Path:
    base = request.get("workdir")
    if not base:
        from kostyor_dsl.runtime.settings import resolve_settings

        base = resolve_settings().home / "ansible"
    if context is None:
        return Path(base) / "adhoc" / uuid.uuid4().hex
    return Path(base) / _safe(context.run_id) / f"{context.index}-{_safe(context.unit_id)}"


def _executable(name: str) -> str:
    """The tool next to this Python first (a virtualenv's bin), then on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if not found:
        hint = " (pip install 'kostyor-dsl[ansible]')" if name.startswith("ansible") else ""
        raise StepFailed(f"{name} is not installed on this worker{hint}")
    return found


def _done_marker(request: Mapping[str, Any], folder: Path) -> Path | None:
    key = request.get("once")
    if not key:
        return None
    return folder.parent / "done" / _safe(key)


@shared_task(name=TASK)
def run_ansible(request: dict) -> dict:
    """Run one playbook (`request["playbook"]`) or one command (`request["command"]`)
    through ansible-runner, following its events."""
    try:
        import ansible_runner
        from ansible_runner.interface import init_command_config
    except ImportError:
        raise StepFailed(
            "the ansible drivers need ansible-runner: pip install 'kostyor-dsl[ansible]'"
        ) from None
    context = current_step()
    folder = _workdir(request, context)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    done = _done_marker(request, folder)
    if done is not None and done.exists():
        return done_elsewhere(
            done.read_text().strip(),
            command=request.get("command"),
            limit=request.get("limit", []),
        )
    # Every process of this step carries the mark: what an earlier attempt left
    # running (its worker was killed mid-playbook) is stopped before it runs again.
    mark = str(folder)
    leftover = stop_marked(mark)
    label = request.get("label") or Path(request.get("playbook", "")).name
    progress = Progress(label, context)
    timeout = max(1, int(float(request["timeout"]) + 0.999))
    (folder / "tmp").mkdir(exist_ok=True)
    common = {
        "private_data_dir": str(folder),
        "envvars": {
            "ANSIBLE_LOCAL_TEMP": str(folder / "tmp"),
            **request.get("envvars", {}),
            MARK: mark,
        },
        "event_handler": progress.event,
        # ansible-runner's default installs its own SIGTERM handler: not in a worker.
        "cancel_callback": lambda: False,
        "timeout": timeout,
        "quiet": True,
        "rotate_artifacts": 3,
        "settings": {"pexpect_timeout": 1, "suppress_ansible_output": True},
    }
    # ansible-runner finds ansible-playbook (and a tool's ansible-playbook) on PATH:
    # put this Python's folder first, where a virtualenv keeps them.
    bindir = str(Path(sys.executable).parent)
    common["envvars"]["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", os.defpath)])
    if request.get("command"):
        command = list(request["command"])
        runner = init_command_config(_executable(command[0]), cmdline_args=command[1:], **common)
        runner.run()
    else:
        _executable("ansible-playbook")
        extra = {"limit": ",".join(request["limit"])} if request.get("limit") else {}
        if request.get("forks"):
            extra["forks"] = int(request["forks"])
        runner = ansible_runner.run(
            playbook=request["playbook"],
            inventory=request["inventory"],
            extravars=request.get("extravars", {}),
            **extra,
            **common,
        )
    # ansible-runner kills the tool's process group on a timeout; Ansible's workers
    # live in sessions of their own.
    stray = stop_marked(mark, patience=2.0)
    result: dict[str, Any] = {
        "playbook": request.get("playbook"),
        "command": request.get("command"),
        "limit": request.get("limit", []),
        "status": runner.status,
        "rc": runner.rc,
        "tasks": progress.tasks,
        "hosts": progress.document()["hosts"],
    }
    if leftover:
        result["stopped_from_earlier_attempt"] = leftover
    if runner.status == "timeout":
        where = f" at task {progress.task!r}" if progress.task else ""
        raise StepFailed(f"{label} timed out after {timeout} s{where}: stopped")
    if stray:
        result["stopped_after_it_ended"] = stray
    if runner.status != "successful" or progress.failures:
        if progress.failures:
            reasons = "; ".join(
                f"{failure['how']} on {failure['host']} at task {failure['task']!r}: "
                f"{failure['message']}"
                for failure in progress.failures
            )
        else:
            reasons = f"exit code {runner.rc}: {_output_tail(runner)}"
        raise StepFailed(f"{label} failed: {reasons}"[: MESSAGE_LIMIT * 2])
    if done is not None:
        done.parent.mkdir(parents=True, exist_ok=True)
        unit = context.unit_id if context else "an earlier step"
        done.write_text(f"{label} for {request['once']} already ran in step {unit} of this run\n")
    result["did"] = f"ran {label}" + (f" on {','.join(result['limit'])}" if result["limit"] else "")
    return result


def _output_tail(runner) -> str:
    try:
        text = runner.stdout.read()
    except (OSError, AttributeError, ValueError):
        return "(no output)"
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\x1b\[K", "", text).strip()
    return text[-MESSAGE_LIMIT:] or "(no output)"


COVERED_TASK = "kostyor_dsl.drivers.ansible.covered"


@shared_task(name=COVERED_TASK)
def covered_by_upgrade(kind: str, action: str, where: str) -> dict:
    """A project-level action the deployment tool performs inside its upgrade command."""
    return done_elsewhere(where, action=action, kind=kind)


class AnsibleDriver(Driver):
    name = "ansible"
    PARAMETERS: ClassVar[Mapping[str, Parameter]] = {
        "inventory": Parameter(str, required=True, help="the Ansible inventory (file or folder)"),
        "playbook": Parameter(
            str, default="", help="playbook for upgrade steps, and for kinds without their own"
        ),
        "pre_upgrade_playbook": Parameter(str, default="", help="playbook for pre-upgrade steps"),
        "post_upgrade_playbook": Parameter(str, default="", help="playbook for post-upgrade steps"),
        "action_playbook": Parameter(str, default="", help="playbook for hook actions"),
        "timeout": Parameter(float, default=3600.0, help="seconds a whole step may take"),
        "forks": Parameter(int, default=0, help="Ansible forks (0: Ansible's default)"),
        "workdir": Parameter(
            str, default="", help="folder for ansible-runner's files (default: state folder)"
        ),
        **OPENSTACK_PARAMETERS,
    }
    PATH_PARAMETERS: ClassVar[tuple[str, ...]] = ("inventory", *KIND_PLAYBOOKS.values())

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        if importlib.util.find_spec("ansible_runner") is None:
            raise DriverError(
                f"driver {self.name!r} needs ansible-runner: pip install 'kostyor-dsl[ansible]'"
            )
        for key in self.PATH_PARAMETERS:
            value = self.parameters.get(key)
            if not value:
                continue
            path = Path(value).expanduser()
            if not path.exists():
                raise ParameterError(
                    f"driver {self.name!r}: parameter {key!r}: no such file or folder {value}"
                )
            # Absolute, so a worker started in another folder finds the same file.
            self.parameters[key] = str(path.resolve())
        if self.parameters["timeout"] <= 0:
            raise ParameterError(f"driver {self.name!r}: parameter 'timeout' must be positive")
        if self.parameters["forks"] < 0:
            raise ParameterError(f"driver {self.name!r}: parameter 'forks' must be 0 or more")
        self.openstack = OpenStackActions(self.name, self.parameters)

    def playbook_for(self, kind: str) -> str:
        return self.parameters.get(KIND_PLAYBOOKS[kind]) or self.parameters.get("playbook") or ""

    def unsupported(self, kind: str, name: str | None) -> str | None:
        if kind not in KIND_PLAYBOOKS:
            return None
        if kind == "hook" and name and self.openstack.offers(name):
            return None
        if self.playbook_for(kind):
            return None
        parameter = KIND_PLAYBOOKS[kind]
        hint = (self.openstack.why_not(name or "") if kind == "hook" else "") or (
            f"give -p {parameter}=FILE"
            + (" (or -p playbook=FILE)" if parameter != "playbook" else "")
        )
        what = f"{kind} steps" if kind == "upgrade" else f"{kind} action {name!r}"
        return f"driver {self.name!r} has no playbook for {what}: {hint}"

    def _run(self, kind: str, name: str, hosts: list[str], parameters: Mapping[str, Any]):
        playbook = self.playbook_for(kind)
        if not playbook:
            raise StepFailed(self.unsupported(kind, name) or f"no playbook for {kind}")
        context = current_step()
        request = {
            "playbook": playbook,
            "inventory": self.parameters["inventory"],
            "limit": limit_for(context.step if context else None, hosts),
            "extravars": step_variables(kind, name, hosts, parameters),
            "timeout": step_timeout(parameters, self.parameters["timeout"]),
            "forks": self.parameters["forks"],
            "workdir": self.parameters["workdir"],
        }
        return run_ansible.si(request)

    def pre_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._run("pre-upgrade", action, [], parameters)

    def post_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._run("post-upgrade", action, [], parameters)

    def start(self, service: str, hosts: list[str]):
        return self._run("upgrade", service, list(hosts), {})

    def action(self, name: str, host: str | None, parameters: Mapping[str, Any]):
        if self.openstack.offers(name):
            timeout = step_timeout(parameters, self.parameters["timeout"])
            return self.openstack.signature(name, host, parameters, timeout)
        return self._run("hook", name, [host] if host else [], parameters)


class DeploymentToolDriver(AnsibleDriver):
    """A driver that runs a deployment tool's own command (which runs ansible-playbook)
    through ansible-runner: `command_for` says which command a step needs.

    A tool's project command upgrades every service of the project on the hosts it
    is limited to, so it runs once per project and hosts in a run: the plan's later
    steps for another service of that project on those hosts say so and do nothing.
    """

    TOOL: ClassVar[str] = ""
    # Pre/post-upgrade and hook actions the tool has a command for: name -> argv after
    # the tool, with {project} for the action's `project` parameter.
    ACTIONS: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # Actions the tool runs itself inside its project command, named `VERB` or
    # `PROJECT-VERB` (`db-contract`, `keystone-db-contract`); INSIDE says where,
    # with {project}.
    INSIDE_UPGRADE: ClassVar[tuple[str, ...]] = (
        "db-expand",
        "db-sync",
        "db-migrate",
        "db-contract",
        "online-data-migrations",
        "status-upgrade-check",
        "reload-services",
    )
    INSIDE: ClassVar[str] = ""
    # Actions named like INSIDE_UPGRADE ones that the tool does NOT run itself:
    # action -> why not (its role's line).  Never reported done elsewhere.
    NOT_INSIDE: ClassVar[Mapping[str, str]] = {}
    # The plan's project names the tool knows by another name.
    PROJECTS: ClassVar[Mapping[str, str]] = {}
    PARAMETERS: ClassVar[Mapping[str, Parameter]] = {
        key: value
        for key, value in AnsibleDriver.PARAMETERS.items()
        if key not in ("playbook", "pre_upgrade_playbook", "post_upgrade_playbook")
    }
    PATH_PARAMETERS: ClassVar[tuple[str, ...]] = ("inventory", "action_playbook")

    def playbook_for(self, kind: str) -> str:
        # The operator's playbook runs the hooks and pre/post-upgrade actions the tool
        # has no command for; the tool's own command always upgrades.
        return self.parameters.get("action_playbook", "") if kind != "upgrade" else ""

    def unsupported(self, kind: str, name: str | None) -> str | None:
        if kind not in KIND_PLAYBOOKS:
            # A kind this driver was not written for (a later plan format's): refused
            # by name, never run as something else.
            return f"{self.TOOL}: no command for {kind} steps"
        if kind == "upgrade":
            return None
        if name in self.ACTIONS:
            return None
        if kind == "hook" and name and self.openstack.offers(name):
            return None
        if self.playbook_for(kind):
            return None
        have = ", ".join(sorted(self.ACTIONS)) or "none"
        what = f"{self.TOOL} has no command for {kind} action {name!r}"
        if self.inside_upgrade(name or ""):
            return None
        if name in self.NOT_INSIDE:
            what += f" and does not run it inside its upgrade ({self.NOT_INSIDE[name]})"
        hint = self.openstack.why_not(name or "") if kind == "hook" else ""
        if not hint:
            hint = "give -p action_playbook=FILE to run your own playbook for it"
        return f"{what} (its actions: {have}); {hint}"

    def inside_upgrade(self, action: str) -> str:
        """Where the tool does this action itself, or '' when it does not."""
        if action in self.NOT_INSIDE:
            return ""
        for verb in self.INSIDE_UPGRADE:
            if action == verb or action.endswith("-" + verb):
                project = action[: -len(verb) - 1] or "PROJECT"
                # nova-api-db-sync is nova's: the API database is the project's too.
                project = project.split("-")[0] if project != "PROJECT" else project
                return self.INSIDE.format(project=project)
        return ""

    def project_command(self, project: str, limit: list[str]) -> list[str]:
        raise NotImplementedError

    def action_command(self, action: str, parameters: Mapping[str, Any]) -> list[str]:
        project = str(parameters.get("project") or "")
        values = {**self.template_values(), "project": self.PROJECTS.get(project, project)}
        return [self.TOOL, *fill(self.ACTIONS[action], values)]

    def template_values(self) -> dict[str, str]:
        return {"inventory": self.parameters["inventory"]}

    def _tool(self, command: list[str], timeout: float, once: str = "", limit=()):
        request = {
            "command": command,
            "label": " ".join(Path(word).name for word in command[:2]),
            "limit": list(limit),
            "timeout": timeout,
            "workdir": self.parameters["workdir"],
            "once": once,
        }
        return run_ansible.si(request)

    def project_of(self, step: Mapping[str, Any]) -> str:
        """The tool's name of the project a plan step upgrades."""
        project = str(step.get("project") or "") or str(step.get("service") or "").split("-")[0]
        return self.PROJECTS.get(project, project)

    def scope(self, step: Mapping[str, Any]) -> str:
        """What one project command covers for this step: its hosts, or every host
        of the project ('*') for a tool that is not limited to hosts."""
        return ",".join(sorted(self.limit(step, list(step.get("hosts") or ())))) or "*"

    def plan_problems(self, plan: Mapping[str, Any]) -> list[str]:
        """The upgrade steps whose order the tool's project command cannot keep.

        The command upgrades every service of a project on what it covers at once,
        so the plan's steps for one project and scope must follow each other: the
        first runs the command, the others are done elsewhere.  A plan that puts
        another project's step between them (or runs them in parallel lanes of a
        batch, for a command that covers every host) asks for an order the tool
        would not keep: refused here rather than silently widened.
        """
        upgrades = [step for step in plan.get("steps", ()) if step.get("kind") == "upgrade"]
        groups: dict[tuple[str, str], list[int]] = {}
        for position, step in enumerate(upgrades):
            groups.setdefault((self.project_of(step), self.scope(step)), []).append(position)
        problems = []
        for (project, scope), positions in groups.items():
            first, last = upgrades[positions[0]], upgrades[positions[-1]]
            command = " ".join(self.project_command(project, [] if scope == "*" else ["HOSTS"]))
            gap = next(
                (i for i, (p, q) in enumerate(itertools.pairwise(positions)) if q != p + 1),
                None,
            )
            if gap is not None:
                before, after = upgrades[positions[gap]], upgrades[positions[gap + 1]]
                between = upgrades[positions[gap] + 1]
                where = "of every host" if scope == "*" else f"of {scope}"
                problems.append(
                    f"step {first['id']!r}: `{command}` upgrades every {project} service "
                    f"{where} at once, but the plan upgrades them apart ({between['id']!r} "
                    f"comes between {before['id']!r} and {after['id']!r}): " + self.split_hint()
                )
            elif (
                scope == "*"
                and len(positions) > 1
                and any("batch" in upgrades[p] for p in positions)
            ):
                problems.append(
                    f"step {first['id']!r}: `{command}` upgrades {project} on every host at once, "
                    f"but the plan upgrades it host by host in rollout batches (up to "
                    f"{last['id']!r}): " + self.split_hint()
                )
        return problems

    def split_hint(self) -> str:
        return "use a strategy that upgrades a project's services together"

    def start(self, service: str, hosts: list[str]):
        context = current_step()
        step = context.step if context else {"service": service, "hosts": list(hosts)}
        project = self.project_of({"service": service, **step})
        limit = self.limit(step, list(hosts))
        once = f"{project}@{','.join(sorted(limit)) or '*'}"
        return self._tool(
            self.project_command(project, limit), self.parameters["timeout"], once, limit
        )

    def limit(self, step: Mapping[str, Any], hosts: list[str]) -> list[str]:
        return limit_for(step, hosts)

    def _tool_action(self, kind: str, action: str, parameters: Mapping[str, Any]):
        inside = self.inside_upgrade(action)
        if action not in self.ACTIONS and inside:
            return covered_by_upgrade.si(kind, action, inside)
        if action not in self.ACTIONS and self.playbook_for(kind):
            return self._run(kind, action, [], parameters)
        if action not in self.ACTIONS:
            raise StepFailed(self.unsupported(kind, action) or f"no command for {action!r}")
        timeout = step_timeout(parameters, self.parameters["timeout"])
        return self._tool(self.action_command(action, parameters), timeout)

    def pre_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._tool_action("pre-upgrade", action, parameters)

    def post_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._tool_action("post-upgrade", action, parameters)

    def action(self, name: str, host: str | None, parameters: Mapping[str, Any]):
        if self.openstack.offers(name):
            timeout = step_timeout(parameters, self.parameters["timeout"])
            return self.openstack.signature(name, host, parameters, timeout)
        if name in self.ACTIONS or (self.inside_upgrade(name) and not self.playbook_for("hook")):
            return self._tool_action("hook", name, parameters)
        return self._run("hook", name, [host] if host else [], parameters)
