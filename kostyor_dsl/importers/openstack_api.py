"""The OpenStack API's own lists -> an inventory, for any deployment tool.

Reads `openstack compute service list -f json`, `openstack network agent list
-f json` and `openstack volume service list -f json` (and the raw API
responses, `{"services": [...]}` and `{"agents": [...]}`), any number of files
merged by host.  A disabled or down service is a fact to see before
upgrading: it is kept, with a warning and the labels `disabled` / `down`
naming it.  cinder-volume's `host@backend` is its host, the backend kept as
its target.  Labels: `az` from nova-compute's zone, `volume-az` and
`network-az` from the others.
"""

from __future__ import annotations

import os

from kostyor_dsl.importers.files import describe, load_json, read_text, wrong_format
from kostyor_dsl.importers.result import CloudBuilder, ImportResult, key_span
from kostyor_dsl.importers.tables import load_table, name_map
from kostyor_dsl.language.diagnostics import error, warning

SOURCE = "openstack"


def _normal(record: dict) -> dict:
    return {str(k).strip().lower().replace(" ", "_"): v for k, v in record.items()}


def _records(doc):
    if isinstance(doc, dict):
        for key in ("services", "agents"):
            if isinstance(doc.get(key), list):
                return doc[key]
        return None
    return doc if isinstance(doc, list) else None


def import_openstack_api(paths: list[str], names_file: str | None = None) -> ImportResult:
    table = load_table(SOURCE, names_file)
    builder = CloudBuilder(SOURCE, name_map(table["names"]), "OpenStack API")
    for path in paths:
        display = os.path.basename(path)
        text = read_text(path, "service list")
        builder.add_source(display, text)
        doc = load_json(text, display, "the service list")
        records = _records(doc)
        if records is None or (records and describe(doc) not in ("openstack", None)):
            raise wrong_format(doc, display, SOURCE, text)
        for index, raw in enumerate(records):
            _record(builder, display, text, index, raw)
    if builder.has_errors:
        raise builder.fail()
    return builder.result()


def _record(builder: CloudBuilder, display: str, text: str, index: int, raw) -> None:
    where = f"{display}, entry {index + 1}"
    if not isinstance(raw, dict):
        builder.add(error("K050", f"{where}: an entry must be an object", subject=where))
        return
    rec = _normal(raw)
    binary, host = rec.get("binary"), rec.get("host")
    if not isinstance(binary, str) or not binary or not isinstance(host, str) or not host:
        builder.add(
            error(
                "K050",
                f"{where}: every entry needs a Binary and a Host",
                subject=where,
                hints=("the lists come from `openstack ... list -f json`",),
            )
        )
        return
    target = None
    if "@" in host:  # cinder-volume's host@backend
        target, host = host, host.split("@", 1)[0]
    span = key_span(text, display, host) if target is None else key_span(text, display, target)
    if not builder.host(host, where, span):
        return
    builder.service(host, binary, display, target=target, span=span)
    mapped = builder.names.get(binary) or []
    _state(builder, rec, host, binary, mapped, where)
    zone = rec.get("zone") or rec.get("availability_zone")
    if isinstance(zone, str) and zone and zone != "internal":
        if binary == "nova-compute":
            builder.label(host, "az", zone)
        elif binary.startswith("cinder-"):
            builder.label(host, "volume-az", zone)
        else:
            builder.label(host, "network-az", zone)


def _state(builder, rec, host, binary, mapped, where) -> None:
    disabled = down = False
    if "status" in rec:  # compute and volume services: enabled/disabled, up/down
        disabled = str(rec.get("status")).lower() == "disabled"
        down = str(rec.get("state")).lower() == "down"
    else:  # network agents: Alive and State (admin state) are booleans in JSON
        alive = rec.get("alive")
        admin = rec.get("state", rec.get("admin_state_up"))
        down = alive is False or alive in ("XXX", "xxx")
        disabled = admin is False or admin == "DOWN"
    if rec.get("forced_down") is True:
        down = True
    for flag, what in ((disabled, "disabled"), (down, "down")):
        if not flag:
            continue
        for service in mapped or [binary]:
            builder.add_to_label(host, what, service)
            if mapped:
                builder.set_state(host, service, what)
        reason = rec.get("disabled_reason") if what == "disabled" else rec.get("updated_at")
        detail = ""
        if what == "disabled" and reason:
            detail = f" (reason: {reason})"
        elif what == "down" and reason:
            detail = f" (last seen {reason})"
        builder.add(
            warning(
                "K056",
                f"{binary} on host {host!r} is {what}{detail}: see to it before upgrading",
                subject=f"host {host!r}, service {binary!r}",
                hints=(
                    f"the imported inventory records it (`state: {{SERVICE: {what}}}`, label "
                    f"`{what}`): check and compile warn, run refuses a down service",
                ),
            )
        )
