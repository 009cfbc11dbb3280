"""`juju`: upgrades a Juju-deployed cloud the way charmed-openstack-upgrader does.

An upgrade step names the units of its host (`targets`, as `kostyorc import
juju` keeps them).  For each unit's application, once per run: the charm's
`action-managed-upgrade=true` (for charms upgraded unit by unit), a `juju
refresh --channel` to the target channel, the new package source
(`openstack-origin`/`source` = `cloud:SERIES-CODENAME`); then, for a charm with
the actions, the unit itself: `pause`, `openstack-upgrade`, `resume`, and a
wait until it is active again.  A charm without them upgrades every unit at
once when its channel or source changes: the application's later steps are
done elsewhere.  `disable-scheduling`/`enable-scheduling` hooks run the
nova-compute charm's `disable`/`enable` actions on the host's unit; with `-p
cloud=NAME` the OpenStack actions (`evacuate`, ...) run through the API.

The commands are package data (`commands/juju.yaml`, with the lines of
charmed-openstack-upgrader they follow); `commands_for_unit` builds them, a pure
function of what `juju status` and `juju config` say now, so a step run again
does only what is left.

Long because reading the model, building the commands and saying truly why a
unit needed nothing (upgraded earlier in the run, or already at the target) are
one contract with the stand-in's tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from celery import shared_task

from kostyor_dsl.runtime.drivers import Driver, Parameter, done_elsewhere
from kostyor_dsl.runtime.drivers.ansible import covered_by_upgrade
from kostyor_dsl.runtime.drivers.command_tables import fill, load_table
from kostyor_dsl.runtime.drivers.openstack_actions import PARAMETERS as OPENSTACK_PARAMETERS
from kostyor_dsl.runtime.drivers.openstack_actions import OpenStackActions
from kostyor_dsl.runtime.errors import ParameterError, StepFailed
from kostyor_dsl.runtime.step_context import current_step

TABLE = load_table("juju")
# The charms run these themselves when a unit upgrades (charmed-openstack-upgrader
# has no step for them): `keystone-db-expand`, `nova-status-upgrade-check`, ...
INSIDE_UPGRADE = (
    "db-expand",
    "db-sync",
    "db-migrate",
    "db-contract",
    "online-data-migrations",
    "status-upgrade-check",
    "reload-services",
)


def inside_upgrade(action: str) -> bool:
    return any(action == verb or action.endswith("-" + verb) for verb in INSIDE_UPGRADE)


TASK = "kostyor_dsl.drivers.juju.run"
OUTPUT_LIMIT = 4000


@dataclass(frozen=True)
class Target:
    """What the run upgrades to."""

    release: str  # 2024.1
    series: str  # jammy
    channel: str  # 2024.1/stable, for charms on the OpenStack track
    channels: Mapping[str, str]  # application -> channel, for charms with their own
    timeout: int

    @property
    def origin(self) -> str:
        return f"cloud:{self.series}-{TABLE['codenames'][self.release]}"


@dataclass(frozen=True)
class AppState:
    """An application as `juju status` and `juju config` show it now."""

    name: str
    charm: str
    channel: str
    origin: str
    action_managed: bool


def parse_channels(text: str) -> dict[str, str]:
    """`app=channel,app2=channel` -> a mapping; ParameterError naming what is wrong."""
    channels: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        app, equals, channel = part.partition("=")
        if not equals or not app or not channel:
            raise ParameterError(
                f"driver 'juju': parameter 'channels': {part!r} is not APPLICATION=CHANNEL"
            )
        channels[app] = channel
    return channels


def application_commands(app: AppState, target: Target) -> list[list[str]]:
    """What the application needs before its units upgrade (nothing when it has it)."""
    charm = TABLE["charms"][app.charm]
    values = {"app": app.name, "timeout": str(target.timeout)}
    commands = []
    if charm["actions"] and not app.action_managed:
        commands.append(fill(TABLE["application"]["action_managed"], values))
    channel = target.channel if charm["channel"] == "openstack" else target.channels.get(app.name)
    if channel and channel != app.channel:
        commands.append(fill(TABLE["application"]["refresh"], {**values, "channel": channel}))
        commands.append(fill(TABLE["application"]["wait"], values))
    if charm["origin"] != "none" and app.origin != target.origin:
        commands.append(
            fill(
                TABLE["application"]["origin"],
                {**values, "origin_key": charm["origin"], "origin": target.origin},
            )
        )
        if not charm["actions"]:
            commands.append(fill(TABLE["application"]["wait"], values))
    return commands


def unit_commands(unit: str, target: Target) -> list[list[str]]:
    """A unit of a charm upgraded unit by unit: pause, upgrade, resume, wait."""
    values = {"unit": unit, "timeout": str(target.timeout)}
    return [fill(TABLE["unit"][key], values) for key in ("pause", "upgrade", "resume", "wait")]


def with_model(command: list[str], model: str) -> list[str]:
    return [command[0], "-m", model, *command[1:]] if model else command


class JujuProblem(StepFailed):
    pass


def _juju(executable: str, argv: list[str], timeout: float) -> str:
    try:
        done = subprocess.run(
            [executable, *argv], capture_output=True, text=True, errors="replace", timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise StepFailed(f"juju {' '.join(argv)} timed out after {timeout:g} s") from None
    except OSError as exc:
        raise StepFailed(f"cannot run {executable}: {exc.strerror}") from None
    if done.returncode:
        output = (done.stderr or done.stdout).strip()[-OUTPUT_LIMIT:]
        raise StepFailed(f"juju {' '.join(argv)} failed (exit {done.returncode}): {output}")
    return done.stdout


def _app_state(executable: str, model: str, status: dict, app: str, timeout: float) -> AppState:
    entry = (status.get("applications") or {}).get(app)
    if not isinstance(entry, dict):
        raise StepFailed(f"juju status has no application {app!r}")
    # `ch:amd64/jammy/keystone-643`, `cs:keystone-300`, `keystone` -> `keystone`.
    charm = str(entry.get("charm-name") or entry.get("charm") or app)
    charm = re.sub(r"-\d+$", "", charm.split(":", 1)[-1].rsplit("/", 1)[-1])
    if charm not in TABLE["charms"]:
        known = ", ".join(sorted(TABLE["charms"]))
        raise StepFailed(
            f"application {app!r}: the juju driver does not know how charm {charm!r} upgrades "
            f"(it knows: {known})"
        )
    key = TABLE["charms"][charm]["origin"]
    origin = ""
    managed = False
    if key != "none":
        origin = _juju(executable, with_model(["config", app, key], model), timeout).strip()
    if TABLE["charms"][charm]["actions"]:
        value = _juju(
            executable, with_model(["config", app, "action-managed-upgrade"], model), timeout
        )
        managed = value.strip().lower() == "true"
    return AppState(app, charm, str(entry.get("charm-channel") or ""), origin, managed)


def _marker(run_id: str, unit: str, kind: str = "done") -> Path:
    """Where this run notes the step that upgraded a unit (`done`) or changed an
    application (`apps`)."""
    from kostyor_dsl.runtime.settings import resolve_settings

    safe = unit.replace("/", "_")
    return resolve_settings().home / "juju" / run_id.replace("/", "_") / kind / safe


def already_at(state: AppState, target: Target) -> str:
    """What an application that needed nothing was already at, in words."""
    charm = TABLE["charms"][state.charm]
    parts = []
    if state.channel:
        parts.append(f"channel {state.channel}")
    if charm["origin"] != "none":
        parts.append(f"{charm['origin']} {state.origin}")
    if not parts:
        return f"nothing to change for {state.name} (no channel given for it with -p channels)"
    return f"{state.name} was already at {' and '.join(parts)} before the run"


def _elsewhere(run_id: str, unit: str, state: AppState, target: Target) -> str:
    """Why a unit that ran nothing is done, as is true: an earlier step of this run
    upgraded it, or changed its application, or it was at the target already."""
    unit_marker = _marker(run_id, unit)
    if unit_marker.exists():
        return f"juju upgraded {unit} in step {unit_marker.read_text().strip()} earlier in this run"
    app_marker = _marker(run_id, state.name, "apps")
    if app_marker.exists():
        return (
            f"juju upgraded {unit} with its application {state.name} in step "
            f"{app_marker.read_text().strip()} earlier in this run"
        )
    return f"{unit}: {already_at(state, target)}"


@shared_task(name=TASK)
def run_juju(request: dict) -> dict:
    """Upgrade the step's units (or run a unit action), as `commands_for_unit` says."""
    executable = request["juju"]
    model = request.get("model", "")
    target = Target(**request["target"])
    context = current_step()
    run_id = context.run_id if context else "adhoc"
    timeout = float(request["timeout"])
    status = json.loads(
        _juju(executable, with_model(["status", "--format", "json"], model), timeout)
    )
    ran: list[str] = []
    elsewhere: list[str] = []
    here = f"{context.unit_id if context else 'a step'}\n"
    for unit in request["units"]:
        app = unit.split("/", 1)[0]
        state = _app_state(executable, model, status, app, timeout)
        marker = _marker(run_id, unit)
        app_commands = application_commands(state, target)
        commands = list(app_commands)
        unit_by_unit = TABLE["charms"][state.charm]["actions"]
        if unit_by_unit and not marker.exists():
            commands += unit_commands(unit, target)
        if not commands:
            elsewhere.append(_elsewhere(run_id, unit, state, target))
            continue
        for command in commands:
            _juju(executable, with_model(command, model), timeout)
            ran.append("juju " + " ".join(with_model(command, model)))
        if app_commands:
            app_marker = _marker(run_id, app, "apps")
            app_marker.parent.mkdir(parents=True, exist_ok=True)
            if not app_marker.exists():
                app_marker.write_text(here)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(here)
    if not ran:
        return done_elsewhere("; ".join(elsewhere), units=list(request["units"]))
    return {"did": f"upgraded {', '.join(request['units'])}", "commands": ran}


ACTION_TASK = "kostyor_dsl.drivers.juju.action"


@shared_task(name=ACTION_TASK)
def run_unit_action(request: dict) -> dict:
    """A charm action on the host's nova-compute unit (disable, enable)."""
    executable = request["juju"]
    model = request.get("model", "")
    timeout = float(request["timeout"])
    status = json.loads(
        _juju(executable, with_model(["status", "--format", "json"], model), timeout)
    )
    machines = {
        machine_id
        for machine_id, machine in (status.get("machines") or {}).items()
        if request["host"] in (machine.get("hostname"), machine.get("display-name"))
    }
    units = [
        unit_name
        for app in (status.get("applications") or {}).values()
        if "nova-compute" in (app.get("charm-name"), app.get("charm"))
        for unit_name, unit in sorted((app.get("units") or {}).items())
        if str(unit.get("machine")) in machines
    ]
    if not units:
        raise StepFailed(f"{request['action']}: no nova-compute unit on host {request['host']!r}")
    ran = []
    for unit in units:
        command = fill(
            TABLE["actions"][request["action"]], {"unit": unit, "timeout": str(int(timeout))}
        )
        _juju(executable, with_model(command, model), timeout)
        ran.append("juju " + " ".join(with_model(command, model)))
    did = "disabled" if request["action"] == "disable-scheduling" else "enabled"
    result = {
        "did": f"{did} nova-compute on {request['host']} ({', '.join(units)})",
        "commands": ran,
    }
    if request["action"] == "disable-scheduling":
        enable = fill(TABLE["actions"]["enable-scheduling"], {"unit": units[0], "timeout": "600"})
        result["scheduling_disabled"] = True
        result["enable_with"] = "juju " + " ".join(with_model(enable, model))
    return result


class JujuDriver(Driver):
    name = "juju"
    PARAMETERS: ClassVar[Mapping[str, Parameter]] = {
        "release": Parameter(
            str, required=True, help="the OpenStack release to upgrade to, e.g. 2024.1"
        ),
        "series": Parameter(str, default="jammy", help="the Ubuntu series of the machines"),
        "channel": Parameter(str, default="", help="the charms' channel (default: RELEASE/stable)"),
        "channels": Parameter(
            str,
            default="",
            help="channels of charms off the OpenStack track: APP=CHANNEL,... (vault=1.8/stable)",
        ),
        "model": Parameter(str, default="", help="the Juju model (default: the current one)"),
        "juju": Parameter(str, default="juju", help="the juju executable"),
        "timeout": Parameter(float, default=3600.0, greater_than=0, help="seconds a step may take"),
        **OPENSTACK_PARAMETERS,
    }

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        release = self.parameters["release"]
        if release not in TABLE["codenames"]:
            known = ", ".join(TABLE["codenames"])
            raise ParameterError(
                f"driver 'juju': parameter 'release': no Ubuntu Cloud Archive for {release!r} "
                f"(known: {known})"
            )
        self.channels = parse_channels(self.parameters["channels"])
        found = shutil.which(self.parameters["juju"])
        self.executable = os.path.abspath(found) if found else self.parameters["juju"]
        self.openstack = OpenStackActions(self.name, self.parameters)

    def target(self) -> dict[str, Any]:
        release = self.parameters["release"]
        return {
            "release": release,
            "series": self.parameters["series"],
            "channel": self.parameters["channel"] or f"{release}/stable",
            "channels": dict(self.channels),
            "timeout": int(self.parameters["timeout"]),
        }

    def unsupported(self, kind: str, name: str | None) -> str | None:
        if kind == "upgrade":
            return None
        if kind == "hook" and name in TABLE["actions"]:
            return None
        if kind == "hook" and name and self.openstack.offers(name):
            return None
        if kind in ("pre-upgrade", "post-upgrade") and inside_upgrade(name or ""):
            return None
        hint = self.openstack.why_not(name or "") if kind == "hook" else ""
        if kind in ("pre-upgrade", "post-upgrade"):
            hint = "the charms run their own database migrations and checks when they upgrade"
        have = ", ".join(sorted(TABLE["actions"]))
        return f"juju has no command for {kind} {name!r} (its hook actions: {have})" + (
            f"; {hint}" if hint else ""
        )

    def _request(self, **extra) -> dict[str, Any]:
        return {
            "juju": self.executable,
            "model": self.parameters["model"],
            "timeout": self.parameters["timeout"],
            **extra,
        }

    def start(self, service: str, hosts: list[str]):
        context = current_step()
        step = context.step if context else {}
        units: list[str] = []
        for host in hosts:
            recorded = (step.get("targets") or {}).get(host) or []
            if isinstance(recorded, Mapping):
                recorded = recorded.get(service) or []
            units += [unit for unit in recorded if unit not in units]
        if not units:
            raise StepFailed(
                f"{service} on {', '.join(hosts)}: the plan step names no Juju unit "
                "(targets); compile the plan from a `kostyorc import juju` inventory"
            )
        return run_juju.si(self._request(units=units, target=self.target()))

    def _covered(self, kind: str, action: str):
        if not inside_upgrade(action):
            raise StepFailed(self.unsupported(kind, action) or f"no action {action!r}")
        return covered_by_upgrade.si(
            kind, action, "the charm runs it itself when its units upgrade"
        )

    def pre_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._covered("pre-upgrade", action)

    def post_upgrade(self, action: str, parameters: Mapping[str, Any]):
        return self._covered("post-upgrade", action)

    def action(self, name: str, host: str | None, parameters: Mapping[str, Any]):
        # The charm's own actions first, as charmed-openstack-upgrader runs them.
        if name in TABLE["actions"]:
            return run_unit_action.si(self._request(action=name, host=host))
        if self.openstack.offers(name):
            return self.openstack.signature(name, host, parameters, self.parameters["timeout"])
        raise StepFailed(self.unsupported("hook", name) or f"no action {name!r}")
