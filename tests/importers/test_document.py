"""The written inventory: valid against the schema, read back identical by PyYAML,
byte-stable; host names judged exactly as compiler/hostnames.py judges them."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys

import pytest
import yaml
from import_support import DATA, EXAMPLES

from kostyor_dsl.importers import import_cloud
from kostyor_dsl.importers.document import inventory_document, write_inventory
from kostyor_dsl.importers.result import _VALID_HOST, ImportedHost, ImportResult
from kostyor_dsl.inventory.hostnames import host_name_problem
from kostyor_dsl.inventory.read import _scan_hosts, _validator

IMPORTS = {
    "openstack-ansible": ([DATA / "osa" / "openstack_inventory.json"], {"neutron_plugin": "ovs"}),
    "kolla-ansible": (
        [EXAMPLES / "kolla-multinode" / "multinode"],
        {
            "globals_file": str(EXAMPLES / "kolla-multinode" / "globals.yml"),
            "use_kolla_package": False,
        },
    ),
    "juju": ([DATA / "juju" / "status.json"], {}),
    "openstack": (sorted((DATA / "openstack").glob("*.json")), {}),
    "ansible": (
        [DATA / "ansible" / "inventory.json"],
        {"map_file": str(DATA / "ansible" / "groups.yaml")},
    ),
}


def written(result, fmt):
    out = io.StringIO()
    write_inventory(result, fmt, out)
    return out.getvalue()


@pytest.mark.parametrize("source", sorted(IMPORTS))
def test_every_import_is_a_valid_inventory_read_back_as_written(source):
    inputs, options = IMPORTS[source]
    result = import_cloud(source, [str(i) for i in inputs], **options)
    doc = inventory_document(result)
    assert not list(_validator().iter_errors(doc))
    assert _scan_hosts(doc) is not None  # the compiler's fast path takes it as it is
    assert yaml.safe_load(written(result, "yaml")) == doc
    assert json.loads(written(result, "json")) == doc
    assert written(result, "yaml") == written(
        import_cloud(source, [str(i) for i in inputs], **options), "yaml"
    )


def test_scalars_that_yaml_would_misread_are_quoted():
    tricky = [
        "yes",
        "No",
        "on",
        "null",
        "1.2.3",
        "2024-01-02",
        "10",
        "0x1f",
        "a: b",
        "#x",
        "~",
        "",
        "é-1",
        "@x",
        "x y",
    ]
    result = ImportResult(
        "juju",
        ("status.json",),
        (
            ImportedHost(
                "host-1",
                tuple(sorted(tricky[:5])),
                tuple((f"k{i}", v) for i, v in enumerate(tricky)),
                (("svc", ("unit/0", "2024-01-02")),),
            ),
        ),
        (),
    )
    assert yaml.safe_load(written(result, "yaml")) == inventory_document(result)


def test_osa_output_does_not_depend_on_the_order_of_the_json(tmp_path):
    source = DATA / "osa" / "openstack_inventory.json"
    doc = json.loads(source.read_text())
    items = list(doc.items())
    random.Random(4).shuffle(items)
    shuffled = tmp_path / "openstack_inventory.json"
    shuffled.write_text(json.dumps(dict(items)))
    a = import_cloud("openstack-ansible", [str(source)], neutron_plugin="ovs")
    b = import_cloud("openstack-ansible", [str(shuffled)], neutron_plugin="ovs")
    assert written(a, "yaml") == written(b, "yaml")


@pytest.mark.parametrize(
    "name",
    ["a", "node-1", "n.example.org", "-o", "a_b", "a..b", "x" * 63, "x" * 64, "a-", ".a", "a.", "1", "a" * 250 + ".b",
     ("a" * 60 + ".") * 5, "ä", "a\nb", "a b"],
)  # fmt: skip
def test_the_fast_host_name_check_agrees_with_hostnames(name):
    assert (_VALID_HOST.match(name) is not None) == (host_name_problem(name) is None)


def test_import_never_loads_celery(tmp_path):
    probe = (
        "import sys\nfrom kostyor_dsl.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('celery', 'kombu'))\n"
        "sys.exit(99 if bad else code)\n"
    )
    inputs, _ = IMPORTS["juju"]
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            "import",
            "juju",
            str(inputs[0]),
            "-o",
            str(tmp_path / "x.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "targets",
    [[], {"nova-api": "c1"}, {"nova-api": [""]}, {"nova-api": [3]}, {"": ["c1"]}, {"x": None}],
)
def test_the_compilers_fast_path_and_the_schema_agree_on_bad_targets(targets):
    doc = {"hosts": [{"name": "a", "services": ["nova-api"], "targets": targets}]}
    assert _scan_hosts(doc) is None
    assert list(_validator().iter_errors(doc))


def test_targets_alone_or_with_labels_are_accepted_by_both():
    for host in (
        {"name": "a", "services": ["x"], "targets": {"x": ["c1", "c2"]}},
        {"name": "a", "services": ["x"], "labels": {"az": "z"}, "targets": {}},
    ):
        doc = {"hosts": [host]}
        assert _scan_hosts(doc) is not None
        assert not list(_validator().iter_errors(doc))
