"""Kolla-Ansible: an INI inventory (`multinode`) and `/etc/kolla/globals.yml` -> an inventory.

Where a service runs is decided by its role's `<project>_services`
declaration (`group`, `enabled`, `host_in_groups`, Jinja2 expressions over
Kolla's variables), not by the inventory alone: nova-compute and the
openvswitch or OVN agents have no group of their own.  When the kolla-ansible
package is installed its own role defaults are read (the real source, for
the release installed); otherwise, or for a declaration that cannot be
evaluated, kostyor's table (names/kolla-ansible.yaml) is used.  A role is
deployed at all only when its `enable_<project>` is true.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kostyor_dsl.importers.ansible_inventory import AnsibleInventory, parse_ini
from kostyor_dsl.importers.ansible_vars import (
    EvaluationError,
    Variables,
    to_bool,
)
from kostyor_dsl.importers.files import load_option_yaml, read_text
from kostyor_dsl.importers.group_checks import (
    host_in_no_group,
    hosts_named_like_groups,
    ungrouped_hosts,
)
from kostyor_dsl.importers.kolla_package import (
    package_share,
    read_declarations,
    release_of,
    services_of,
)
from kostyor_dsl.importers.kolla_values import (
    HARD_HINT,
    check_globals,
    hard_error,
    refuse_unsafe_table,
)
from kostyor_dsl.importers.result import (
    CloudBuilder,
    ImportFailed,
    ImportResult,
    physical_group,
)
from kostyor_dsl.importers.tables import load_table, name_map
from kostyor_dsl.language.diagnostics import Span, error, warning

SOURCE = "kolla-ansible"


def read_globals(path: str | None) -> tuple[dict[str, Any], str | None, str | None]:
    """globals.yml as a mapping, with its display name and text."""
    if path is None:
        return {}, None, None
    doc, display, text = load_option_yaml(path, "globals file")
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ImportFailed(
            [
                error(
                    "K057",
                    "globals file must be a mapping of variables (enable_cinder: yes ...)",
                    Span(display, 1, 1, 1, 2),
                )
            ],
            {display: text},
        )
    return doc, display, text


class _Members(list):
    """A group's hosts, in order, with `in` a set look-up: the declarations ask
    `inventory_hostname in groups['compute']` once per host, which on a plain
    list made an import of N computes take N*N steps."""

    def __init__(self, hosts):
        super().__init__(hosts)
        self._set = frozenset(self)

    def __contains__(self, item) -> bool:
        try:
            return item in self._set
        except TypeError:  # an unhashable value: compared one by one, as a list does
            return list.__contains__(self, item)


class _Groups(Mapping):
    """`groups[...]` for the expressions: a group the inventory lacks is empty, as a
    play over it would do nothing."""

    def __init__(self, members: dict[str, list[str]]):
        self.members = members
        self._wrapped: dict[str, _Members] = {}

    def __getitem__(self, key):
        found = self._wrapped.get(key)
        if found is None:
            found = self._wrapped[key] = _Members(self.members.get(key, []))
        return found

    def __iter__(self):
        return iter(self.members)

    def __len__(self):
        return len(self.members)

    def __contains__(self, key):
        return True


def import_kolla_ansible(
    path: str,
    globals_file: str | None = None,
    names_file: str | None = None,
    use_package: bool = True,
    share: str | None = None,
    release: str | None = None,
) -> ImportResult:
    """`share` names a kolla-ansible `ansible/` folder to read instead of the installed one;
    `release` the series the inventory is for (else the package's, else the inventory's
    shape says)."""
    table = load_table(SOURCE, names_file)
    names = name_map(table["names"])
    display = os.path.basename(path)
    text = read_text(path, "inventory")
    if text.lstrip().startswith(("{", "[{")) or text.lstrip().startswith('"'):
        raise ImportFailed(
            [
                error(
                    "K050",
                    f"{display} is JSON, not an INI inventory",
                    Span(display, 1, 1, 1, 2),
                    hints=(
                        "for `ansible-inventory --list` output: kostyorc import ansible FILE --map ...",
                        "for OpenStack-Ansible: kostyorc import openstack-ansible FILE",
                    ),
                )
            ],
            {display: text},
        )
    inv = parse_ini(text, display)
    members = inv.members()
    globals_vars, globals_display, globals_text = read_globals(globals_file)

    builder = CloudBuilder(SOURCE, names, "Kolla-Ansible")
    builder.add_source(display, text)
    if globals_display is not None:
        builder.add_source(globals_display, globals_text)
    refuse_unsafe_table(table, names_file)
    for host in ungrouped_hosts(inv, members):
        builder.add(host_in_no_group(inv, host))
    for problem in hosts_named_like_groups(inv):
        builder.add(problem)

    share = share if share is not None else (package_share() if use_package else None)
    series = release_of(table, release, share, inv)
    fallback = services_of(table, series)
    if share is not None:
        declarations, defaults = read_declarations(share)
        origin = "kolla-ansible's role defaults"
    else:
        declarations, defaults = fallback, table["defaults"]
        origin = "kostyor's Kolla-Ansible table"
    fallback_vars = Variables({**table["defaults"], **table["play_defaults"], **globals_vars})
    variables = Variables({**defaults, **table["play_defaults"], **globals_vars})

    groups = dict(members)
    if globals_display is not None:
        check_globals(builder, globals_vars, variables, globals_display, globals_text)
        if builder.has_errors:
            raise builder.fail()
    _shard_groups(groups, variables, fallback_vars)
    groups_view = _Groups(groups)
    base = variables.with_overlay(groups=groups_view)
    fallback_base = fallback_vars.with_overlay(groups=groups_view)

    physical_of: dict[str, list[str]] = {}
    for group in inv.groups.values():
        if group.direct and group.name != "ungrouped":
            for host in group.hosts:
                physical_of.setdefault(host, []).append(group.name)
    cells = _host_values(inv, members, "nova_cell_name")
    for host in inv.host_order:
        span = inv.host_spans.get(host)
        if builder.host(host, f"{display}", span):
            physical = physical_of.get(host)
            if physical:
                builder.label(host, "physical-group", physical_group(physical))
            cell = cells.get(host)
            if cell:
                builder.label(host, "cell", str(cell))

    for role in sorted(set(declarations) | set(fallback)):
        if not _role_enabled(builder, role, table["roles"], base, fallback_base):
            continue
        role_decls = declarations.get(role) or fallback.get(role) or {}
        for service, decl in role_decls.items():
            placed = _place(decl, base, inv.host_order)
            if isinstance(placed, EvaluationError) and placed.hard:
                builder.add(
                    error(
                        "K091",
                        f"{origin}: where {service!r} (role {role}) runs cannot be evaluated "
                        f"safely: {placed}",
                        subject=service,
                        hints=(HARD_HINT,),
                    )
                )
                continue
            if isinstance(placed, EvaluationError):
                backup = (fallback.get(role) or {}).get(service)
                if share is None or backup is None:
                    builder.add(
                        warning(
                            "K059",
                            f"{origin}: cannot tell where {service!r} (role {role}) runs: {placed}",
                            subject=service,
                            hints=("map it by hand in the imported inventory",),
                        )
                    )
                    continue
                builder.add(
                    warning(
                        "K059",
                        f"{origin}: cannot evaluate {service!r} (role {role}): {placed}; "
                        "kostyor's table is used for it",
                        subject=service,
                    )
                )
                placed = _place(backup, fallback_base, inv.host_order)
                if isinstance(placed, EvaluationError):
                    continue
            if isinstance(placed, MissingGroup):
                builder.add(
                    warning(
                        "K059",
                        f"{service!r} (role {role}) runs on the hosts of group {placed.group!r}, "
                        f"which {display} does not define: it runs nowhere",
                        subject=service,
                        hints=(
                            f"the import follows Kolla-Ansible {series}'s layout: for an "
                            "inventory of another release, say --release SERIES",
                            f"else add [{placed.group}:children] to the inventory, as that "
                            "release's own multinode does, or disable the service in globals.yml",
                        ),
                    )
                )
                continue
            container = decl.get("container_name")
            target = container if isinstance(container, str) and "{" not in container else None
            for host in placed:
                builder.service(host, service, f"{origin} (role {role})", target=target)
    if builder.has_errors:
        raise builder.fail()
    return builder.result()


class MissingGroup(list):
    """No host: the declaration's group is not in the inventory at all."""

    def __init__(self, group: str):
        super().__init__()
        self.group = group


def _role_enabled(builder, role, roles, base, fallback_base) -> bool:
    expression = roles.get(role, "{{ enable_" + role.replace("-", "_") + " | bool }}")
    try:
        return to_bool(base.render(expression))
    except EvaluationError as exc:
        if exc.hard:
            builder.add(hard_error(f"whether Kolla-Ansible role {role!r} is enabled", exc, role))
            return False
    try:
        return to_bool(fallback_base.render(expression))
    except EvaluationError as exc:
        if exc.hard:
            builder.add(hard_error(f"whether Kolla-Ansible role {role!r} is enabled", exc, role))
            return False
        builder.add(
            warning(
                "K059",
                f"cannot tell whether Kolla-Ansible role {role!r} is enabled: {exc}; left out",
                subject=role,
                hints=("set its enable_ variable in globals.yml, or map it with --names",),
            )
        )
        return False


def _place(decl: Mapping, base: Variables, hosts: list[str]) -> list[str] | EvaluationError:
    """The hosts a declaration puts its service on (none when it is not enabled)."""
    enabled = decl.get("enabled", True)
    try:
        on = to_bool(base.render(enabled))
    except EvaluationError:
        on = None  # it depends on the host (iscsid): judged host by host below
    try:
        if on is None:
            hosts = [
                h for h in hosts if to_bool(base.with_overlay(inventory_hostname=h).render(enabled))
            ]
        elif not on:
            return []
        if "host_in_groups" in decl:
            expression = decl["host_in_groups"]
            return [
                h
                for h in hosts
                if to_bool(base.with_overlay(inventory_hostname=h).render(expression))
            ]
        group = base.render(decl.get("group"))
        if not isinstance(group, str):
            return EvaluationError(f"its group is {group!r}, not a group name")
        if group not in base["groups"].members:
            return MissingGroup(group)
        allowed = set(hosts)
        return [h for h in base["groups"][group] if h in allowed]
    except EvaluationError as exc:
        return exc


def _shard_groups(groups: dict, variables: Variables, fallback: Variables) -> None:
    """Kolla's mariadb play groups the database hosts by shard (`mariadb_shard_0`) with
    `group_by`; the inventory has only `mariadb`."""
    for scope in (variables, fallback):
        try:
            shard = scope.with_overlay(groups=groups).render("{{ mariadb_shard_group }}")
        except EvaluationError:
            continue
        if isinstance(shard, str) and shard not in groups:
            groups[shard] = list(groups.get("mariadb", []))
        return


def _host_values(inv: AnsibleInventory, members: dict, name: str) -> dict[str, Any]:
    """Each host's value of variable `name`: its own, else its groups' (linear in hosts)."""
    out: dict[str, Any] = {}
    for group in inv.groups.values():
        if name in group.vars:
            for host in members.get(group.name, []):
                out.setdefault(host, group.vars[name])
    for host, variables in inv.hostvars.items():
        if name in variables:
            out[host] = variables[name]
    return out
