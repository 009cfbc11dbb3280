"""Importers: a cloud's inventory from where it lives (a stage before the compiler).

One module per source, each a plain function from the tool's files to an
`ImportResult` (hosts with services, labels and targets, and diagnostics);
`document.write_inventory` writes it as the inventory the compiler reads.

    import_cloud("kolla-ansible", ["multinode"], globals_file="globals.yml")
"""

from __future__ import annotations

from collections.abc import Sequence

from kostyor_dsl.gc_paused import gc_paused
from kostyor_dsl.importers.result import ImportedHost, ImportFailed, ImportResult
from kostyor_dsl.language.diagnostics import error

SOURCES = ("openstack-ansible", "kolla-ansible", "juju", "openstack", "ansible")


def import_cloud(
    source: str,
    inputs: Sequence[str],
    names_file: str | None = None,
    neutron_plugin: str | None = None,
    globals_file: str | None = None,
    map_file: str | None = None,
    use_kolla_package: bool = True,
    user_variables: Sequence[str] = (),
    release: str | None = None,
    bundle_file: str | None = None,
) -> ImportResult:
    """Run one importer.  Raises ImportFailed (with every diagnostic) on errors."""
    options = {
        "names_file": names_file,
        "neutron_plugin": neutron_plugin,
        "globals_file": globals_file,
        "map_file": map_file,
        "use_kolla_package": use_kolla_package,
        "user_variables": list(user_variables or ()),
        "release": release,
        "bundle_file": bundle_file,
    }
    with gc_paused():
        try:
            return _import_cloud(source, inputs, **options)
        except RecursionError:
            raise ImportFailed(
                [
                    error(
                        "K050",
                        "the input is nested too deeply to read",
                        subject=", ".join(inputs),
                        hints=("no deployment tool writes documents this deep",),
                    )
                ]
            ) from None


def _import_cloud(
    source,
    inputs,
    names_file,
    neutron_plugin,
    globals_file,
    map_file,
    use_kolla_package,
    user_variables,
    release,
    bundle_file,
) -> ImportResult:
    if source == "openstack-ansible":
        from kostyor_dsl.importers.openstack_ansible import import_openstack_ansible

        result = import_openstack_ansible(inputs[0], neutron_plugin, names_file, user_variables)
    elif source == "kolla-ansible":
        from kostyor_dsl.importers.kolla_ansible import import_kolla_ansible

        result = import_kolla_ansible(
            inputs[0], globals_file, names_file, use_kolla_package, release=release
        )
    elif source == "juju":
        from kostyor_dsl.importers.juju import import_juju

        result = import_juju(inputs[0], names_file, bundle_file)
    elif source == "openstack":
        from kostyor_dsl.importers.openstack_api import import_openstack_api

        result = import_openstack_api(list(inputs), names_file)
    elif source == "ansible":
        from kostyor_dsl.importers.ansible import import_ansible

        if map_file is None:
            raise ImportFailed([error("K057", "import ansible needs --map FILE", subject="--map")])
        result = import_ansible(inputs[0], map_file, names_file)
    else:
        raise ImportFailed(
            [error("K057", f"unknown source {source!r}", hints=("sources: " + ", ".join(SOURCES),))]
        )
    if not result.ok:
        raise ImportFailed(result.diagnostics, result.sources)
    return result


__all__ = ["SOURCES", "ImportFailed", "ImportResult", "ImportedHost", "import_cloud"]
