"""An import's result as the inventory document (schemas/inventory.schema.json), written
byte-stable: hosts by name (digits as numbers), services and keys sorted, no
timestamps, no paths but the input files' base names.

YAML is written here, not by PyYAML's representer: at 10,000 hosts that alone
took eight times as long as reading the tool's JSON.  A scalar is written
plain only when no YAML reader can take it for anything but that string;
anything else is written as a JSON string, which is valid YAML.  A test
reads every output back with PyYAML and compares.
"""

from __future__ import annotations

import json
import re
from typing import TextIO

from kostyor_dsl.gc_paused import gc_paused
from kostyor_dsl.importers.result import ImportResult

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.@/-]*\Z")
_RESERVED = frozenset(
    "yes no true false on off null y n".split()
)  # YAML 1.1 booleans and null, any case


def scalar(value) -> str:
    if isinstance(value, (bool, int)):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow_list(items) -> str:
    return "[" + ", ".join(map(scalar, items)) + "]"


def _state_value(what: tuple[str, ...]):
    return what[0] if len(what) == 1 else list(what)


def inventory_document(result: ImportResult) -> dict:
    hosts = []
    for host in result.hosts:
        entry: dict = {"name": host.name, "services": list(host.services)}
        if host.labels:
            entry["labels"] = {k: list(v) if isinstance(v, tuple) else v for k, v in host.labels}
        if host.targets:
            entry["targets"] = {service: list(names) for service, names in host.targets}
        if host.state:
            entry["state"] = {service: _state_value(w) for service, w in host.state}
        hosts.append(entry)
    return {"hosts": hosts}


def write_inventory(result: ImportResult, fmt: str, stream: TextIO) -> None:
    with gc_paused():
        _write(result, fmt, stream)


def _write(result: ImportResult, fmt: str, stream: TextIO) -> None:
    if fmt == "json":
        stream.write(json.dumps(inventory_document(result), indent=2, sort_keys=True) + "\n")
        return
    out = [
        f"# Imported by `kostyorc import {result.source}` from {', '.join(result.inputs)}.\n"
        "# Re-run the import after changing the deployment; check it with\n"
        "# `kostyorc check openstack -i FILE`.\n"
        "hosts:" + (" []" if not result.hosts else "")
    ]
    lines: dict[tuple[str, ...], str] = {}  # hosts alike share their services line
    label_lines: dict[tuple, str] = {}
    append = out.append
    for host in result.hosts:
        append(f"- name: {scalar(host.name)}")
        services = lines.get(host.services)
        if services is None:
            services = lines[host.services] = "  services: " + _flow_list(host.services)
        append(services)
        if host.labels:
            labels = label_lines.get(host.labels)
            if labels is None:
                pairs = ", ".join(
                    f"{scalar(k)}: {_flow_list(v) if isinstance(v, tuple) else scalar(v)}"
                    for k, v in host.labels
                )
                labels = label_lines[host.labels] = "  labels: {" + pairs + "}"
            append(labels)
        if host.state:
            pairs = ", ".join(
                f"{scalar(service)}: " + (scalar(w[0]) if len(w) == 1 else _flow_list(w))
                for service, w in host.state
            )
            append("  state: {" + pairs + "}")
        if host.targets:
            append("  targets:")
            for service, names in host.targets:
                append(f"    {scalar(service)}: {_flow_list(names)}")
    stream.write("\n".join(out) + "\n")
