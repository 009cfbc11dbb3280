"""The spec AST: frozen dataclasses whose `span` is excluded from equality.

Tests compare whole trees by value; positions only matter for diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kostyor_dsl.language.diagnostics import Span

NO_SPAN = Span("<none>", 0, 0, 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Name:
    value: str
    span: Span = _span()


@dataclass(frozen=True)
class Value:
    """A setting's value.  `kind` is name, string, number, percent, duration or pair."""

    kind: str
    raw: str
    span: Span = _span()

    @property
    def text(self) -> str:
        """The value as a user means it: strings without their quotes and escapes."""
        if self.kind == "string":
            return _unescape(self.raw[1:-1])
        return self.raw


def _unescape(body: str) -> str:
    out = []
    chars = iter(body)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class Setting:
    key: Name
    values: tuple[Value, ...] = ()
    block: tuple[Setting, ...] | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Service:
    name: Name
    roles: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ProjectSteps:
    """`pre-upgrade glance-db-expand, glance-db-migrate` in a project: its own steps."""

    when: str  # "pre-upgrade" or "post-upgrade"
    names: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Project:
    name: Name
    services: tuple[Service, ...]
    span: Span = _span()
    steps: tuple[ProjectSteps, ...] = ()


@dataclass(frozen=True)
class Barrier:
    """`barrier placement before nova`: the first names done on every host before
    any of the second starts on any host (in an order or a strategy)."""

    first: tuple[Name, ...]
    then: tuple[Name, ...]
    span: Span = _span()

    @property
    def text(self) -> str:
        first = ", ".join(n.value for n in self.first)
        then = ", ".join(n.value for n in self.then)
        return f"{first} before {then}"


@dataclass(frozen=True)
class Ignore:
    """`ignore fluentd, cron` in an order: services it knows and does not upgrade."""

    names: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Order:
    name: Name
    projects: tuple[Project, ...]
    span: Span = _span()
    ignores: tuple[Ignore, ...] = ()
    barriers: tuple[Barrier, ...] = ()


@dataclass(frozen=True)
class Tiers:
    names: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Actions:
    """`actions drain-l3, check-ha`: actions the driver offers beyond the built-in ones."""

    names: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Irreversible:
    """`irreversible keystone-db-contract`: actions after which the old release cannot run."""

    names: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Import:
    """`import openstack` (a shipped spec) or `import "team/common.kostyor"` (a path)."""

    target: str
    is_path: bool
    span: Span = _span()


@dataclass(frozen=True)
class Strategy:
    name: Name
    settings: tuple[Setting, ...]
    is_default: bool = False
    extends: Name | None = None
    span: Span = _span()
    barriers: tuple[Barrier, ...] = ()


@dataclass(frozen=True)
class Comment:
    text: str
    span: Span = _span()


Item = Import | Tiers | Actions | Irreversible | Order | Strategy


@dataclass(frozen=True)
class SpecFile:
    path: str
    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    span: Span = _span()
