"""An import's result as the inventory document (schemas/inventory.schema.json), written
byte-stable: hosts by name (digits as numbers), services and keys sorted, no
timestamps, no paths but the input files' base names."""

from __future__ import annotations

import json
from typing import TextIO

import yaml

from kostyor_dsl.importers.result import ImportResult

Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def inventory_document(result: ImportResult) -> dict:
    hosts = []
    for host in result.hosts:
        entry: dict = {"name": host.name, "services": list(host.services)}
        if host.labels:
            entry["labels"] = dict(host.labels)
        if host.targets:
            entry["targets"] = {service: list(names) for service, names in host.targets}
        hosts.append(entry)
    return {"hosts": hosts}


def write_inventory(result: ImportResult, fmt: str, stream: TextIO) -> None:
    doc = inventory_document(result)
    if fmt == "json":
        stream.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return
    stream.write(
        f"# Imported by `kostyorc import {result.source}` from {', '.join(result.inputs)}.\n"
        "# Re-run the import after changing the deployment; check it with\n"
        "# `kostyorc check openstack -i FILE`.\n"
    )
    stream.write(yaml.dump(doc, Dumper=Dumper, sort_keys=False, default_flow_style=None, width=100))
