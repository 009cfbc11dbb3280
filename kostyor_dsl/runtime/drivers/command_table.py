"""The `shell` driver's command tables: which command runs which action of the plan.

A table is package data (`commands/NAME.yaml`, read by `command_tables.load_table`
like the other tools' tables; selected with `-p commands=NAME`)
or a file of the same shape (`-p commands=/path/table.yaml`).  It maps the
actions of the shipped `openstack` spec to command lines, and the services of
the order to their projects (for the restart of an upgrade step).  Building a
command is a pure function of the table and the driver's parameters
(`action_commands`, `restart_commands`), tested exactly; the driver runs
what they return.
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from kostyor_dsl.runtime.drivers import command_tables
from kostyor_dsl.runtime.errors import ParameterError

TABLE_FIELDS = {"bin", "config", "backup_command"}
PATH_FIELDS = {"project", "release"}
RESTART_FIELDS = {"service", "host", "project", "venv"}


@dataclass(frozen=True)
class ActionEntry:
    name: str
    project: str
    run: tuple[str, ...]
    restart: tuple[str, ...]
    ok_exit: tuple[int, ...]
    needs: tuple[str, ...]
    guide: str


@dataclass(frozen=True)
class CommandTable:
    name: str
    services: Mapping[str, str]
    actions: Mapping[str, ActionEntry]


# The shipped tables of this shape (commands/ also holds the tool drivers' own).
SHELL_TABLES = ("systemd-venv",)


def shipped_tables() -> list[str]:
    return list(SHELL_TABLES)


@cache
def load_table(name: str) -> CommandTable:
    """The shipped table `name`, or the table in the file `name` (a path)."""
    if "/" in name or name.endswith((".yaml", ".yml")):
        try:
            text = Path(name).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ParameterError(f"cannot read command table {name}: {exc.strerror}") from None
    else:
        if name not in shipped_tables():
            raise ParameterError(
                f"no command table {name!r} (shipped: {', '.join(shipped_tables())}; "
                "or give a file path)"
            )
        return parse_table(name, command_tables.load_table(name))
    return parse_table(name, yaml.safe_load(text))


def parse_table(name: str, data: Any) -> CommandTable:
    def bad(why: str) -> ParameterError:
        return ParameterError(f"command table {name}: {why}")

    if not isinstance(data, dict) or not isinstance(data.get("actions"), dict):
        raise bad("must be a mapping with `actions:` (and `services:`)")
    services = data.get("services") or {}
    if not isinstance(services, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in services.items()
    ):
        raise bad("`services:` must map service names to project names")
    actions = {}
    for action, entry in data["actions"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("project"), str):
            raise bad(f"action {action!r} needs a `project:`")
        run = tuple(entry.get("run") or ())
        restart = tuple(entry.get("restart") or ())
        if not run and not restart:
            raise bad(f"action {action!r} has neither `run:` nor `restart:`")
        for command in run:
            _check(f"command table {name}: action {action!r}", command, TABLE_FIELDS)
        actions[action] = ActionEntry(
            name=action,
            project=entry["project"],
            run=run,
            restart=restart,
            ok_exit=tuple(int(code) for code in entry.get("ok_exit") or (0,)),
            needs=tuple(entry.get("needs") or ()),
            guide=str(entry.get("guide") or ""),
        )
    return CommandTable(str(data.get("name") or name), dict(services), actions)


def _check(where: str, template: str, allowed: set[str]) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ParameterError(f"{where}: not a valid template: {exc}") from None
    for field in fields:
        if field not in allowed:
            raise ParameterError(
                f"{where}: placeholder {{{field}}}; allowed: "
                + ", ".join("{" + f + "}" for f in sorted(allowed))
            )


def check_parameters(params: Mapping[str, Any]) -> None:
    """Refuse a bad template among the table's parameters (at `run` time)."""
    for key, allowed in (
        ("venv", PATH_FIELDS),
        ("config_dir", PATH_FIELDS),
        ("restart_command", RESTART_FIELDS),
        ("remote", {"host"}),
    ):
        if params.get(key):
            _check(f"driver 'shell': parameter {key!r}", params[key], allowed)


def _q(value: str) -> str:
    return shlex.quote(str(value))


def venv_for(project: str, params: Mapping[str, Any]) -> str:
    template = params.get("venv") or ""
    return template.format(project=project, release=params.get("release") or "")


def _fields(project: str, params: Mapping[str, Any]) -> dict[str, str]:
    venv = venv_for(project, params)
    bin_dir = f"{venv.rstrip('/')}/bin" if venv else "/usr/bin"
    config_dir = (params.get("config_dir") or "/etc/{project}").format(
        project=project, release=params.get("release") or ""
    )
    return {
        "bin": _q(bin_dir),
        "config": f"--config-dir {_q(config_dir)}",
        "backup_command": params.get("backup_command") or "",
    }


def _on(host: str, command: str, params: Mapping[str, Any]) -> str:
    remote = params.get("remote") or ""
    if not remote:
        return command
    return f"{remote.format(host=_q(host))} {_q(command)}"


def _with_ok_exit(command: str, ok_exit: tuple[int, ...]) -> str:
    if ok_exit == (0,):
        return command
    # A status check's warning (exit 1) is a pass; any other code fails the step.
    codes = " ".join(str(code) for code in ok_exit)
    return f'{command}; rc=$?; case " {codes} " in *" $rc "*) exit 0;; esac; exit $rc'


def deployed(project: str, params: Mapping[str, Any]) -> bool:
    listed = [p.strip() for p in str(params.get("projects") or "").split(",") if p.strip()]
    return not listed or project in listed


def why_not_action(table: CommandTable, action: str, params: Mapping[str, Any]) -> str | None:
    entry = table.actions.get(action)
    if entry is None:
        return f"command table {table.name!r} has no command for action {action!r}"
    missing = [need for need in entry.needs if not params.get(need)]
    if missing and deployed(entry.project, params):
        return f"command table {table.name!r}: action {action!r} needs " + ", ".join(
            f"-p {need}=..." for need in missing
        )
    for service in entry.restart:
        if service not in table.services:
            return f"command table {table.name!r}: {action!r} restarts unknown service {service!r}"
    return None


def why_not_service(table: CommandTable, service: str) -> str | None:
    if service in table.services:
        return None
    return (
        f"command table {table.name!r} does not know how service {service!r} upgrades "
        "(it is not a service of a project the table covers)"
    )


def restart_command(table: CommandTable, service: str, host: str, params: Mapping[str, Any]) -> str:
    """The command that restarts `service` on `host` on the new release."""
    project = table.services[service]
    template = params.get("restart_command") or "systemctl restart {service}"
    command = template.format(
        service=_q(service),
        host=_q(host),
        project=_q(project),
        venv=_q(venv_for(project, params)),
    )
    return _on(host, command, params)


def action_commands(
    table: CommandTable, action: str, params: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(host, command) pairs that carry out `action`, in order."""
    entry = table.actions[action]
    host = params.get("command_host") or "localhost"
    if not deployed(entry.project, params):
        note = (
            f"{entry.project} is not deployed here (-p projects={params.get('projects')}): "
            f"{action} has nothing to do"
        )
        return [(host, f"echo {_q(note)}")]
    fields = _fields(entry.project, params)
    commands = [
        (host, _on(host, _with_ok_exit(command.format(**fields), entry.ok_exit), params))
        for command in entry.run
    ]
    commands += [(host, restart_command(table, s, host, params)) for s in entry.restart]
    return commands
