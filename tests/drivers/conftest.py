"""Fixtures of the driver tests: Ansible files, the OpenStack stand-in, the runtime harness.

ansible-core and ansible-runner (the `ansible` extra) and openstacksdk (the
`openstack` extra) are in the `test` extra: their tests skip without them,
except when `CI` is set.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "runtime"))

from driver_extras import require


@pytest.fixture
def ansible_home(tmp_path, monkeypatch):
    """Ansible's own files (~/.ansible) go under tmp_path."""
    require("ansible_runner", "ansible")
    require("ansible", "ansible")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ANSIBLE_REMOTE_TMP", str(home / "remote-tmp"))
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    return home


@pytest.fixture
def standin(tmp_path, monkeypatch):
    """The OpenStack stand-in, running, with its clouds.yaml as the one openstacksdk reads."""
    require("openstack", "openstack")
    from openstack_standin import StandIn

    with StandIn() as cloud:
        path = tmp_path / "clouds.yaml"
        path.write_text(cloud.clouds_yaml())
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
        cloud.clouds_file = path
        yield cloud
