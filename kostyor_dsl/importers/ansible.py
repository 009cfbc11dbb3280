"""Any Ansible inventory: `ansible-inventory -i INV --list` and a map of groups -> services.

For home-grown deployments: the operator says which services each group's
hosts run (`--map groups.yaml`), the inventory says which hosts are in which
group (children included).  The map:

    groups:                     # group -> services of the shipped `openstack` order
      controllers: [mariadb, rabbitmq, keystone, nova-api]
      computes: [nova-compute, neutron-openvswitch-agent]
    labels:                     # optional: label -> regular expression on group names,
      az: '^(az[0-9]+)$'        # its first group the value, for every host of the group

A group with hosts that the map names neither as services nor as a label is
reported (it may hold services the plan would miss).
"""

from __future__ import annotations

import os
import re

from kostyor_dsl.importers.ansible_inventory import parse_list_json
from kostyor_dsl.importers.files import load_option_yaml, read_text
from kostyor_dsl.importers.group_checks import (
    host_in_no_group,
    hosts_named_like_groups,
    ungrouped_hosts,
)
from kostyor_dsl.importers.patterns import UnsafePattern, safe_pattern, search
from kostyor_dsl.importers.result import CloudBuilder, ImportFailed, ImportResult, key_span
from kostyor_dsl.importers.tables import name_map
from kostyor_dsl.language.diagnostics import error

SOURCE = "ansible"
STRUCTURE = ("all", "ungrouped")


def read_map(path: str) -> tuple[dict[str, list[str]], dict[str, re.Pattern]]:
    display = os.path.basename(path)
    text = ""

    def fail(message: str, span=None) -> ImportFailed:
        return ImportFailed(
            [
                error(
                    "K057",
                    f"map file: {message}",
                    span,
                    subject=display,
                    hints=("a map is `groups: {GROUP: [SERVICE, ...]}`, optionally `labels:`",),
                )
            ],
            {display: text},
        )

    doc, display, text = load_option_yaml(path, "map file")
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), dict):
        raise fail("it needs a `groups` mapping")
    unknown = sorted(set(doc) - {"groups", "labels"})
    if unknown:
        raise fail(f"unknown section {unknown[0]!r}")
    groups = name_map(doc["groups"], f"map file {display}")
    labels = {}
    for label, pattern in (doc.get("labels") or {}).items():
        try:
            labels[str(label)] = safe_pattern(str(pattern))
        except UnsafePattern as exc:
            raise fail(f"label {label!r}: pattern {str(pattern)!r} refused: {exc}") from None
        except re.error as exc:
            raise fail(f"label {label!r}: bad regular expression: {exc}") from None
        if labels[str(label)].groups < 1:
            raise fail(f"label {label!r}: the expression needs a (group) for the value")
    return groups, labels


def import_ansible(path: str, map_file: str, names_file: str | None = None) -> ImportResult:
    if names_file is not None:
        raise ImportFailed(
            [
                error(
                    "K057",
                    "import ansible takes its names from --map; --names is not used",
                    subject="--names",
                    hints=("put the groups' services in the map file",),
                )
            ]
        )
    groups, labels = read_map(map_file)
    display = os.path.basename(path)
    text = read_text(path, "inventory")
    inv = parse_list_json(text, display, SOURCE)
    members = inv.members()
    builder = CloudBuilder(SOURCE, groups, f"--map {os.path.basename(map_file)}")
    builder.unmapped_hint = (
        "add the group to the map: `groups: {{{name}: [SERVICE, ...]}}` (`[]` for none)"
    )
    builder.add_source(display, text)
    for host in ungrouped_hosts(inv, members):
        builder.add(host_in_no_group(inv, host))
    for problem in hosts_named_like_groups(inv):
        builder.add(problem)
    for group in sorted(inv.groups):
        hosts = members.get(group, [])
        if not hosts or group in STRUCTURE:
            continue
        labelled = False
        for label, rule in labels.items():
            m = search(rule, group)
            if m:
                labelled = True
                for host in hosts:
                    if builder.host(host, f"{display}, group {group!r}"):
                        builder.label(host, label, m.group(1))
        if labelled and group not in groups:
            continue
        origin = f"{display}, group {group!r}"
        span = key_span(text, display, group)
        for host in hosts:
            if builder.host(host, origin, span):
                builder.service(host, group, origin, span=span)
    if builder.has_errors:
        raise builder.fail()
    return builder.result()
