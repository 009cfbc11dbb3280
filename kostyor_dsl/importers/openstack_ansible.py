"""OpenStack-Ansible: `/etc/openstack_deploy/openstack_inventory.json` -> an inventory.

Services are OSA's component groups (`nova_api_os_compute`, `galera`, ...):
each member of such a group, a container or a bare-metal host, runs the
component, and lives on `_meta.hostvars[member].physical_host`.  The
`component` hostvar is not used: it holds only the last component assigned.
The container names are kept as the services' `targets`, for a driver that
runs `openstack-ansible os-nova-install.yml --limit CONTAINER`.
"""

from __future__ import annotations

import functools
import os
import re

from kostyor_dsl.importers.ansible_inventory import (
    host_in_no_group,
    parse_list_json,
    ungrouped_hosts,
)
from kostyor_dsl.importers.files import read_text
from kostyor_dsl.importers.result import CloudBuilder, ImportFailed, ImportResult, key_span
from kostyor_dsl.importers.tables import load_table, name_map
from kostyor_dsl.language.diagnostics import error

SOURCE = "openstack-ansible"
PLUGIN_ALIASES = {"linuxbridge": "lxb", "openvswitch": "ovs"}


def plugin_names(value: str | None) -> list[str] | None:
    """`--neutron-plugin ovs,sriov` or OSA's own `ml2.ovn` -> plugin names."""
    if value is None:
        return None
    out = []
    for part in value.split(","):
        name = part.strip().lower()
        name = name.removeprefix("ml2.")
        out.append(PLUGIN_ALIASES.get(name, name))
    return [p for p in out if p]


def import_openstack_ansible(
    path: str, neutron_plugin: str | None = None, names_file: str | None = None
) -> ImportResult:
    table = load_table(SOURCE, names_file)
    names = name_map(table["names"])
    plugins = {k: list(v) for k, v in table["plugins"].items()}
    display = os.path.basename(path)
    text = read_text(path, "inventory")
    inv = parse_list_json(text, display, SOURCE)
    members = inv.members()
    builder = CloudBuilder(SOURCE, names, "OpenStack-Ansible")
    builder.add_source(display, text)

    plugin_dependent = {c for comps in plugins.values() for c in comps}
    chosen = _choose_plugins(builder, plugins, plugin_names(neutron_plugin), members, display)
    kept = {c for p in chosen for c in plugins[p]}
    structure = [re.compile(p) for p in table["structure"].values()]
    label_rules = {label: re.compile(p) for label, p in table["labels"].items()}

    for host in ungrouped_hosts(inv, members):
        builder.add(host_in_no_group(inv, host))
    hostvars = inv.hostvars
    physical_of = {}  # container -> the machine it lives on (a host lives on itself)
    for member, variables in hostvars.items():
        physical = variables.get("physical_host") if type(variables) is dict else None
        if physical != member and isinstance(physical, str) and physical:
            physical_of[member] = physical
    for group in sorted(inv.groups):
        hosts = members.get(group, [])
        if not hosts:
            continue
        origin = f"{display}, group {group!r}"
        span = functools.partial(key_span, text, display, group)
        for label, rule in label_rules.items():
            m = rule.search(group)
            if m:
                builder.label_all(hosts, label, m.group(1), origin, span, physical_of)
        if group not in names and (
            any(rule.search(group) for rule in structure)
            or any(rule.search(group) for rule in label_rules.values())
        ):
            continue
        if group in plugin_dependent and group not in kept:
            continue
        builder.run_on(hosts, group, origin, span, physical_of)
    physical_groups = {}
    for host in builder.known_hosts():
        variables = hostvars.get(host)
        if type(variables) is dict:
            group_of = variables.get("physical_host_group")
            if type(group_of) is str:
                physical_groups[host] = group_of
    builder.label_each("physical-group", physical_groups)
    if builder.has_errors:
        raise builder.fail()
    return builder.result()


def _choose_plugins(builder, plugins, asked, members, display) -> list[str]:
    if asked is not None:
        unknown = [p for p in asked if p not in plugins]
        if unknown:
            raise ImportFailed(
                [
                    error(
                        "K057",
                        f"unknown --neutron-plugin {', '.join(unknown)}",
                        subject="--neutron-plugin",
                        hints=(
                            "plugins: " + ", ".join(sorted(plugins)) + " (or OSA's ml2.ovs, ...)",
                        ),
                    )
                ]
            )
        return asked
    # Only the plugin-specific groups (not l3/dhcp, which ovs and lxb share) tell plugins apart.
    shared = {c for comps in plugins.values() for c in comps if _count(plugins, c) > 1}
    used = sorted(
        p for p, comps in plugins.items() if any(members.get(c) for c in comps if c not in shared)
    )
    if len(used) > 1:
        groups = sorted(c for p in used for c in plugins[p] if c not in shared and members.get(c))
        raise ImportFailed(
            [
                error(
                    "K057",
                    f"{display} puts hosts in the groups of several neutron plugins "
                    f"({', '.join(groups)}): say which the cloud runs with --neutron-plugin",
                    subject="--neutron-plugin",
                    hints=(
                        "OpenStack-Ansible puts every compute in every plugin's group; the real "
                        "one is neutron_plugin_type in /etc/openstack_deploy/user_variables.yml",
                        "for example: --neutron-plugin ovs (ml2.ovs), --neutron-plugin ovn, "
                        "--neutron-plugin ovs,sriov",
                    ),
                )
            ]
        )
    return used


def _count(plugins, component) -> int:
    return sum(component in comps for comps in plugins.values())
