"""OpenStack-Ansible: `/etc/openstack_deploy/openstack_inventory.json` -> an inventory.

Services are OSA's component groups (`nova_api_os_compute`, `galera`, ...):
each member of such a group, a container or a bare-metal host, runs the
component, and lives on `_meta.hostvars[member].physical_host`.  The
`component` hostvar is not used: it holds only the last component assigned.
The container names are kept as the services' `targets`, for a driver that
runs `openstack-ansible os-nova-install.yml --limit CONTAINER`.

The operator's `user_variables*.yml` (`--user-variables`, repeatable) say
which ML2 plugin runs (`neutron_plugin_type`, `neutron_plugin_types`) and
which optional agents os_neutron enables (`neutron_plugin_base`,
`neutron_bgp`, `neutron_metering`): OSA's inventory puts hosts in the groups
of every plugin and optional agent whatever runs.
"""

from __future__ import annotations

import functools
import os
import re

from kostyor_dsl.importers.ansible_inventory import parse_list_json
from kostyor_dsl.importers.ansible_vars import EvaluationError, to_bool
from kostyor_dsl.importers.files import load_option_yaml, read_text
from kostyor_dsl.importers.group_checks import (
    host_in_no_group,
    hosts_named_like_groups,
    ungrouped_hosts,
)
from kostyor_dsl.importers.patterns import UnsafePattern, safe_pattern, search
from kostyor_dsl.importers.result import (
    CloudBuilder,
    ImportFailed,
    ImportResult,
    key_span,
    physical_group,
)
from kostyor_dsl.importers.tables import load_table, name_map
from kostyor_dsl.language.diagnostics import error, warning

SOURCE = "openstack-ansible"
PLUGIN_ALIASES = {"linuxbridge": "lxb", "openvswitch": "ovs", "ovs.dvr": "ovs"}


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
    path: str,
    neutron_plugin: str | None = None,
    names_file: str | None = None,
    user_variables: list[str] | None = None,
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
    settings = _user_settings(builder, user_variables or [])

    plugin_dependent = {c for comps in plugins.values() for c in comps}
    asked, said_by = plugin_names(neutron_plugin), "--neutron-plugin"
    if asked is None and settings.plugins is not None:
        asked, said_by = settings.plugins, "neutron_plugin_type(s) of --user-variables"
    chosen = _choose_plugins(builder, plugins, asked, members, display, said_by)
    kept = {c for p in chosen for c in plugins[p]}
    extra = {}  # component -> services it also runs with the chosen plugins
    for plugin in chosen:
        for component, services in (table["plugin_services"].get(plugin) or {}).items():
            extra.setdefault(component, []).extend(services)
    structure = [_pattern(p, "structure", k) for k, p in table["structure"].items()]
    label_rules = {label: _pattern(p, "labels", label) for label, p in table["labels"].items()}

    for host in ungrouped_hosts(inv, members):
        builder.add(host_in_no_group(inv, host))
    for problem in hosts_named_like_groups(inv):
        builder.add(problem)
    hostvars = inv.hostvars
    physical_of = {}  # container -> the machine it lives on (a host lives on itself)
    for member, variables in hostvars.items():
        physical = variables.get("physical_host") if type(variables) is dict else None
        if physical != member and isinstance(physical, str) and physical:
            physical_of[member] = physical
    left_out: dict[str, list[str]] = {}  # group -> its hosts, not run (plugin, option)
    assumed: list[str] = []
    for group in sorted(inv.groups):
        hosts = members.get(group, [])
        if not hosts:
            continue
        origin = f"{display}, group {group!r}"
        span = functools.partial(key_span, text, display, group)
        for label, rule in label_rules.items():
            m = search(rule, group)
            if m:
                builder.label_all(hosts, label, m.group(1), origin, span, physical_of)
        if group not in names and (
            any(search(rule, group) for rule in structure)
            or any(search(rule, group) for rule in label_rules.values())
        ):
            continue
        if group in plugin_dependent and group not in kept:
            left_out[group] = hosts
            continue
        option = table["optional"].get(group)
        if option is not None:
            if settings.variables is None:
                assumed.append(group)
            elif not _optional_enabled(option, settings):
                left_out[group] = hosts
                continue
        builder.run_on(hosts, group, origin, span, physical_of)
        if group in extra:
            _also_run(builder, hosts, extra[group], physical_of)
    builder.label_each("physical-group", _physical_groups(inv, builder, members, label_rules))
    _report_left_out(builder, left_out, physical_of, chosen)
    if assumed:
        builder.add(
            warning(
                "K094",
                f"{display}: {', '.join(assumed)} assumed to run: os_neutron runs them only "
                "when the operator's variables enable them",
                subject=", ".join(assumed),
                hints=(
                    "give the operator's files: --user-variables "
                    "/etc/openstack_deploy/user_variables.yml (repeatable)",
                ),
            )
        )
    if "ovn" in chosen and not members.get("neutron_ovn_northd"):
        builder.add(
            error(
                "K093",
                f"{display}: the cloud runs OVN, but no host is in neutron_ovn_northd: "
                "nothing would upgrade the OVN databases and northd",
                subject="neutron_ovn_northd",
                hints=(
                    "in openstack_user_config.yml, OVN needs `network-northd_hosts` (OSA 2023.1 "
                    "on); or the plugin is not OVN: say --neutron-plugin ovs",
                ),
            )
        )
    if builder.has_errors:
        raise builder.fail()
    return builder.result()


def _pattern(pattern: str, section: str, key: str):
    try:
        return safe_pattern(str(pattern))
    except (UnsafePattern, re.error) as exc:
        raise ImportFailed(
            [
                error(
                    "K057",
                    f"names table, {section}.{key}: pattern {str(pattern)!r} refused: {exc}",
                    subject=f"{section}.{key}",
                )
            ]
        ) from None


def _also_run(builder, members, services, physical_of) -> None:
    for member in members:
        host = physical_of.get(member, member)
        for service in services:
            builder.extra_service(host, service, member)


class _Settings:
    """What the operator's user_variables*.yml say (None: not given)."""

    def __init__(self) -> None:
        self.plugins: list[str] | None = None
        self.plugin_base: list[str] = []
        self.plugin_types: list[str] = []
        self.variables: dict | None = None


def _user_settings(builder: CloudBuilder, paths: list[str]) -> _Settings:
    settings = _Settings()
    if not paths:
        return settings
    merged: dict = {}
    for path in paths:  # later files win, as Ansible reads user_variables*.yml in order
        doc, display, text = load_option_yaml(path, "user variables file")
        builder.add_source(display, text)
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ImportFailed(
                [error("K057", f"{display}: user variables are a mapping", subject=display)],
                {display: text},
            )
        merged.update(doc)
    settings.variables = merged
    plugin_type = merged.get("neutron_plugin_type", "ml2.ovn")  # os_neutron's default
    types = merged.get("neutron_plugin_types") or []
    base = merged.get("neutron_plugin_base") or ["ovn-router"]
    for value, name in ((types, "neutron_plugin_types"), (base, "neutron_plugin_base")):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ImportFailed(
                [error("K057", f"{name} must be a list of names", subject=name)], builder.sources
            )
    if not isinstance(plugin_type, str):
        raise ImportFailed(
            [error("K057", "neutron_plugin_type must be a name", subject="neutron_plugin_type")],
            builder.sources,
        )
    settings.plugin_types = [plugin_type, *types]
    settings.plugin_base = list(base)
    settings.plugins = [p for p in plugin_names(",".join([plugin_type, *types])) or []]
    settings.plugins = [p for p in dict.fromkeys(settings.plugins) if p != "baremetal"]
    return settings


def _optional_enabled(option: dict, settings: _Settings) -> bool:
    variable = option.get("variable")
    if variable and variable in settings.variables:
        value = settings.variables[variable]
        if not (isinstance(value, str) and "{" in value):
            try:
                return to_bool(value)
            except EvaluationError:
                return False
    if option.get("plugin_base") in settings.plugin_base:
        return True
    return option.get("plugin_types") in settings.plugin_types


def _physical_groups(inv, builder, members, label_rules) -> dict:
    """Each host's own physical groups: the `*_hosts` groups that list it (not a
    container of it) directly; OSA's `physical_host_group` hostvar keeps only the last."""
    found: dict[str, list[str]] = {}
    for name, group in sorted(inv.groups.items()):
        if not name.endswith("_hosts") or name == "lxc_hosts":
            continue
        if any(search(rule, name) for rule in label_rules.values()):
            continue
        for host in group.hosts:
            found.setdefault(host, []).append(name)
    out = {}
    for host in builder.known_hosts():
        groups = found.get(host)
        if groups is not None:
            out[host] = groups[0] if len(groups) == 1 else physical_group(groups)
            continue
        variables = inv.hostvars.get(host)
        if type(variables) is dict and type(variables.get("physical_host_group")) is str:
            out[host] = variables["physical_host_group"]
    return out


def _report_left_out(builder, left_out, physical_of, chosen) -> None:
    """Every host a plugin choice or an option leaves with nothing to run, named."""
    if not left_out:
        return
    known = set(builder.known_hosts())
    dropped: dict[str, list[str]] = {}
    for group, members in left_out.items():
        for member in members:
            host = physical_of.get(member, member)
            if host not in known:
                dropped.setdefault(host, []).append(group)
    if not dropped:
        return
    named = "; ".join(f"{h} ({', '.join(sorted(set(g)))})" for h, g in sorted(dropped.items()))
    builder.add(
        warning(
            "K092",
            f"{len(dropped)} host{'s' if len(dropped) != 1 else ''} left out: in groups the "
            f"chosen neutron plugin ({', '.join(chosen) or 'none'}) and options do not run: "
            f"{named}",
            subject=", ".join(sorted(dropped)),
            hints=(
                "if they do run neutron, the plugin is wrong: check neutron_plugin_type in "
                "user_variables.yml, or say --neutron-plugin",
            ),
        )
    )


def _choose_plugins(
    builder, plugins, asked, members, display, said_by="--neutron-plugin"
) -> list[str]:
    if asked is not None:
        unknown = [p for p in asked if p not in plugins]
        if unknown:
            raise ImportFailed(
                [
                    error(
                        "K057",
                        f"unknown {said_by} {', '.join(unknown)}",
                        subject=said_by,
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
                    f"({', '.join(groups)}): give the operator's --user-variables, or say "
                    "which the cloud runs with --neutron-plugin",
                    subject="--neutron-plugin",
                    hints=(
                        "OpenStack-Ansible puts every compute in every plugin's group; the real "
                        "one is neutron_plugin_type in /etc/openstack_deploy/user_variables.yml: "
                        "--user-variables /etc/openstack_deploy/user_variables.yml reads it",
                        "for example: --neutron-plugin ovs (ml2.ovs), --neutron-plugin ovn, "
                        "--neutron-plugin ovs,sriov",
                    ),
                )
            ]
        )
    return used


def _count(plugins, component) -> int:
    return sum(component in comps for comps in plugins.values())
