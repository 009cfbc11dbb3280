"""The name tables (package data, `importers/names/*.yaml`) and a user's overrides.

A table is a YAML mapping of sections (`names`, `components`, ...), each a
mapping; a user's `--names FILE` has the same shape, and its entries replace
the shipped ones key by key (`names: {my-agent: [neutron-l3-agent]}` adds one
name and keeps the others).  In a `names` section a value is a service, a
list of services, or `[]` for a tool name that stands for no service.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

from kostyor_dsl.importers.files import load_option_yaml
from kostyor_dsl.importers.result import ImportFailed
from kostyor_dsl.language.diagnostics import error

YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _shipped(name: str) -> dict:
    ref = resources.files("kostyor_dsl") / "importers" / "names" / f"{name}.yaml"
    return yaml.load(ref.read_text(encoding="utf-8"), Loader=YamlLoader)


def load_table(name: str, override: str | None = None) -> dict[str, Any]:
    """The shipped table `name`, with a user's file merged over it section by section."""
    table = {section: dict(entries) for section, entries in _shipped(name).items()}
    if override is None:
        return table
    doc, display, text = load_option_yaml(override, "names file")
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise ImportFailed(
            [
                error(
                    "K057",
                    "a names file is a mapping of sections, each a mapping",
                    subject=display,
                    hints=(f"sections of the {name} table: " + ", ".join(sorted(table)),),
                )
            ],
            {display: text},
        )
    for section, entries in doc.items():
        if section not in table:
            raise ImportFailed(
                [
                    error(
                        "K057",
                        f"names file: unknown section {section!r}",
                        subject=display,
                        hints=(f"sections of the {name} table: " + ", ".join(sorted(table)),),
                    )
                ],
                {display: text},
            )
        table[section].update(entries)
    return table


def name_map(entries: dict[str, Any], display: str = "names") -> dict[str, list[str]]:
    """A `names` section as tool name -> services (a single name becomes a list)."""
    out: dict[str, list[str]] = {}
    for key, value in entries.items():
        if isinstance(value, str):
            out[str(key)] = [value]
        elif isinstance(value, list) and all(isinstance(v, str) and v for v in value):
            out[str(key)] = list(value)
        else:
            raise ImportFailed(
                [
                    error(
                        "K057",
                        f"{display}: {key!r} must map to a service name or a list of them",
                        subject=str(key),
                    )
                ]
            )
    return out
