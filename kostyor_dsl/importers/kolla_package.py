"""Kolla-Ansible's own role declarations, and which release's layout an import follows.

When the kolla-ansible package is installed, its role defaults are read (the
real source, for the release installed).  Otherwise kostyor's table is used,
as it was in the release the inventory is for: `--release`, else the
installed package's series, else the inventory's shape (the groups
kolla-ansible's own multinode of each release defines: cinder's `-lvm` groups
from 2026.1 on, `nova-metadata` from 2025.1 on), else the table's current
release.
"""

from __future__ import annotations

import functools
import glob
import os
from typing import Any

import yaml

from kostyor_dsl.importers.ansible_inventory import AnsibleInventory
from kostyor_dsl.importers.result import ImportFailed
from kostyor_dsl.language.diagnostics import error

YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def package_share() -> str | None:
    """The `ansible` folder of an installed kolla-ansible package, or None."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("kolla-ansible")
    except PackageNotFoundError:
        return None
    for f in dist.files or ():
        text = str(f).replace(os.sep, "/")
        if text.endswith("share/kolla-ansible/ansible/site.yml"):
            return os.path.dirname(str(dist.locate_file(f)))
    return None


@functools.cache
def read_declarations(share: str) -> tuple[dict[str, dict], dict[str, Any]]:
    """Every role's `<project>_services` declarations and the defaults, from a
    kolla-ansible `ansible/` folder (group_vars/all/*.yml and roles/*/defaults)."""
    defaults: dict[str, Any] = {}
    for path in sorted(glob.glob(os.path.join(share, "group_vars", "all", "*.yml"))) + sorted(
        glob.glob(os.path.join(share, "group_vars", "all.yml"))
    ):
        defaults.update(_yaml_file(path))
    declarations: dict[str, dict] = {}
    for path in sorted(glob.glob(os.path.join(share, "roles", "*", "defaults", "main.yml"))):
        role = os.path.basename(os.path.dirname(os.path.dirname(path)))
        role_defaults = _yaml_file(path)
        for key, value in role_defaults.items():
            if not (key.endswith("_services") and isinstance(value, dict) and value):
                continue
            services = {
                name: decl
                for name, decl in value.items()
                if isinstance(decl, dict) and "container_name" in decl
            }
            if services:
                declarations.setdefault(role, {}).update(services)
        for key, value in role_defaults.items():
            defaults.setdefault(key, value)
    return declarations, defaults


def _yaml_file(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.load(fh, Loader=YamlLoader)
    except (OSError, yaml.YAMLError):
        return {}
    return doc if isinstance(doc, dict) else {}


# kolla-ansible's major version -> its OpenStack series.
SERIES = {18: "2024.1", 19: "2024.2", 20: "2025.1", 21: "2025.2", 22: "2026.1"}


def release_of(table: dict, asked: str | None, share: str | None, inv: AnsibleInventory) -> str:
    """The series whose role layout the fallback table follows."""
    current = str(table["release"]["current"])
    known = sorted({current, *map(str, table["releases"])})
    if asked is not None:
        if asked not in known:
            raise ImportFailed(
                [
                    error(
                        "K057",
                        f"unknown --release {asked!r}",
                        subject="--release",
                        hints=("releases kostyor knows: " + ", ".join(known),),
                    )
                ]
            )
        return asked
    if share is not None:
        version = _package_version()
        if version is not None and SERIES.get(version) in known:
            return SERIES[version]
    # The inventory's shape: kolla-ansible's own multinode defines the cinder -lvm
    # groups and kolla_toolbox from 2026.1 on, nova-metadata from 2025.1 on.
    groups = inv.groups
    if "cinder-volume-lvm" in groups or "kolla_toolbox" in groups:
        return current
    if "nova-metadata" in groups:
        return _latest(known, "2025.2", current)
    if "cinder-volume" in groups or "kolla-toolbox" in groups:
        return _latest(known, "2024.2", current)
    return current


def _latest(known: list[str], up_to: str, current: str) -> str:
    older = [r for r in known if r <= up_to]
    return older[-1] if older else current


def _package_version() -> int | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("kolla-ansible").split(".", 1)[0])
    except (PackageNotFoundError, ValueError):
        return None


def services_of(table: dict, series: str) -> dict:
    """The table's declarations as they were in `series` (a null one did not exist)."""
    changed = table["releases"].get(series) or {}
    services = dict(table["services"])
    for role, declarations in changed.items():
        merged = {**services.get(role, {}), **declarations}
        services[role] = {name: d for name, d in merged.items() if d is not None}
    return services
