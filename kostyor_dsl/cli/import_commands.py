"""`kostyorc import SOURCE ...`: an inventory from where the cloud's hosts already live."""

from __future__ import annotations

import sys

from kostyor_dsl.cli.output import write_output

SOURCES = {
    "openstack-ansible": "OpenStack-Ansible's openstack_inventory.json",
    "kolla-ansible": "a Kolla-Ansible INI inventory (multinode), with globals.yml",
    "juju": "`juju status --format=json`",
    "openstack": "`openstack compute service list`, `network agent list`, "
    "`volume service list` (-f json)",
    "ansible": "`ansible-inventory --list` with a groups -> services map",
    "merge": "two or more kostyor inventories, joined by host",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import",
        help="write an inventory from a deployment tool's own files",
        description=(
            "Read the hosts and services of a cloud from its deployment tool and write "
            "a kostyor inventory (schemas/inventory.schema.json), with the tool's names "
            "mapped to the shipped `openstack` order's.  Names the tables do not map are "
            "reported as warnings.  See docs/importing.md."
        ),
        epilog="Exit status: 0 inventory written (warnings allowed), 1 errors, 2 usage error.",
    )
    sources = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    osa = _source(sources, "openstack-ansible", "INVENTORY", "openstack_inventory.json")
    osa.add_argument(
        "--neutron-plugin",
        metavar="PLUGIN",
        help="the ML2 plugin(s) the cloud runs: ovs, ovn, lxb, sriov, comma-separated "
        "(OSA's neutron_plugin_type, ml2.ovs ...); needed when the inventory puts hosts "
        "in several plugins' groups; read from --user-variables when not given",
    )
    osa.add_argument(
        "--user-variables",
        metavar="FILE",
        action="append",
        default=[],
        help="the operator's /etc/openstack_deploy/user_variables*.yml (repeatable): "
        "neutron_plugin_type and the optional agents (neutron_plugin_base, neutron_bgp, ...)",
    )
    kolla = _source(sources, "kolla-ansible", "INVENTORY", "the INI inventory (multinode)")
    kolla.add_argument(
        "--globals",
        metavar="FILE",
        help="/etc/kolla/globals.yml: enable_<project>, neutron_plugin_agent, enable_neutron_dvr...",
    )
    kolla.add_argument(
        "--release",
        metavar="SERIES",
        help="the Kolla-Ansible release the inventory is for (2024.1, 2024.2, 2025.1, "
        "2025.2); default: the installed kolla-ansible's, else told by the inventory's shape",
    )
    kolla.add_argument(
        "--no-kolla-package",
        action="store_true",
        help="use kostyor's own table of Kolla-Ansible's services even when the "
        "kolla-ansible package is installed",
    )
    juju = _source(sources, "juju", "STATUS", "`juju status --format=json` output")
    juju.add_argument(
        "--bundle",
        metavar="FILE",
        help="`juju export-bundle` output: the charms' options (cinder's enabled-services, ...)",
    )
    _source(sources, "openstack", "FILE", "a JSON service or agent list", nargs="+")
    generic = _source(sources, "ansible", "INVENTORY", "`ansible-inventory --list` output")
    generic.add_argument(
        "--map",
        required=True,
        metavar="FILE",
        help="YAML: `groups: {GROUP: [SERVICE, ...]}` and optional `labels: {LABEL: REGEX}`",
    )
    _source(sources, "merge", "INVENTORY", "kostyor inventories (imported or written)", nargs="+")


def _source(sources, name: str, metavar: str, what: str, nargs=None):
    parser = sources.add_parser(name, help=SOURCES[name], description=f"Import {SOURCES[name]}.")
    if nargs:
        parser.add_argument("inputs", metavar=metavar, nargs=nargs, help=what)
    else:
        parser.add_argument("input", metavar=metavar, help=what)
    parser.add_argument(
        "--names", metavar="FILE", help="a names file whose entries replace the shipped table's"
    )
    parser.add_argument(
        "--format", choices=("yaml", "json"), default="yaml", help="inventory format (yaml)"
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    parser.add_argument(
        "--diagnostics-format",
        choices=("text", "json"),
        default="text",
        help="how to report problems (text on stderr, or json)",
    )
    parser.set_defaults(func=run_import)
    return parser


def run_import(args) -> int:
    from kostyor_dsl.importers import import_cloud
    from kostyor_dsl.importers.document import write_inventory
    from kostyor_dsl.importers.result import ImportFailed
    from kostyor_dsl.language.diagnostics import render_json, render_text

    options = {
        "names_file": args.names,
        "neutron_plugin": getattr(args, "neutron_plugin", None),
        "globals_file": getattr(args, "globals", None),
        "map_file": getattr(args, "map", None),
        "use_kolla_package": not getattr(args, "no_kolla_package", False),
        "user_variables": getattr(args, "user_variables", None) or (),
        "release": getattr(args, "release", None),
        "bundle_file": getattr(args, "bundle", None),
    }
    inputs = getattr(args, "inputs", None) or [args.input]

    def report(diagnostics, sources) -> None:
        if not diagnostics:
            return
        if args.diagnostics_format == "json":
            sys.stderr.write(render_json(diagnostics))
        else:
            sys.stderr.write(render_text(diagnostics, sources))

    try:
        if args.source == "merge":
            from kostyor_dsl.importers.merge import merge_inventories
            from kostyor_dsl.language.diagnostics import error

            if args.names:
                raise ImportFailed([error("K057", "import merge takes no --names")])

            result = merge_inventories(inputs)
        else:
            result = import_cloud(args.source, inputs, **options)
    except ImportFailed as exc:
        report(exc.diagnostics, exc.sources)
        return 1
    write_output(args.output, lambda stream: write_inventory(result, args.format, stream))
    report(result.diagnostics, result.sources)
    print(
        f"imported {len(result.hosts)} host{'s' if len(result.hosts) != 1 else ''} "
        f"from {', '.join(result.inputs)}",
        file=sys.stderr,
    )
    return 0
