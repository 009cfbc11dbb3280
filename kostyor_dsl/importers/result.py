"""What every importer builds: hosts with services, labels and targets, and diagnostics.

An importer reads its tool's files, then hands (host, tool name, where it came
from) facts to a `CloudBuilder`, which maps tool names through the name table,
checks host names, counts what it could not map, and makes the one inventory
document `compiler/inventory.py` reads.

Codes: docs/diagnostics.md, K050-K059 and K090-K096.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from kostyor_dsl.inventory.hostnames import (
    VALID_HOST_NAME,
    VALID_TARGET,
    host_name_problem,
    target_problem,
)
from kostyor_dsl.language.diagnostics import Diagnostic, Span, error, warning


class ImportFailed(Exception):
    """An importer gave up: every diagnostic found so far, and the texts to render them."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: Mapping[str, str] | None = None):
        self.diagnostics = tuple(diagnostics)
        self.sources = dict(sources or {})
        super().__init__(f"{sum(d.is_error for d in self.diagnostics)} error(s)")

    def __reduce__(self):
        return (type(self), (self.diagnostics, self.sources))


class ImportedHost(NamedTuple):
    """One host of an import (a named tuple: immutable, and cheap at 10,000 hosts)."""

    name: str
    services: tuple[str, ...]
    labels: tuple[tuple[str, str], ...] = ()
    # service -> the names the tool addresses it by on this host (containers, units)
    targets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # service -> what the deployment reports wrong with it: ("disabled",), ("down",), both
    state: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class ImportResult:
    source: str  # the importer's name: openstack-ansible, kolla-ansible, ...
    inputs: tuple[str, ...]  # the files read, by base name
    hosts: tuple[ImportedHost, ...]
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


# A name that host_name_problem accepts, in one match (the fast path; tested to agree).
_VALID_HOST = VALID_HOST_NAME

# A span, or how to find it when a diagnostic needs it (searching a large text costs).
LazySpan = Span | Callable[[], Span | None] | None


def _span(span: LazySpan) -> Span | None:
    return span() if callable(span) else span


class _HostFacts:
    """What is known of one host so far (plain slots: there may be 10,000 of them)."""

    __slots__ = ("labels", "services", "state", "targets", "unmapped")

    def __init__(self) -> None:
        self.services: set[str] = set()
        # Made when first needed: most hosts of a large cloud have no targets.
        self.labels: dict[str, str] = {}
        self.targets: dict[str, set[str]] | None = None
        self.unmapped: set[str] | None = None  # the tool's names on it that the table lacks
        self.state: dict[str, set[str]] | None = None  # service -> {"down", "disabled"}

    def add_target(self, service: str, target: str) -> None:
        if self.targets is None:
            self.targets = {}
        self.targets.setdefault(service, set()).add(target)


class CloudBuilder:
    """Collects an import: hosts and their facts, mapped names, and every problem."""

    def __init__(self, source: str, names: Mapping[str, list[str]], table_label: str):
        self.source = source
        self.names = names
        self.table_label = table_label
        self.unmapped_hint = (
            "map it in a names file, `names: {{{name}: [SERVICE, ...]}}` (`[]` for no service), "
            f"then `kostyorc import {source} ... --names FILE`"
        )
        self.diagnostics: list[Diagnostic] = []
        self.sources: dict[str, str] = {}
        self.inputs: list[str] = []
        self._hosts: dict[str, _HostFacts] = {}
        self._bad_hosts: set[str] = set()
        self._bad_targets: set[str] = set()
        # (tool name, origin) -> hosts it was seen on, unmapped
        self._unmapped: dict[tuple[str, str], list[str]] = {}
        self._unmapped_span: dict[tuple[str, str], LazySpan] = {}

    # -- input files
    def add_source(self, display: str, text: str) -> None:
        self.sources[display] = text
        if display not in self.inputs:
            self.inputs.append(display)

    def add(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def fail(self) -> ImportFailed:
        return ImportFailed(self.diagnostics, self.sources)

    # -- hosts
    def host(self, name: str, origin: str, span: LazySpan = None) -> bool:
        """Declare a host; False (and an error, once) when its name is not a host name."""
        if name in self._hosts:
            return True
        if name in self._bad_hosts:
            return False
        problem = None if _VALID_HOST.match(name) else host_name_problem(name)
        if problem is not None:
            self._bad_hosts.add(name)
            self.add(
                error(
                    "K054",
                    f"host {name!r} from {origin}: {problem}",
                    _span(span),
                    subject=f"host {name!r}",
                    hints=(
                        "rename the host in the deployment tool, or map it in a copy of the file",
                    ),
                )
            )
            return False
        self._hosts[name] = _HostFacts()
        return True

    def service(
        self,
        host: str,
        tool_name: str,
        origin: str,
        target: str | None = None,
        span: LazySpan = None,
    ) -> None:
        """`host` runs the tool's `tool_name`: map it, or remember it as unmapped."""
        facts = self._hosts.get(host)
        if facts is None:
            return
        mapped = self.names.get(tool_name)
        if mapped is None:
            if facts.unmapped is None:
                facts.unmapped = set()
            facts.unmapped.add(tool_name)
            key = (tool_name, origin)
            seen = self._unmapped.setdefault(key, [])
            if host not in seen:
                seen.append(host)
            self._unmapped_span.setdefault(key, span)
            return
        if target is not None and target != host and not self._target_ok(target, origin, span):
            target = None
        for service in mapped:
            facts.services.add(service)
            if target is not None and target != host:
                facts.add_target(service, target)

    def extra_service(self, host: str, service: str, target: str | None = None) -> None:
        """`host` also runs `service` (already one of the order's names), by `target`."""
        facts = self._hosts.get(host)
        if facts is None:
            return
        facts.services.add(service)
        if target is not None and target != host and VALID_TARGET.match(target):
            facts.add_target(service, target)

    def _target_ok(self, target: str, origin: str, span: LazySpan) -> bool:
        """A target a command line reads as one name; False (and an error, once) if not."""
        if VALID_TARGET.match(target):
            return True
        if target in self._bad_targets:
            return False
        self._bad_targets.add(target)
        self.add(
            error(
                "K054",
                f"{target!r} from {origin}: {target_problem(target)}",
                _span(span),
                subject=f"target {target!r}",
                hints=(
                    "it would reach --limit or `juju run` as it is: rename it in the "
                    "deployment tool",
                ),
            )
        )
        return False

    def run_on(
        self,
        members: Iterable[str],
        tool_name: str,
        origin: str,
        span: LazySpan,
        host_of: Mapping[str, str] | None = None,
    ) -> None:
        """Every member runs `tool_name`: `service` for a whole group at once.  A member
        lives on `host_of[member]` (itself when absent) and is its target."""
        host_of = host_of or {}
        mapped = self.names.get(tool_name)
        if mapped is None:
            for member in members:
                host = host_of.get(member, member)
                if self.host(host, origin, span):
                    self.service(host, tool_name, origin, member, span)
            return
        hosts = self._hosts
        get_host = host_of.get
        for member in members:
            host = get_host(member, member)
            facts = hosts.get(host) or self._declared(host, origin, span)
            if facts is None:
                continue
            facts.services.update(mapped)
            if host != member and self._target_ok(member, origin, span):
                for service in mapped:
                    facts.add_target(service, member)

    def _declared(self, host: str, origin: str, span: LazySpan) -> _HostFacts | None:
        """A host met for the first time: declared (checked and reported by `host`
        when its name is doubtful), its facts; None when it is refused."""
        if _VALID_HOST.match(host) and host not in self._bad_hosts:
            facts = self._hosts[host] = _HostFacts()
            return facts
        if not self.host(host, origin, span):
            return None
        return self._hosts[host]

    def label_all(
        self,
        members: Iterable[str],
        key: str,
        value: str,
        origin: str,
        span: LazySpan,
        host_of: Mapping[str, str] | None = None,
    ) -> None:
        """Every member's host gets the label (members declared as hosts if new)."""
        host_of = host_of or {}
        hosts = self._hosts
        get_host = host_of.get
        value = str(value)
        for member in members:
            host = get_host(member, member)
            facts = hosts.get(host) or self._declared(host, origin, span)
            if facts is None:
                continue
            facts.labels[key] = value

    def label(self, host: str, key: str, value: str | tuple[str, ...]) -> None:
        """A label; a tuple of values is a list label (one pair per value)."""
        facts = self._hosts.get(host)
        if facts is not None and value != "" and value != ():
            facts.labels[key] = value if isinstance(value, tuple) else str(value)

    def label_each(self, key: str, values: Mapping[str, str]) -> None:
        """Label known hosts, each with its own value (`{host: value}`)."""
        hosts = self._hosts
        for host, value in values.items():
            facts = hosts.get(host)
            if facts is not None and value != "" and value != ():
                facts.labels[key] = value

    def set_state(self, host: str, service: str, what: str) -> None:
        """The deployment reports `service` on `host` down or disabled."""
        facts = self._hosts.get(host)
        if facts is None:
            return
        if facts.state is None:
            facts.state = {}
        facts.state.setdefault(service, set()).add(what)

    def add_to_label(self, host: str, key: str, value: str) -> None:
        """A label holding a comma-separated set (`disabled: nova-compute,nova-scheduler`)."""
        facts = self._hosts.get(host)
        if facts is None:
            return
        parts = set(filter(None, facts.labels.get(key, "").split(",")))
        parts.add(value)
        facts.labels[key] = ",".join(sorted(parts))

    def known_hosts(self) -> list[str]:
        return list(self._hosts)

    # -- the result
    def result(self) -> ImportResult:
        for (tool_name, origin), hosts in sorted(self._unmapped.items()):
            shown = ", ".join(sorted(hosts)[:5]) + (", ..." if len(hosts) > 5 else "")
            count = f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}"
            self.add(
                warning(
                    "K055",
                    f"{origin}: {tool_name!r} is not in the {self.table_label} name table; "
                    f"left out on {count} ({shown})",
                    _span(self._unmapped_span.get((tool_name, origin))),
                    subject=f"{tool_name!r}",
                    hints=(self.unmapped_hint.format(name=tool_name),),
                )
            )
        hosts = []
        shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # hosts alike share one tuple
        shared_labels: dict[tuple, tuple] = {}
        append = hosts.append
        make = tuple.__new__  # ImportedHost without its Python-level __new__: 10,000 times
        for name, facts in sorted(self._hosts.items()):
            if not facts.services:
                what = (
                    f"only names the {self.table_label} table does not map "
                    f"({', '.join(sorted(facts.unmapped))})"
                    if facts.unmapped
                    else f"no service that {self.table_label} deploys"
                )
                self.add(
                    warning(
                        "K058",
                        f"host {name!r} runs {what}; left out of the inventory",
                        subject=f"host {name!r}",
                    )
                )
                continue
            services = tuple(sorted(facts.services))
            services = shared.setdefault(services, services)
            labels = facts.labels
            if labels:
                labels = tuple(sorted(labels.items()))
                labels = shared_labels.setdefault(labels, labels)
            else:
                labels = ()
            targets = facts.targets
            if targets:
                targets = tuple((s, tuple(sorted(t))) for s, t in sorted(targets.items()))
            else:
                targets = ()
            state = facts.state
            if state:
                state = tuple((sv, tuple(sorted(w))) for sv, w in sorted(state.items()))
            else:
                state = ()
            append(make(ImportedHost, (name, services, labels, targets, state)))
        if not hosts and not self.has_errors:
            self.add(
                error(
                    "K051",
                    f"no host to import from {', '.join(self.inputs) or 'the input'}",
                    subject=", ".join(self.inputs) or None,
                    hints=("is this the deployment's real inventory, not an empty template?",),
                )
            )
        return ImportResult(
            self.source, tuple(self.inputs), tuple(hosts), tuple(self.diagnostics), self.sources
        )


def physical_group(groups: Iterable[str]) -> str | tuple[str, ...]:
    """The `physical-group` label: the host's one group, or all of them as a list
    (a selector `physical-group=compute` matches any of them)."""
    unique = tuple(dict.fromkeys(groups))
    return unique[0] if len(unique) == 1 else unique


def key_span(text: str, display: str, key: str) -> Span | None:
    """Where `"key":` first appears in a JSON text (for warnings about a group or host)."""
    needle = '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    at = text.find(needle + ":")
    if at < 0:
        at = text.find(needle)
    if at < 0:
        return None
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return Span(display, line, column, line, column + len(needle))
