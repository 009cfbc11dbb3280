"""Ansible inventories, as Kolla-Ansible writes them (INI) and as `ansible-inventory
--list` and OpenStack-Ansible print them (JSON): groups, their hosts and child
groups, variables, and which hosts each group holds in the end.

Every problem is a Diagnostic with the file, and in INI the line and column:
a malformed section or range, a host line that is not `HOST [key=value ...]`,
a `:children` cycle.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from kostyor_dsl.importers.files import describe, load_json, looks_like, wrong_format
from kostyor_dsl.importers.host_ranges import MAX_RANGE_HOSTS, expand_range, range_size
from kostyor_dsl.importers.result import ImportFailed, key_span
from kostyor_dsl.language.diagnostics import Label, Span, error


@dataclass
class Group:
    name: str
    hosts: list[str] = field(default_factory=list)
    # the hosts as a set, for INI lines (a group of 100,000 hosts is read in linear time)
    host_set: set[str] = field(default_factory=set, repr=False)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    span: Span | None = None
    child_spans: dict[str, Span] = field(default_factory=dict)
    # True when the group has hosts of its own (a "physical" group in Kolla's terms).
    direct: bool = False


@dataclass
class AnsibleInventory:
    display: str
    text: str
    groups: dict[str, Group] = field(default_factory=dict)
    hostvars: dict[str, dict[str, Any]] = field(default_factory=dict)
    host_spans: dict[str, Span] = field(default_factory=dict)
    host_order: list[str] = field(default_factory=list)

    def group(self, name: str, span: Span | None = None) -> Group:
        found = self.groups.get(name)
        if found is None:
            found = self.groups[name] = Group(name, span=span)
        elif found.span is None:
            found.span = span
        return found

    def add_host(self, group: str, host: str, span: Span | None, variables=None) -> None:
        g = self.group(group)
        if host not in g.host_set:
            g.host_set.add(host)
            g.hosts.append(host)
        g.direct = True
        if host not in self.host_spans:
            self.host_spans[host] = span
            self.host_order.append(host)
        if variables:
            self.hostvars.setdefault(host, {}).update(variables)

    def members(self) -> dict[str, list[str]]:
        """Every group's hosts, its children's included; a `:children` cycle is an error."""
        out: dict[str, list[str]] = {}
        cycles = []
        too_deep: list[str] = []

        def visit(name: str, stack: tuple[str, ...]) -> list[str]:
            if name in out:
                return out[name]
            group = self.groups.get(name)
            if group is None:
                return []
            if len(stack) >= MAX_NESTING:
                too_deep.append(name)
                return []
            if not group.children:
                out[name] = group.hosts
                return group.hosts
            hosts = dict.fromkeys(group.hosts)
            for child in group.children:
                if child in stack or child == name:
                    cycles.append((*stack, name, child))
                    continue
                hosts.update(dict.fromkeys(visit(child, (*stack, name))))
            out[name] = list(hosts)
            return out[name]

        for name in list(self.groups):
            visit(name, ())
            if too_deep:
                group = self.groups[too_deep[0]]
                raise ImportFailed(
                    [
                        error(
                            "K053",
                            f"groups nest more than {MAX_NESTING} levels deep "
                            f"(group {too_deep[0]!r} is a child {MAX_NESTING} levels down)",
                            group.span or key_span(self.text, self.display, too_deep[0]),
                            subject=f"group {too_deep[0]!r}",
                            hints=("no deployment nests its groups this deep: flatten them",),
                        )
                    ],
                    {self.display: self.text},
                )
        if cycles:
            diagnostics = []
            seen = set()
            for cycle in cycles:
                start = cycle.index(cycle[-1])
                loop = cycle[start:]
                key = frozenset(loop)
                if key in seen:
                    continue
                seen.add(key)
                parent, child = loop[-2], loop[-1]
                span = self.groups[parent].child_spans.get(child) or self.groups[parent].span
                diagnostics.append(
                    error(
                        "K053",
                        "groups contain each other in a cycle: " + " -> ".join(loop),
                        span or key_span(self.text, self.display, parent),
                        subject=f"group {parent!r}",
                        labels=tuple(
                            Label(s, f"group {child!r} is a child of {parent!r} here")
                            for s in [self.groups[parent].child_spans.get(child)]
                            if s is not None and s != span
                        ),
                        hints=("a group cannot be its own descendant: remove one of the children",),
                    )
                )
            raise ImportFailed(diagnostics, {self.display: self.text})
        out.setdefault("all", list(self.host_order))
        return out


# --- INI ---------------------------------------------------------------------

# Children chains deeper than this are refused (Kolla-Ansible's are 3 deep).
MAX_NESTING = 200

_SECTION = re.compile(r"\[([^\]\s:]+)(?::([^\]\s]*))?\]\s*$")


def parse_ini(text: str, display: str) -> AnsibleInventory:
    """An INI inventory (Ansible's format; Kolla-Ansible's `multinode`)."""
    inv = AnsibleInventory(display, text)
    problems = []
    section, kind = "ungrouped", "hosts"
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        column = raw.index(line[0]) + 1
        span = Span(display, lineno, column, lineno, column + len(line))
        if line.startswith("["):
            m = _SECTION.match(line)
            if m is None:
                problems.append(
                    error(
                        "K050",
                        f"malformed section header {line!r}",
                        span,
                        hints=("write [GROUP], [GROUP:children] or [GROUP:vars]",),
                    )
                )
                section, kind = None, None
                continue
            name, suffix = m.group(1), m.group(2)
            if suffix not in (None, "children", "vars"):
                at = column + line.index(":") + 1
                problems.append(
                    error(
                        "K050",
                        f"unknown section kind ':{suffix}' for group {name!r}",
                        Span(display, lineno, at, lineno, at + len(suffix)),
                        hints=("a section is [GROUP], [GROUP:children] or [GROUP:vars]",),
                    )
                )
                section, kind = None, None
                continue
            section, kind = name, suffix or "hosts"
            inv.group(name, span)
            continue
        if section is None:
            continue  # under a malformed header: already reported
        if kind == "children":
            if len(line.split()) != 1:
                problems.append(
                    error(
                        "K050",
                        f"[{section}:children] lists one group per line, not {line!r}",
                        span,
                    )
                )
                continue
            parent = inv.group(section)
            if line not in parent.children:
                parent.children.append(line)
                parent.child_spans[line] = span
            inv.group(line)
        elif kind == "vars":
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                problems.append(
                    error("K050", f"[{section}:vars] holds `key=value` lines, not {line!r}", span)
                )
                continue
            inv.group(section).vars[key.strip()] = _ini_value(value.strip())
        else:
            problems.extend(_host_line(inv, section, line, lineno, column, display))
    if problems:
        if not inv.host_order and looks_like(text) and not text.lstrip().startswith("["):
            problems = [
                error(
                    "K050",
                    f"{display} is not an INI inventory",
                    Span(display, 1, 1, 1, 2),
                    hints=(f"this looks like {looks_like(text)}",),
                )
            ]
        raise ImportFailed(problems, {display: text})
    return inv


def _ini_value(value: str) -> Any:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _host_line(inv, section, line, lineno, column, display):
    span = Span(display, lineno, column, lineno, column + len(line))
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        return [error("K050", f"cannot read the host line: {exc}", span)]
    if not tokens:
        return []
    pattern, *assignments = tokens
    variables = {}
    for token in assignments:
        key, sep, value = token.partition("=")
        if not sep or not key:
            at = column + line.find(token)
            return [
                error(
                    "K050",
                    f"host variable {token!r} is not `key=value`",
                    Span(display, lineno, at, lineno, at + len(token)),
                    hints=("a host line is `HOST [key=value ...]`",),
                )
            ]
        variables[key] = value
    if pattern.endswith(":"):
        return [
            error(
                "K050",
                f"{pattern!r} is not a host name",
                span,
                hints=(
                    "this looks like YAML; convert a YAML inventory with "
                    "`ansible-inventory -i FILE --list`",
                ),
            )
        ]
    host_span = Span(display, lineno, column, lineno, column + len(pattern))
    try:
        count = range_size(pattern)
        if count > MAX_RANGE_HOSTS:
            raise ValueError(f"it names {count:,} hosts; at most {MAX_RANGE_HOSTS:,} on one line")
        names = expand_range(pattern)
    except ValueError as exc:
        return [error("K050", f"host range {pattern!r}: {exc}", host_span)]
    for name in names:
        inv.add_host(section, _strip_port(name), host_span, variables)
    return []


def _strip_port(name: str) -> str:
    if name.count(":") == 1:
        host, _, port = name.partition(":")
        if port.isdigit():
            return host
    return name


# --- JSON (`ansible-inventory --list`, OpenStack-Ansible's openstack_inventory.json) -------


def parse_list_json(text: str, display: str, wanted: str) -> AnsibleInventory:
    doc = load_json(text, display, "the inventory")
    if not isinstance(doc, dict) or not isinstance(doc.get("_meta"), dict):
        raise wrong_format(doc, display, wanted, text)
    hostvars = doc["_meta"].get("hostvars", {})
    if not isinstance(hostvars, dict):
        raise ImportFailed(
            [
                error(
                    "K050", "_meta.hostvars must be a mapping", key_span(text, display, "hostvars")
                )
            ],
            {display: text},
        )
    if wanted == "openstack-ansible" and hostvars and describe(doc) != "openstack-ansible":
        raise wrong_format(doc, display, wanted, text)
    inv = AnsibleInventory(display, text)
    inv.hostvars = hostvars  # read as they are; hostvars not a mapping count as none
    problems = []
    groups = inv.groups
    # Spans are looked up in the text only for a diagnostic: at 10,000 hosts a
    # search per group would cost more than reading the file.
    for name, body in doc.items():
        if name == "_meta":
            continue
        if type(body) is not dict:
            if isinstance(body, list) and all(isinstance(h, str) for h in body):
                body = {"hosts": body}  # the short form of old dynamic inventories
            else:
                problems.append(
                    error(
                        "K050", f"group {name!r} must be a mapping", key_span(text, display, name)
                    )
                )
                continue
        hosts = body.get("hosts") or []
        children = body.get("children") or []
        if type(hosts) is not list or not set(map(type, hosts)) <= {str}:
            problems.append(
                error(
                    "K050",
                    f"group {name!r}: 'hosts' must be a list of names",
                    key_span(text, display, name),
                )
            )
            continue
        if type(children) is not list or not set(map(type, children)) <= {str}:
            problems.append(
                error(
                    "K050",
                    f"group {name!r}: 'children' must be a list of names",
                    key_span(text, display, name),
                )
            )
            continue
        group = groups.get(name)
        if group is None:
            group = groups[name] = Group(name)
        group.hosts = hosts  # a host listed twice is harmless: services are sets
        group.direct = bool(hosts)
        for child in children:
            if child not in group.children:
                group.children.append(child)
            if child not in groups:
                groups[child] = Group(child)
        if isinstance(body.get("vars"), dict):
            group.vars.update(body["vars"])
    if problems:
        raise ImportFailed(problems, {display: text})
    inv.host_order = list(dict.fromkeys(chain.from_iterable(g.hosts for g in groups.values())))
    return inv
