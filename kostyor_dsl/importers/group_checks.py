"""What is wrong with an Ansible inventory's hosts as its groups see them: a host in
no group (K052), a host named like a group, which `--limit` would read as the
group (K054)."""

from __future__ import annotations

from kostyor_dsl.importers.ansible_inventory import AnsibleInventory
from kostyor_dsl.importers.result import key_span
from kostyor_dsl.language.diagnostics import error


def ungrouped_hosts(inv: AnsibleInventory, members: dict[str, list[str]]) -> list[str]:
    """Hosts in no group but `all` and `ungrouped` (hostvars of a host no group lists too)."""
    top = ("all", "ungrouped")
    listed = set(inv.host_order)
    candidates = [h for g in top if g in inv.groups for h in inv.groups[g].hosts]
    candidates += [h for h in inv.hostvars.keys() - listed]
    if not candidates:
        return []
    grouped = set().union(*(hosts for name, hosts in members.items() if name not in top))
    order = {h: i for i, h in enumerate(inv.host_order)}
    found = [h for h in dict.fromkeys(candidates) if h not in grouped]
    return sorted(found, key=lambda h: (order.get(h, len(order)), h))


def host_in_no_group(inv: AnsibleInventory, host: str):
    span = inv.host_spans.get(host) or key_span(inv.text, inv.display, host)
    return error(
        "K052",
        f"host {host!r} is in no group",
        span,
        subject=f"host {host!r}",
        hints=("put it under a [group] header, or remove it",),
    )


def hosts_named_like_groups(inv: AnsibleInventory) -> list:
    """K054 for each host (or container) that has the name of a group: `--limit NAME`
    selects the group (Ansible prefers a group to a host of the same name), so
    the step would run on every host of it."""
    out = []
    names = set(inv.host_order) | set(inv.hostvars)
    for name in sorted(names & inv.groups.keys() - {"all", "ungrouped"}):
        out.append(
            error(
                "K054",
                f"host {name!r} has the name of a group of {inv.display}: `--limit {name}` "
                "would select the whole group",
                inv.host_spans.get(name) or key_span(inv.text, inv.display, name),
                subject=f"host {name!r}",
                hints=("rename the host or the group: Ansible reads the name as the group",),
            )
        )
    return out
