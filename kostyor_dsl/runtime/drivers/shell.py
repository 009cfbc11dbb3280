"""`shell`: runs a command template once for each host of a step.

`-p command='ssh -- {host} sudo systemctl restart {service}'` upgrades a service;
`pre_upgrade_command` and `post_upgrade_command` (placeholder `{action}`)
and `action_command` (`{action}`, `{host}`: hooks, once per host) serve the
other step kinds.  A step kind whose template is not given is unsupported:
`kostyorc run` refuses the plan before submitting it (`unsupported`), and
the step fails if it runs anyway, never succeeding with nothing done.
Every placeholder is replaced by its `shlex.quote`d value, so a host named
`a; rm -rf /` stays one argument (and the runtime lets only valid host names
reach a driver, so none starts with `-`).  A non-zero exit fails the step;
`timeout` bounds the whole step; each host's output (decoded as UTF-8, an
invalid byte shown as U+FFFD) is kept in the step's result.

`-p commands=systemd-venv` selects a command table (package data, see
`command_table`): every action of the shipped `openstack` spec and the
restart of each upgraded service come from it, parameterised by `venv`,
`config_dir`, `restart_command`, `remote`, `command_host` and `projects`;
an explicit template (`command`, `pre_upgrade_command`, ...) still wins.
With `-p cloud=NAME` the OpenStack actions (disable-scheduling, evacuate,
wait-empty, enable-scheduling, check-services) run through openstacksdk.
"""

from __future__ import annotations

import shlex
import string
import subprocess
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from celery import shared_task

from kostyor_dsl.runtime.drivers import MAX_TIMEOUT, Driver, Parameter
from kostyor_dsl.runtime.drivers import command_table as tables
from kostyor_dsl.runtime.drivers.openstack_actions import PARAMETERS as OPENSTACK_PARAMETERS
from kostyor_dsl.runtime.drivers.openstack_actions import OpenStackActions
from kostyor_dsl.runtime.errors import ParameterError, StepFailed, UnsupportedAction

TASK = "kostyor_dsl.drivers.shell.run"
PLACEHOLDERS = {
    "command": {"host", "service", "action"},
    "pre_upgrade_command": {"action"},
    "post_upgrade_command": {"action"},
    "action_command": {"action", "host"},
}
OUTPUT_LIMIT = 64 * 1024


def check_template(parameter: str, template: str) -> None:
    allowed = PLACEHOLDERS[parameter]
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ParameterError(
            f"driver 'shell': parameter {parameter!r} is not a valid template: {exc} "
            "(write a literal brace as {{ or }})"
        ) from None
    for _, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in allowed or spec or conversion:
            raise ParameterError(
                f"driver 'shell': parameter {parameter!r} has placeholder {{{field}}}; "
                f"allowed: {', '.join('{' + name + '}' for name in sorted(allowed))}"
            )


def render(template: str, **values: str) -> str:
    """The command with every placeholder replaced by its shell-quoted value."""
    return template.format_map({name: shlex.quote(str(value)) for name, value in values.items()})


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def step_timeout(parameters: Mapping[str, Any], default: float) -> float:
    """An action's own `timeout` (the spec's `evacuate { timeout 30m }`: a number of
    seconds or a duration) wins over the driver's per-step timeout."""
    value = parameters.get("timeout")
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        unit = next((u for u in ("ms", "s", "m", "h") if text.endswith(u)), "s")
        number = text[: -len(unit)] if text.endswith(unit) else text
        try:
            seconds = float(number) * _UNITS[unit]
        except ValueError:
            raise ParameterError(
                f"action parameter 'timeout' must be seconds or a duration like 30m, not {value!r}"
            ) from None
    if not 0 < seconds <= MAX_TIMEOUT:  # NaN compares false
        raise ParameterError(
            f"action parameter 'timeout' must be a positive duration of at most "
            f"{MAX_TIMEOUT:.0f} s (24.8 days), not {value!r}"
        )
    return seconds


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_LIMIT else "...\n" + text[-OUTPUT_LIMIT:]


@shared_task(name=TASK)
def run_commands(commands: list[list[str]], timeout: float) -> dict:
    if not commands:
        # A step that did nothing must never read as done.
        raise StepFailed("nothing to run: the driver made no command for this step")
    deadline = time.monotonic() + timeout
    results = []
    for host, command in commands:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StepFailed(f"timed out after {timeout:g} s before running on {host}")
        try:
            done = subprocess.run(
                command,
                shell=True,
                capture_output=True,
                # A command's output need not be UTF-8; a step that succeeded
                # must not fail (and fail again on every retry) on decoding.
                encoding="utf-8",
                errors="replace",
                timeout=remaining,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            output = exc.stdout or ""
            if isinstance(output, bytes):
                output = output.decode(errors="replace")
            raise StepFailed(
                f"timed out after {timeout:g} s on {host}: {command}\n{_tail(output)}"
            ) from None
        output = _tail(done.stdout + done.stderr)
        results.append(
            {"host": host, "command": command, "exit_code": done.returncode, "output": output}
        )
        if done.returncode != 0:
            raise StepFailed(f"exit code {done.returncode} on {host}: {command}\n{output}")
    return {"hosts": results}


class ShellDriver(Driver):
    name = "shell"
    PARAMETERS: ClassVar[Mapping[str, Parameter]] = {
        "command": Parameter(
            str, default="", help="command template for upgrade steps ({host}, {service})"
        ),
        "commands": Parameter(
            str,
            default="",
            help="a command table: a shipped one (systemd-venv) or a YAML file of that shape",
        ),
        "venv": Parameter(
            str,
            default="",
            help="table: the new release's virtualenv ({project}, {release}); empty: /usr/bin",
        ),
        "config_dir": Parameter(
            str, default="/etc/{project}", help="table: a project's config folder ({project})"
        ),
        "restart_command": Parameter(
            str,
            default="systemctl restart {service}",
            help="table: restarts a service on the new release ({service}, {host}, {project}, {venv})",
        ),
        "remote": Parameter(
            str, default="", help="table: prefix that runs a command on {host} (ssh -- {host})"
        ),
        "command_host": Parameter(
            str, default="localhost", help="table: the host where the projects' commands run"
        ),
        "projects": Parameter(
            str,
            default="",
            help="table: the projects deployed (comma-separated); another's actions do nothing, "
            "saying so",
        ),
        "release": Parameter(str, default="", help="table: the target release, for {release}"),
        "backup_command": Parameter(str, default="", help="table: backup-databases' command"),
        **OPENSTACK_PARAMETERS,
        "pre_upgrade_command": Parameter(
            str, default="", help="command template for pre-upgrade steps ({action})"
        ),
        "post_upgrade_command": Parameter(
            str, default="", help="command template for post-upgrade steps ({action})"
        ),
        "action_command": Parameter(
            str, default="", help="command template for hook actions ({action}, {host})"
        ),
        "timeout": Parameter(
            float,
            default=600.0,
            greater_than=0,
            maximum=MAX_TIMEOUT,
            help="seconds a whole step may take (at most 2147483, 24.8 days)",
        ),
    }
    # The template each step kind needs (upgrade's `command` is required).
    TEMPLATES: ClassVar[Mapping[str, str]] = {
        "pre-upgrade": "pre_upgrade_command",
        "post-upgrade": "post_upgrade_command",
        "hook": "action_command",
    }

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        for name in PLACEHOLDERS:
            if self.parameters.get(name):
                check_template(name, self.parameters[name])
        self.table = None
        if self.parameters.get("commands"):
            self.table = tables.load_table(self.parameters["commands"])
            tables.check_parameters(self.parameters)
        self.openstack = OpenStackActions(self.name, self.parameters)

    def unsupported(self, kind: str, name: str | None) -> str | None:
        if kind == "upgrade":
            if self.parameters.get("command"):
                return None
            if self.table is not None:
                return tables.why_not_service(self.table, name or "")
            return "driver 'shell' has no command, so it cannot run upgrade steps (pass -p command='...' or -p commands=TABLE)"
        template = self.TEMPLATES.get(kind)
        if template is None:
            return super().unsupported(kind, name)
        if self.parameters.get(template):
            return None
        if kind == "hook" and name and self.openstack.offers(name):
            return None
        if kind in ("pre-upgrade", "post-upgrade") and self.table is not None:
            return tables.why_not_action(self.table, name or "", self.parameters)
        what = f"action {name!r}" if name else f"{kind} steps"
        hint = (self.openstack.why_not(name or "") if kind == "hook" else "") or (
            f"pass -p {template}='...'" + (" or -p commands=TABLE" if kind != "hook" else "")
        )
        return f"driver 'shell' has no {template}, so it cannot run {what} ({hint})"

    def _template(self, kind: str, name: str) -> str:
        template = self.parameters.get(self.TEMPLATES[kind])
        if not template:
            raise UnsupportedAction(self.unsupported(kind, name) or kind)
        return template

    def _signature(
        self, commands: list[tuple[str, str]], parameters: Mapping[str, Any] | None = None
    ):
        timeout = step_timeout(parameters or {}, self.parameters["timeout"])
        return run_commands.si([list(pair) for pair in commands], timeout)

    def _phase(self, kind: str, action: str, parameters: Mapping[str, Any]):
        if not self.parameters.get(self.TEMPLATES[kind]) and self.table is not None:
            why = tables.why_not_action(self.table, action, self.parameters)
            if why:
                raise UnsupportedAction(why)
            return self._signature(
                tables.action_commands(self.table, action, self.parameters), parameters
            )
        template = self._template(kind, action)
        return self._signature([("-", render(template, action=action))], parameters)

    def pre_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._phase("pre-upgrade", action, parameters)

    def post_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._phase("post-upgrade", action, parameters)

    def start(self, service: str, hosts: list[str]):
        template = self.parameters.get("command")
        if not template and self.table is not None:
            why = tables.why_not_service(self.table, service)
            if why:
                raise UnsupportedAction(why)
            return self._signature(
                [
                    (host, tables.restart_command(self.table, service, host, self.parameters))
                    for host in hosts
                ]
            )
        if not template:
            raise UnsupportedAction(self.unsupported("upgrade", service) or "upgrade")
        return self._signature(
            [(host, render(template, host=host, service=service, action="start")) for host in hosts]
        )

    def action(self, name: str, host: str | None, parameters: Mapping[str, Any]):
        if not self.parameters.get("action_command") and self.openstack.offers(name):
            timeout = step_timeout(parameters, self.parameters["timeout"])
            return self.openstack.signature(name, host, parameters, timeout)
        template = self._template("hook", name)
        return self._signature(
            [(host or "-", render(template, action=name, host=host or ""))], parameters
        )
