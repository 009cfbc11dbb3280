"""`kostyorc import merge A.yaml B.yaml ...`: one inventory from several imports.

The OpenStack API lists what registers itself (nova-compute, conductors,
agents) but not the API services; a deployment's own Ansible inventory lists
those.  Merging takes kostyor inventories (each validated as `check` reads
it) and joins them by host name: services are unioned, labels joined, and a
label given two different values for one host is an error (K050) naming the
host, the label, both values and their files; targets are unioned per
service.  The output is byte-stable like every import.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from kostyor_dsl.importers.result import ImportedHost, ImportFailed, ImportResult
from kostyor_dsl.inventory.read import read_inventory
from kostyor_dsl.language.diagnostics import error


def merge_inventories(paths: Sequence[str]) -> ImportResult:
    diagnostics = []
    sources: dict[str, str] = {}
    services: dict[str, set[str]] = {}
    labels: dict[str, dict[str, tuple[str, str]]] = {}
    targets: dict[str, dict[str, set[str]]] = {}
    if len(paths) < 2:
        raise ImportFailed([error("K057", "import merge needs two or more inventories")])
    for path in paths:
        checked = read_inventory(path)
        sources.update(checked.sources)
        failed = [d for d in checked.diagnostics if d.is_error]
        if failed or checked.inventory is None:
            diagnostics.extend(failed)
            continue
        display = os.path.basename(path)
        inventory = checked.inventory
        for host in inventory.hosts:
            services.setdefault(host.name, set()).update(host.services)
            known = labels.setdefault(host.name, {})
            for key, value in host.labels:
                seen = known.get(key)
                if seen is None:
                    known[key] = (value, display)
                elif seen[0] != value:
                    diagnostics.append(
                        error(
                            "K050",
                            f"host {host.name!r}: label {key!r} is {seen[0]!r} in {seen[1]} "
                            f"but {value!r} in {display}",
                            subject=host.name,
                        )
                    )
            for service, names in (inventory.targets.get(host.name) or {}).items():
                targets.setdefault(host.name, {}).setdefault(service, set()).update(names)
    if diagnostics:
        raise ImportFailed(diagnostics, sources)
    hosts = tuple(
        ImportedHost(
            name=name,
            services=tuple(sorted(services[name])),
            labels=tuple(sorted((k, v) for k, (v, _) in labels[name].items())),
            targets=tuple(
                (service, tuple(sorted(names)))
                for service, names in sorted((targets.get(name) or {}).items())
            ),
        )
        for name in sorted(services)
    )
    return ImportResult(
        source="merge",
        inputs=tuple(os.path.basename(p) for p in paths),
        hosts=hosts,
        diagnostics=(),
        sources=sources,
    )
