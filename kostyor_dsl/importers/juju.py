"""Juju: `juju status --format=json` -> an inventory.

Hosts are machines: a unit in a LXD container (`0/lxd/1`) lives on machine
`0`, a subordinate unit (hacluster, mysql-router, ovn-chassis) on its
principal's machine.  Services are charms, each standing for several
upstream services (names/juju.yaml).  The unit names are kept as targets
(`juju run keystone/0 ...`); labels: `juju-machine` and `az` (from the
machine's hardware `availability-zone=`).
"""

from __future__ import annotations

import os
import re

from kostyor_dsl.importers.files import load_json, read_text, wrong_format
from kostyor_dsl.importers.result import CloudBuilder, ImportResult, key_span
from kostyor_dsl.importers.tables import load_table, name_map
from kostyor_dsl.language.diagnostics import error

SOURCE = "juju"
_AZ = re.compile(r"(?:^|\s)availability-zone=(\S+)")


def charm_name(app: dict, app_name: str) -> str:
    """`ch:amd64/focal/keystone-643`, `cs:keystone-300`, `keystone` -> `keystone`."""
    for key in ("charm-name", "charm"):
        charm = app.get(key)
        if isinstance(charm, str) and charm:
            charm = charm.split(":", 1)[-1].rsplit("/", 1)[-1]
            return re.sub(r"-\d+$", "", charm)
    return app_name


def import_juju(path: str, names_file: str | None = None) -> ImportResult:
    table = load_table(SOURCE, names_file)
    builder = CloudBuilder(SOURCE, name_map(table["names"]), "Juju")
    display = os.path.basename(path)
    text = read_text(path, "juju status")
    builder.add_source(display, text)
    doc = load_json(
        text, display, "the juju status", hint="write it with `juju status --format=json`"
    )
    if not isinstance(doc, dict) or not isinstance(doc.get("machines"), dict):
        raise wrong_format(doc, display, SOURCE, text)
    if not isinstance(doc.get("applications"), dict):
        raise wrong_format(doc, display, SOURCE, text)
    machines = doc["machines"]
    hosts: dict[str, str] = {}  # machine id (top level) -> host name
    for machine_id, machine in machines.items():
        if not isinstance(machine, dict):
            builder.add(
                error(
                    "K050",
                    f"machine {machine_id!r} must be an object",
                    key_span(text, display, machine_id),
                )
            )
            continue
        name = machine.get("hostname") or machine.get("display-name") or f"machine-{machine_id}"
        span = key_span(text, display, str(name)) or key_span(text, display, machine_id)
        if not builder.host(str(name), f"{display}, machine {machine_id}", span):
            continue
        hosts[str(machine_id)] = str(name)
        builder.label(str(name), "juju-machine", str(machine_id))
        m = _AZ.search(str(machine.get("hardware") or ""))
        if m:
            builder.label(str(name), "az", m.group(1))
    charms = {
        name: charm_name(app, name)
        for name, app in doc["applications"].items()
        if isinstance(app, dict)
    }
    for app_name, app in sorted(doc["applications"].items()):
        if not isinstance(app, dict):
            continue
        for unit_name, unit in sorted((app.get("units") or {}).items()):
            if not isinstance(unit, dict):
                continue
            machine = str(unit.get("machine", ""))
            top = machine.split("/", 1)[0]
            host = hosts.get(top)
            span = key_span(text, display, unit_name)
            if host is None:
                builder.add(
                    error(
                        "K050",
                        f"unit {unit_name!r} is on machine {machine!r}, which the status does not list",
                        span,
                        subject=f"unit {unit_name!r}",
                    )
                )
                continue
            origin = f"{display}, application {app_name!r}"
            builder.service(host, charms[app_name], origin, target=unit_name, span=span)
            for sub_name in sorted(unit.get("subordinates") or {}):
                sub_app = sub_name.split("/", 1)[0]
                builder.service(
                    host,
                    charms.get(sub_app, sub_app),
                    f"{display}, application {sub_app!r}",
                    target=sub_name,
                    span=key_span(text, display, sub_name),
                )
    if builder.has_errors:
        raise builder.fail()
    return builder.result()
