"""Juju: `juju status --format=json` -> an inventory.

Hosts are machines: a unit in a LXD container (`0/lxd/1`) lives on machine
`0`, a subordinate unit (hacluster, mysql-router, ovn-chassis) on its
principal's machine.  Services are charms, each standing for several
upstream services (names/juju.yaml).  The unit names are kept as targets
(`juju run keystone/0 ...`); labels: `juju-machine` and `az` (from the
machine's hardware `availability-zone=`).

A charm whose services depend on an option (cinder's `enabled-services`) is
read with the option from `--bundle` (`juju export-bundle`), or with the
charm's default, said aloud (K094).  The infrastructure charms the charm
guide upgrades on their own (mysql-innodb-cluster, rabbitmq-server, vault)
are marked on their hosts (`juju-infrastructure`) and reported (K095), not
planned.  A unit whose agent is lost, whose workload is in error, or whose
machine is down is recorded `down` (K056, the inventory's `state`).
"""

from __future__ import annotations

import os
import re

from kostyor_dsl.importers.files import load_json, load_option_yaml, read_text, wrong_format
from kostyor_dsl.importers.result import (
    CloudBuilder,
    ImportFailed,
    ImportResult,
    key_span,
    physical_group,
)
from kostyor_dsl.importers.tables import load_table, name_map
from kostyor_dsl.language.diagnostics import error, warning

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


def import_juju(
    path: str, names_file: str | None = None, bundle_file: str | None = None
) -> ImportResult:
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
    bundle = _bundle_options(builder, bundle_file)
    machines = doc["machines"]
    hosts: dict[str, str] = {}  # machine id (top level) -> host name
    machine_down: set[str] = set()
    for machine_id, machine in machines.items():
        if not isinstance(machine, dict):
            builder.add(_not_object(text, display, f"machine {machine_id!r}", machine_id))
            continue
        name = machine.get("hostname") or machine.get("display-name") or f"machine-{machine_id}"
        span = key_span(text, display, str(name)) or key_span(text, display, machine_id)
        if not builder.host(str(name), f"{display}, machine {machine_id}", span):
            continue
        hosts[str(machine_id)] = str(name)
        if _status(machine, "juju-status") == "down":
            machine_down.add(str(machine_id))
        builder.label(str(name), "juju-machine", str(machine_id))
        m = _AZ.search(str(machine.get("hardware") or ""))
        if m:
            builder.label(str(name), "az", m.group(1))
    applications = doc["applications"]
    charms = {
        name: charm_name(app, name) for name, app in applications.items() if isinstance(app, dict)
    }
    infrastructure = table["infrastructure"]
    marked: dict[str, list[str]] = {}  # host -> infrastructure applications on it
    infra_apps: dict[str, set[str]] = {}
    for app_name, app in sorted(applications.items()):
        if not isinstance(app, dict):
            builder.add(_not_object(text, display, f"application {app_name!r}", app_name))
            continue
        units = app.get("units") or {}
        if not isinstance(units, dict):
            builder.add(_not_object(text, display, f"application {app_name!r}: units", app_name))
            continue
        services = _app_services(builder, table, app_name, charms[app_name], bundle)
        for unit_name, unit in sorted(units.items()):
            if not isinstance(unit, dict):
                builder.add(_not_object(text, display, f"unit {unit_name!r}", unit_name))
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
            subordinates = unit.get("subordinates") or {}
            if not isinstance(subordinates, dict):
                builder.add(
                    _not_object(text, display, f"unit {unit_name!r}: subordinates", unit_name)
                )
                continue
            for sub_name in sorted(subordinates):
                sub_app = sub_name.split("/", 1)[0]
                sub_charm = charms.get(sub_app, sub_app)
                if sub_charm in infrastructure:
                    marked.setdefault(host, []).append(sub_app)
                    infra_apps.setdefault(sub_app, set()).add(host)
                    continue
                builder.service(
                    host,
                    sub_charm,
                    f"{display}, application {sub_app!r}",
                    target=sub_name,
                    span=key_span(text, display, sub_name),
                )
            if charms[app_name] in infrastructure:
                marked.setdefault(host, []).append(app_name)
                infra_apps.setdefault(app_name, set()).add(host)
            if services is None:
                builder.service(host, charms[app_name], origin, target=unit_name, span=span)
            else:
                for service in services:
                    builder.extra_service(host, service, unit_name)
            why = _down(unit, top in machine_down)
            if why is not None:
                mapped = services if services is not None else builder.names.get(charms[app_name])
                for service in mapped or ():
                    builder.set_state(host, service, "down")
                builder.add(
                    warning(
                        "K056",
                        f"unit {unit_name!r} on host {host!r} is down ({why}): see to it "
                        "before upgrading",
                        span,
                        subject=f"unit {unit_name!r}",
                        hints=(
                            "the imported inventory records its services `down`: check and "
                            "compile warn, run refuses them without --allow-down",
                        ),
                    )
                )
    for host, apps in marked.items():
        builder.label(host, "juju-infrastructure", physical_group(sorted(apps)))
    if infra_apps:
        listed = "; ".join(
            f"{app} ({charms.get(app, app)}) on {', '.join(sorted(on))}"
            for app, on in sorted(infra_apps.items())
        )
        builder.add(
            warning(
                "K095",
                f"infrastructure charms are upgraded by the charm guide's own procedure, not "
                f"planned with the OpenStack applications: {listed}",
                subject=", ".join(sorted(infra_apps)),
                hints=(
                    "upgrade them before the OpenStack applications as docs/importing.md "
                    "(Juju) says; their hosts carry the label juju-infrastructure",
                ),
            )
        )
    if builder.has_errors:
        raise builder.fail()
    return builder.result()


def _status(entity: dict, key: str) -> str | None:
    status = entity.get(key)
    current = status.get("current") if isinstance(status, dict) else None
    return current if isinstance(current, str) else None


def _down(unit: dict, machine_down: bool) -> str | None:
    """Why a unit is down, or None: its machine down, its agent lost, its workload in error."""
    if machine_down:
        return "its machine is down"
    if _status(unit, "juju-status") == "lost":
        return "its agent is lost"
    if _status(unit, "workload-status") == "error":
        return "its workload is in error"
    return None


def _not_object(text, display, what, key):
    return error(
        "K050",
        f"{display}: {what} must be an object",
        key_span(text, display, key),
        subject=what,
        hints=("write the status with `juju status --format=json`",),
    )


def _bundle_options(builder: CloudBuilder, path: str | None) -> dict[str, dict] | None:
    """application -> its options, from `juju export-bundle` (None: no bundle given)."""
    if path is None:
        return None
    doc, display, text = load_option_yaml(path, "bundle")
    builder.add_source(display, text)
    apps = doc.get("applications", doc.get("services")) if isinstance(doc, dict) else None
    if not isinstance(apps, dict):
        raise ImportFailed(
            [
                error(
                    "K057",
                    f"{display} is not a bundle: it needs `applications:`",
                    subject=display,
                    hints=("write it with `juju export-bundle -m MODEL > bundle.yaml`",),
                )
            ],
            {display: text},
        )
    out = {}
    for name, app in apps.items():
        options = app.get("options") if isinstance(app, dict) else None
        out[str(name)] = options if isinstance(options, dict) else {}
    return out


def _app_services(builder, table, app_name, charm, bundle) -> list[str] | None:
    """The services an application runs when its charm's options decide them; None for
    the name table's."""
    rules = table["options"].get(charm)
    if not isinstance(rules, dict):
        return None
    services: list[str] = []
    for option, rule in rules.items():
        given = None if bundle is None else (bundle.get(app_name) or {}).get(option)
        value = str(rule["default"]) if given is None else str(given)
        if given is None:
            why = "no --bundle given" if bundle is None else "the bundle does not set it"
            builder.add(
                warning(
                    "K094",
                    f"application {app_name!r} (charm {charm}): {option} assumed "
                    f"{value!r}, the charm's default ({why})",
                    subject=f"application {app_name!r}",
                    hints=(
                        "give the model's bundle: juju export-bundle > bundle.yaml, "
                        "then --bundle bundle.yaml",
                    ),
                )
            )
        for word in filter(None, (w.strip() for w in value.split(","))):
            mapped = rule.get(word)
            if not isinstance(mapped, list):
                builder.add(
                    error(
                        "K057",
                        f"application {app_name!r}: {option} {word!r} is not one the table "
                        f"knows ({', '.join(k for k in rule if k != 'default')})",
                        subject=f"application {app_name!r}",
                    )
                )
                continue
            services.extend(s for s in mapped if s not in services)
    return services
