"""Reading an importer's input: text, JSON with its line and column, and which format it is.

A file of another tool's format gets an error that names what it looks like
and the command that reads it, not a puzzling complaint about a missing key.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from kostyor_dsl.importers.result import ImportFailed
from kostyor_dsl.inventory.documents import DocumentError, load_document, load_json_document
from kostyor_dsl.language.diagnostics import Label, Span, error


def read_text(path: str, what: str) -> str:
    display = os.path.basename(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ImportFailed(
            [error("K050", f"cannot read {what} '{path}': {exc.strerror or exc}", subject=path)]
        ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFailed(
            [error("K050", f"{what} is not UTF-8 text ({exc.reason})", subject=display)]
        ) from None


def load_option_yaml(path: str, what: str) -> tuple[Any, str, str]:
    """An option file (`--globals`, `--names`): (document, display name, text), read
    by the rules of our own documents (no duplicate keys, anchors or tags); a
    K057 at the line and column that break them."""
    display = os.path.basename(path)
    text = read_text(path, what)
    try:
        doc = load_document(text)
    except DocumentError as exc:
        span = (
            Span(display, exc.line, exc.column or 1, exc.line, (exc.column or 1) + 1)
            if exc.line
            else None
        )
        raise ImportFailed(
            [error("K057", f"{what} is not valid: {exc.message}", span, subject=display)],
            {display: text},
        ) from None
    return doc, display, text


def load_json(text: str, display: str, what: str, hint: str | None = None) -> Any:
    """A tool's JSON, by the rules of our own documents: a key given twice (json keeps
    the last, silently dropping a group) and nesting too deep are errors, located."""
    try:
        return load_json_document(text)
    except DocumentError as exc:
        span = (
            Span(display, exc.line, exc.column or 1, exc.line, (exc.column or 1) + 1)
            if exc.line
            else None
        )
        labels = tuple(
            Label(Span(display, line, column, line, column + 1), note)
            for line, column, note in exc.labels
        )
        raise ImportFailed(
            [error("K050", f"{what} is not valid: {exc.message}", span, labels=labels)],
            {display: text},
        ) from None
    except json.JSONDecodeError as exc:
        span = Span(display, exc.lineno, exc.colno, exc.lineno, exc.colno + 1)
        hints = []
        looks = looks_like(text)
        if looks:
            hints.append(f"this looks like {looks}")
        if hint:
            hints.append(hint)
        raise ImportFailed(
            [error("K050", f"{what} is not valid JSON: {exc.msg}", span, hints=tuple(hints))],
            {display: text},
        ) from None


# The commands that read each format, for "this looks like ..." hints.
COMMANDS = {
    "openstack-ansible": "kostyorc import openstack-ansible openstack_inventory.json",
    "ansible": "kostyorc import ansible INVENTORY.json --map groups.yaml",
    "juju": "kostyorc import juju status.json",
    "openstack": "kostyorc import openstack compute-services.json ...",
    "kolla-ansible": "kostyorc import kolla-ansible multinode",
}


def describe(doc: Any) -> str | None:
    """Which importer's format a JSON document is, or None."""
    if isinstance(doc, dict):
        if "applications" in doc and "machines" in doc:
            return "juju"
        if "_meta" in doc and isinstance(doc["_meta"], dict):
            hostvars = doc["_meta"].get("hostvars")
            if isinstance(hostvars, dict) and any(
                isinstance(v, dict) and "physical_host" in v for v in hostvars.values()
            ):
                return "openstack-ansible"
            return "ansible"
        if "hosts" in doc and isinstance(doc.get("hosts"), list):
            return "kostyor"
        if isinstance(doc.get("services"), list) or isinstance(doc.get("agents"), list):
            return "openstack"
    if isinstance(doc, list) and doc and isinstance(doc[0], dict):
        keys = {k.lower() for k in doc[0]}
        if "binary" in keys and "host" in keys:
            return "openstack"
    return None


def looks_like(text: str) -> str | None:
    """A guess at a non-JSON text's format, in words."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and ln.strip()[0] not in "#;"]
    if not lines:
        return None
    if re.match(r"\[[A-Za-z_][\w:.-]*\]\Z", lines[0]):
        return "an INI Ansible inventory (Kolla-Ansible's multinode): " + COMMANDS["kolla-ansible"]
    if lines[0] == "---" or lines[0].endswith(":"):
        return (
            "a YAML file; convert an Ansible YAML inventory with `ansible-inventory -i FILE --list`"
        )
    return None


def wrong_format(doc: Any, display: str, wanted: str, text: str) -> ImportFailed:
    found = describe(doc)
    hints: list[str] = []
    if found == "kostyor":
        hints.append("this is already a kostyor inventory: give it to `kostyorc check -i`")
    elif found is not None and found != wanted:
        hints.append(f"this looks like {found} input: {COMMANDS[found]}")
    return ImportFailed(
        [
            error(
                "K050",
                f"{display} is not {ARTICLES.get(wanted, wanted)}",
                Span(display, 1, 1, 1, 2),
                hints=tuple(hints),
            )
        ],
        {display: text},
    )


ARTICLES = {
    "openstack-ansible": "an OpenStack-Ansible inventory (openstack_inventory.json: "
    "_meta.hostvars with physical_host)",
    "ansible": "an Ansible inventory as `ansible-inventory --list` prints it (_meta.hostvars)",
    "juju": "a `juju status --format=json` document (machines, applications)",
    "openstack": "an OpenStack service or agent list (`openstack compute service list -f json`, "
    "`network agent list`, `volume service list`)",
}
