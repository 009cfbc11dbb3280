"""`kostyorc import merge`: inventories joined by host (the API's lists plus the
deployment's own inventory of the API services)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from import_support import DATA, import_to

from kostyor_dsl.importers.merge import merge_inventories
from kostyor_dsl.importers.result import ImportFailed

pytestmark = pytest.mark.timeout(120)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_services_union_labels_join_targets_union(tmp_path):
    a = write(
        tmp_path,
        "a.yaml",
        "hosts:\n- name: ctl\n  services: [nova-conductor]\n  labels: {az: nova}\n"
        "- name: cmp1\n  services: [nova-compute]\n",
    )
    b = write(
        tmp_path,
        "b.yaml",
        "hosts:\n- name: ctl\n  services: [keystone, nova-conductor]\n  labels: {rack: r1}\n"
        "  targets: {keystone: [ctl-keystone]}\n",
    )
    result = merge_inventories([str(a), str(b)])
    assert result.inputs == ("a.yaml", "b.yaml")
    hosts = {h.name: h for h in result.hosts}
    assert [h.name for h in result.hosts] == ["cmp1", "ctl"]
    assert hosts["ctl"].services == ("keystone", "nova-conductor")
    assert hosts["ctl"].labels == (("az", "nova"), ("rack", "r1"))
    assert hosts["ctl"].targets == (("keystone", ("ctl-keystone",)),)
    assert hosts["cmp1"].services == ("nova-compute",)


def test_a_label_with_two_values_names_host_and_label(tmp_path):
    a = write(
        tmp_path,
        "a.yaml",
        "hosts:\n- name: cmp1\n  services: [nova-compute]\n  labels: {az: one}\n",
    )
    b = write(
        tmp_path,
        "b.yaml",
        "hosts:\n- name: cmp1\n  services: [nova-compute]\n  labels: {az: two}\n",
    )
    with pytest.raises(ImportFailed) as failed:
        merge_inventories([str(a), str(b)])
    (d,) = failed.value.diagnostics
    assert d.code == "K050"
    assert d.message == "host 'cmp1': label 'az' is 'one' in a.yaml but 'two' in b.yaml"


def test_a_bad_inventory_is_reported_not_merged(tmp_path):
    a = write(tmp_path, "a.yaml", "hosts:\n- name: cmp1\n  services: [nova-compute]\n")
    b = write(tmp_path, "b.yaml", "hosts: 3\n")
    with pytest.raises(ImportFailed) as failed:
        merge_inventories([str(a), str(b)])
    assert failed.value.diagnostics and all(d.is_error for d in failed.value.diagnostics)


def test_cli_merges_the_api_lists_with_an_ansible_import(tmp_path):
    api, _ = import_to(tmp_path, "openstack", sorted((DATA / "openstack").glob("*.json")))
    extra = write(
        tmp_path,
        "apis.yaml",
        "hosts:\n- name: ctl-1\n  services: [keystone, nova-api, placement-api]\n",
    )
    out = tmp_path / "merged.yaml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kostyor_dsl",
            "import",
            "merge",
            str(api),
            str(extra),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith("# Imported by `kostyorc import merge` from openstack.yaml, apis.yaml.")
    assert (
        "- name: ctl-1\n  services: [cinder-scheduler, keystone, nova-api, nova-conductor," in text
    )
    again = subprocess.run(
        [sys.executable, "-m", "kostyor_dsl", "check", "openstack", "-i", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
