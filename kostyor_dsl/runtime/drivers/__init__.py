"""Upgrade drivers: what turns a plan step into Celery work.

A driver is a class found through the entry point group `kostyor_dsl.drivers`.
It declares its parameters (`PARAMETERS`), receives them validated, and turns
each kind of step into a Celery signature:

- `pre_upgrade(action, parameters)` for a `pre-upgrade` step;
- `post_upgrade(action, parameters)` for a `post-upgrade` step;
- `start(service, hosts)` for an `upgrade` step;
- `action(name, host, parameters)` for a hook step (`before`/`after` a host
  or a service: evacuate, disable scheduling...), once per host.

The runtime's step task runs the signature inside its guard (run state
checked, unit locked, completion recorded), so a driver's task never needs to
know about pause, cancel or redelivery.  See docs/drivers.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from kostyor_dsl.runtime.errors import DriverError, ParameterError, UnsupportedAction
from kostyor_dsl.runtime.records import DONE_ELSEWHERE

ENTRY_POINT_GROUP = "kostyor_dsl.drivers"
_STEP_METHODS = {
    "upgrade": "start",
    "pre-upgrade": "pre_upgrade",
    "post-upgrade": "post_upgrade",
    "hook": "action",
}


def done_elsewhere(where: str, **details: Any) -> dict[str, Any]:
    """The result of a step whose work the deployment tool does inside another step:
    the step ran nothing, and is recorded `done-elsewhere`, never `succeeded`.

    `where` says which step or command did it (`kolla-ansible upgrade -t keystone`
    runs it itself).  Return it from the driver's task instead of a result that
    reads as if the step ran."""
    return {"did": f"nothing here: {where}", DONE_ELSEWHERE: where, **details}


@dataclass(frozen=True)
class Parameter:
    """One driver parameter: its type (str, int, float or bool), default and help.

    A number is always finite (`nan`, `inf` are refused); `minimum` is the
    smallest value allowed, `greater_than` a bound the value must exceed
    (`timeout`: greater than 0), `maximum` the largest value allowed.
    """

    type: type = str
    required: bool = False
    default: Any = None
    help: str = ""
    minimum: float | None = None
    greater_than: float | None = None
    maximum: float | None = None


class Driver:
    """Base class of drivers; subclasses set `name` and `PARAMETERS` and override the hooks."""

    name: ClassVar[str] = "driver"
    PARAMETERS: ClassVar[Mapping[str, Parameter]] = {}

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        self.parameters = validate_parameters(type(self), parameters or {})

    def unsupported(self, kind: str, name: str | None) -> str | None:
        """None when this driver, with its parameters, can perform a step of `kind`
        (`upgrade`, `pre-upgrade`, `post-upgrade` or `hook`) for `name` (the service,
        or the action); otherwise why not, in one line.

        `kostyorc run` asks this of every step before it submits anything, so a
        plan is refused whole rather than failing (or doing nothing) half-way.
        The default says no to a kind whose method the driver does not override;
        a driver that knows more (which actions, which templates) says more.
        """
        method = _STEP_METHODS.get(kind)
        if method is None:
            return None
        if getattr(type(self), method) is getattr(Driver, method):
            return f"driver {self.name!r} cannot run {kind} steps"
        return None

    def plan_problems(self, plan: Mapping[str, Any]) -> list[str]:
        """What this driver cannot do about the plan as a whole, one line each
        naming the step: [] by default.

        `kostyorc run` asks it after `unsupported`, before submitting anything.  A
        driver whose tool cannot keep the plan's order (one command upgrades what
        the plan upgrades in several steps apart) or lacks a file a step needs says
        so here, so the run is refused rather than silently doing something else.
        """
        return []

    def stop_remote(self, remote: Mapping[str, Any]) -> None:
        """Stop what an attempt that died mid-step left running on other machines.

        `remote` is what the attempt recorded with `step_context.remember_remote`.
        Called in the next attempt, before it runs the step again (local leftovers
        are stopped by the runtime: runtime/step_processes.py).  Does nothing by
        default; an exception is logged, and the step runs again anyway."""

    def pre_upgrade(self, action: str, parameters: Mapping[str, Any]):
        raise UnsupportedAction(f"driver {self.name!r} has no pre-upgrade action {action!r}")

    def post_upgrade(self, action: str, parameters: Mapping[str, Any]):
        raise UnsupportedAction(f"driver {self.name!r} has no post-upgrade action {action!r}")

    def start(self, service: str, hosts: list[str]):
        raise UnsupportedAction(f"driver {self.name!r} cannot upgrade services")

    def action(self, name: str, host: str | None, parameters: Mapping[str, Any]):
        raise UnsupportedAction(f"driver {self.name!r} has no action {name!r}")


def _convert(driver: str, name: str, spec: Parameter, value: Any) -> Any:
    if spec.type is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ParameterError(
            f"driver {driver!r}: parameter {name!r} must be true or false, not {value!r}"
        )
    if spec.type in (int, float):
        if isinstance(value, bool):
            raise ParameterError(f"driver {driver!r}: parameter {name!r} must be a number")
        kind = "an integer" if spec.type is int else "a number"
        try:
            number = spec.type(value)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(
                f"driver {driver!r}: parameter {name!r} must be {kind}, not {value!r}"
            ) from None
        return _check_range(driver, name, spec, number)
    if not isinstance(value, str | int | float):
        raise ParameterError(f"driver {driver!r}: parameter {name!r} must be a string")
    return str(value)


def _check_range(driver: str, name: str, spec: Parameter, number):
    if isinstance(number, float) and not math.isfinite(number):
        raise ParameterError(
            f"driver {driver!r}: parameter {name!r} must be a finite number, not {number!r}"
        )
    if spec.minimum is not None and number < spec.minimum:
        raise ParameterError(
            f"driver {driver!r}: parameter {name!r} must be at least {_shown(spec.minimum)}, "
            f"not {_shown(number)}"
        )
    if spec.greater_than is not None and number <= spec.greater_than:
        raise ParameterError(
            f"driver {driver!r}: parameter {name!r} must be greater than "
            f"{_shown(spec.greater_than)}, not {_shown(number)}"
        )
    if spec.maximum is not None and number > spec.maximum:
        raise ParameterError(
            f"driver {driver!r}: parameter {name!r} must be at most {_shown(spec.maximum)}, "
            f"not {_shown(number)}"
        )
    return number


# The longest a step may wait: select/poll take milliseconds as a 32-bit int, so
# `subprocess` fails a wait longer than 2**31 ms (24.8 days) on every step.
MAX_TIMEOUT = 2_147_483


def _shown(number) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def validate_parameters(driver_class: type[Driver], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters converted to their declared types; a `ParameterError` names what is wrong."""
    declared = driver_class.PARAMETERS
    name = driver_class.name
    unknown = sorted(set(raw) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise ParameterError(
            f"driver {name!r} has no parameter {', '.join(map(repr, unknown))} "
            f"(its parameters: {known})"
        )
    values: dict[str, Any] = {}
    for key, spec in declared.items():
        if key in raw:
            values[key] = _convert(name, key, spec, raw[key])
        elif spec.required:
            raise ParameterError(
                f"driver {name!r} needs parameter {key!r}: {spec.help} (pass -p {key}=...)"
            )
        elif spec.default is not None:
            values[key] = spec.default
    return values


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`-p key=value` pairs as a dict; the value may itself contain `=`."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise ParameterError(f"bad parameter {pair!r}: expected key=value")
        values[key.strip()] = value
    return values


def load_parameters_file(path: str | Path) -> dict[str, Any]:
    """A parameters file: a YAML or JSON mapping of names to scalars."""
    from kostyor_dsl.inventory.documents import DocumentError, load_document

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(f"cannot read parameters file {path}: {exc.strerror}") from None
    try:
        data = load_document(text)  # a key twice, anchors, tags: refused with their line
    except DocumentError as exc:
        raise ParameterError(f"parameters file {path} is not valid YAML/JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(
        isinstance(value, str | int | float | bool) for value in data.values()
    ):
        raise ParameterError(
            f"parameters file {path} must be a mapping of names to strings, numbers or booleans"
        )
    return {str(key): value for key, value in data.items()}


def available_drivers() -> list[str]:
    return sorted({entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)})


def driver_class(name: str) -> type[Driver]:
    """The driver class registered under `name` in the `kostyor_dsl.drivers` group."""
    matches = [entry for entry in entry_points(group=ENTRY_POINT_GROUP) if entry.name == name]
    if not matches:
        known = ", ".join(available_drivers()) or "none installed"
        raise DriverError(f"unknown driver {name!r} (available: {known})")
    try:
        loaded = matches[0].load()
    except Exception as exc:
        raise DriverError(
            f"driver {name!r} ({matches[0].value}) failed to load: {type(exc).__name__}: {exc}"
        ) from None
    if not (isinstance(loaded, type) and issubclass(loaded, Driver)):
        raise DriverError(
            f"driver {name!r} ({matches[0].value}) is not a kostyor_dsl.runtime.drivers.Driver"
        )
    return loaded


def load_driver(name: str, parameters: Mapping[str, Any] | None = None) -> Driver:
    return driver_class(name)(parameters or {})
