"""How long each step takes: `--step-seconds`, a timings file, or a past run.

A timings file (YAML or JSON, `schemas/timings.schema.json`):

    default: 60            # seconds of any step nothing below names
    gate: 0                # an operator's time at a gate (default 0: gates take no time)
    dispatch: 0            # the runtime's hand-over before each step (default 0)
    services:              # upgrade steps, by service
      nova-compute: 300
    actions:               # hooks, pre- and post-upgrade steps, by action
      evacuate: 600
    hosts:                 # by host glob, first match in file order
      "cmp-*":
        default: 90
        services: {nova-compute: 420}
      "sto-*": 120         # shorthand for {default: 120}

A step's time is the first of: the first `hosts` glob matching its host that
names its service (or action); `services` (or `actions`); the first `hosts`
glob matching its host that has a `default`; `default`.  A step running on
several hosts at once (service-by-service) takes as long as its slowest host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

DEFAULT_STEP_SECONDS = 60.0
# A step, a gate or a dispatch longer than a year is a typo, and beyond it window sums
# of many steps stop being exact (or finite) floats.
MAX_SECONDS = 365 * 24 * 3600
TOP_KEYS = ("format", "default", "gate", "dispatch", "services", "actions", "hosts")
HOST_KEYS = ("default", "services", "actions")
FORMAT = "kostyor-timings/1"


class TimingsError(Exception):
    """A timings file that cannot be used; `str()` names the file, line and column."""


@dataclass(frozen=True)
class HostRule:
    pattern: str
    default: float | None = None
    services: Mapping[str, float] = field(default_factory=dict)
    actions: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Timings:
    """Seconds per step, and where they come from (`source`, for the output)."""

    default: float = DEFAULT_STEP_SECONDS
    gate: float = 0.0
    dispatch: float = 0.0
    services: Mapping[str, float] = field(default_factory=dict)
    actions: Mapping[str, float] = field(default_factory=dict)
    hosts: tuple[HostRule, ...] = ()
    source: str = "--step-seconds"

    def describe(self) -> str:
        named = len(self.services) + len(self.actions)
        text = f"{_seconds(self.default)} s a step"
        if named:
            text += f" ({named} services and actions timed"
            rules = "rule" if len(self.hosts) == 1 else "rules"
            text += f", {len(self.hosts)} host {rules})" if self.hosts else ")"
        text += f", gates {_seconds(self.gate)} s"
        if self.dispatch:
            text += f", {_seconds(self.dispatch)} s hand-over before each step"
        return f"{text}; from {self.source}"

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "default": self.default,
            "gate": self.gate,
            "dispatch": self.dispatch,
            "services": dict(sorted(self.services.items())),
            "actions": dict(sorted(self.actions.items())),
            "hosts": [
                {
                    "match": rule.pattern,
                    "default": rule.default,
                    "services": dict(sorted(rule.services.items())),
                    "actions": dict(sorted(rule.actions.items())),
                }
                for rule in self.hosts
            ],
        }


def _seconds(value: float) -> str:
    return f"{value:g}"


class Durations:
    """A unit's seconds under some `Timings`, cached by what decides them."""

    def __init__(self, timings: Timings) -> None:
        self.timings = timings
        self._host_rules: dict[str, tuple[HostRule, ...]] = {}
        self._cache: dict[tuple, float] = {}

    def _rules(self, host: str) -> tuple[HostRule, ...]:
        rules = self._host_rules.get(host)
        if rules is None:
            rules = tuple(r for r in self.timings.hosts if fnmatchcase(host, r.pattern))
            self._host_rules[host] = rules
        return rules

    def _one(self, table: str, name: str | None, host: str | None) -> float:
        timings = self.timings
        rules = self._rules(host) if host is not None and timings.hosts else ()
        if name is not None:
            for rule in rules:
                own = getattr(rule, table)
                if name in own:
                    return own[name]
            named = getattr(timings, table)
            if name in named:
                return named[name]
        for rule in rules:
            if rule.default is not None:
                return rule.default
        return timings.default

    def of(self, kind: str, step: dict, hosts: tuple[str, ...]) -> float:
        if kind == "gate":
            return self.timings.gate
        if kind == "upgrade":
            table, name = "services", step.get("service")
        else:
            table, name = "actions", step.get("action")
        # Without host rules a host changes nothing: one entry per service or action.
        key = (table, name, hosts) if self.timings.hosts else (table, name)
        value = self._cache.get(key)
        if value is None:
            if not hosts or not self.timings.hosts:
                value = self._one(table, name, None)
            else:
                value = max(self._one(table, name, host) for host in hosts)
            self._cache[key] = value
        return value


# ---------------------------------------------------------------- the file


def read_timings(path: str, *, step_seconds: float | None = None) -> Timings:
    """The timings in `path`; `step_seconds` (an explicit `--step-seconds`) wins over its default."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise TimingsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TimingsError(f"{path}: is a directory, not a timings file") from None
    except UnicodeDecodeError:
        raise TimingsError(f"{path}: not a text file (expected YAML or JSON timings)") from None
    except OSError as exc:
        raise TimingsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    timings = parse_timings(text, path, source=os.path.basename(path))
    if step_seconds is not None:
        timings = Timings(
            step_seconds,
            timings.gate,
            timings.dispatch,
            timings.services,
            timings.actions,
            timings.hosts,
            f"{timings.source} (default from --step-seconds)",
        )
    return timings


def parse_timings(text: str, path: str = "<timings>", source: str | None = None) -> Timings:
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader_class)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise TimingsError(f"{path}{where}: not YAML or JSON ({problem})") from None
    reader = _Reader(path)
    timings = reader.document(node, source or path)
    if reader.problems:
        raise TimingsError("\n".join(reader.problems))
    return timings


class _Reader:
    """Walks the composed YAML nodes, so every problem has its line and column."""

    def __init__(self, path: str) -> None:
        import yaml

        self.path = path
        self.problems: list[str] = []
        self._yaml = yaml
        self._constructor = yaml.constructor.SafeConstructor()

    def problem(self, node, message: str, hint: str | None = None) -> None:
        mark = node.start_mark
        text = f"{self.path}:{mark.line + 1}:{mark.column + 1}: {message}"
        if hint:
            text += f"\n  hint: {hint}"
        self.problems.append(text)

    def pairs(self, node, what: str) -> list[tuple[str, object, object]]:
        """(key, key node, value node) of a mapping node; problems for anything else."""
        if not isinstance(node, self._yaml.MappingNode):
            self.problem(node, f"{what}: expected a mapping, found {self.kind(node)}")
            return []
        seen: dict[str, object] = {}
        out = []
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, self._yaml.ScalarNode) else None
            if not isinstance(key, str) or not key:
                self.problem(key_node, f"{what}: a key must be a name")
                continue
            if key in seen:
                first = seen[key].start_mark
                self.problem(
                    key_node, f"{what}: '{key}' is given twice (first at line {first.line + 1})"
                )
                continue
            seen[key] = key_node
            out.append((key, key_node, value_node))
        return out

    def kind(self, node) -> str:
        if isinstance(node, self._yaml.MappingNode):
            return "a mapping"
        if isinstance(node, self._yaml.SequenceNode):
            return "a list"
        value = self._constructor.construct_object(node, deep=True)
        if value is None:
            return "nothing"
        shown = repr(value)
        if len(shown) > 40:
            shown = f"{shown[:20]}...({len(shown)} characters)"
        return f"{type(value).__name__} {shown}"

    def seconds(self, node, what: str) -> float | None:
        value = None
        if isinstance(node, self._yaml.ScalarNode) and node.tag in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ):
            value = self._constructor.construct_object(node)
        if value is None or isinstance(value, bool) or not 0 <= value <= MAX_SECONDS:
            self.problem(
                node,
                f"{what}: expected a number of seconds (0 to {MAX_SECONDS}, a year), "
                f"found {self.kind(node)}",
            )
            return None
        return float(value)

    def table(self, node, what: str) -> dict[str, float]:
        out = {}
        for key, _, value_node in self.pairs(node, what):
            seconds = self.seconds(value_node, f"{what}.{key}")
            if seconds is not None:
                out[key] = seconds
        return out

    def unknown(self, key_node, key: str, what: str, known: tuple[str, ...]) -> None:
        from kostyor_dsl.language.suggest import did_you_mean

        hints = did_you_mean(key, known)
        self.problem(
            key_node,
            f"{what}unknown key '{key}'",
            hints[0] if hints else f"the keys are {', '.join(known)}",
        )

    def document(self, node, source: str) -> Timings:
        if node is None:
            self.problems.append(f"{self.path}: empty timings file (expected a mapping)")
            return Timings(source=source)
        values: dict = {"source": source}
        for key, key_node, value_node in self.pairs(node, "timings"):
            if key == "format":
                if not (
                    isinstance(value_node, self._yaml.ScalarNode) and value_node.value == FORMAT
                ):
                    self.problem(value_node, f"format: expected '{FORMAT}'")
            elif key in ("default", "gate", "dispatch"):
                seconds = self.seconds(value_node, key)
                if seconds is not None:
                    values[key] = seconds
            elif key in ("services", "actions"):
                values[key] = self.table(value_node, key)
            elif key == "hosts":
                values["hosts"] = tuple(self.host_rules(value_node))
            else:
                self.unknown(key_node, key, "", TOP_KEYS)
        return Timings(**values)

    def host_rules(self, node) -> list[HostRule]:
        rules = []
        for pattern, _, value_node in self.pairs(node, "hosts"):
            what = f"hosts.{pattern}"
            if isinstance(value_node, self._yaml.ScalarNode):
                seconds = self.seconds(value_node, what)
                if seconds is not None:
                    rules.append(HostRule(pattern, seconds))
                continue
            parts: dict = {}
            for key, key_node, inner in self.pairs(value_node, what):
                if key == "default":
                    parts["default"] = self.seconds(inner, f"{what}.default")
                elif key in ("services", "actions"):
                    parts[key] = self.table(inner, f"{what}.{key}")
                else:
                    self.unknown(key_node, key, f"{what}: ", HOST_KEYS)
            rules.append(HostRule(pattern, **parts))
        return rules
