"""The shell driver's command table `systemd-venv`: every command it builds, exactly.

Each expected line is the command of the project's upgrade guide named in the
table's `guide` (kostyor_dsl/runtime/drivers/commands/systemd-venv.yaml).
"""

from __future__ import annotations

import re
from importlib import resources

import pytest

from kostyor_dsl.runtime.drivers import command_table as tables
from kostyor_dsl.runtime.drivers import load_driver
from kostyor_dsl.runtime.errors import ParameterError, UnsupportedAction

pytestmark = pytest.mark.timeout(60)

VENV = {
    "venv": "/opt/openstack/{release}",
    "release": "2026.1",
    "config_dir": "/srv/etc/{project}",
}
BIN = "/opt/openstack/2026.1/bin"


def commands(action, **params):
    table = tables.load_table("systemd-venv")
    return [command for _, command in tables.action_commands(table, action, {**VENV, **params})]


OK01 = '; rc=$?; case " 0 1 " in *" $rc "*) exit 0;; esac; exit $rc'

EXPECTED = {
    # keystone admin guide, Upgrading (expand, then contract and check)
    "keystone-db-expand": [
        f"{BIN}/keystone-manage --config-dir /srv/etc/keystone db_sync --expand"
    ],
    "keystone-db-contract": [
        f"{BIN}/keystone-manage --config-dir /srv/etc/keystone db_sync --contract",
        f"{BIN}/keystone-manage --config-dir /srv/etc/keystone db_sync --check",
    ],
    # placement upgrade notes; placement-status(1)
    "placement-db-sync": [f"{BIN}/placement-manage --config-dir /srv/etc/placement db sync"],
    "placement-status-upgrade-check": [
        f"{BIN}/placement-status --config-dir /srv/etc/placement upgrade check" + OK01
    ],
    # glance admin guide, Rolling upgrades
    "glance-db-expand": [f"{BIN}/glance-manage --config-dir /srv/etc/glance db expand"],
    "glance-db-migrate": [f"{BIN}/glance-manage --config-dir /srv/etc/glance db migrate"],
    "glance-db-contract": [f"{BIN}/glance-manage --config-dir /srv/etc/glance db contract"],
    # cinder admin guide, Upgrades
    "cinder-db-sync": [f"{BIN}/cinder-manage --config-dir /srv/etc/cinder db sync"],
    "cinder-online-data-migrations": [
        f"{BIN}/cinder-manage --config-dir /srv/etc/cinder db online_data_migrations"
    ],
    # nova admin guide, Upgrades; nova-status(1)
    "nova-status-upgrade-check": [
        f"{BIN}/nova-status --config-dir /srv/etc/nova upgrade check" + OK01
    ],
    "nova-api-db-sync": [f"{BIN}/nova-manage --config-dir /srv/etc/nova api_db sync"],
    "nova-db-sync": [f"{BIN}/nova-manage --config-dir /srv/etc/nova db sync"],
    "nova-online-data-migrations": [
        f"{BIN}/nova-manage --config-dir /srv/etc/nova db online_data_migrations"
    ],
    "nova-reload-services": [
        "systemctl restart nova-conductor",
        "systemctl restart nova-scheduler",
        "systemctl restart nova-api",
    ],
    # neutron-db-manage: expand before the new server, contract after the old is gone
    "neutron-db-expand": [
        f"{BIN}/neutron-db-manage --config-dir /srv/etc/neutron upgrade --expand"
    ],
    "neutron-db-contract": [
        f"{BIN}/neutron-db-manage --config-dir /srv/etc/neutron upgrade --contract"
    ],
    # each project's install or upgrade guide (its database step)
    "heat-db-sync": [f"{BIN}/heat-manage --config-dir /srv/etc/heat db_sync"],
    "octavia-db-sync": [f"{BIN}/octavia-db-manage --config-dir /srv/etc/octavia upgrade head"],
    "designate-db-sync": [f"{BIN}/designate-manage --config-dir /srv/etc/designate database sync"],
    "barbican-db-sync": [f"{BIN}/barbican-manage --config-dir /srv/etc/barbican db upgrade"],
    "manila-db-sync": [f"{BIN}/manila-manage --config-dir /srv/etc/manila db sync"],
    "magnum-db-sync": [f"{BIN}/magnum-db-manage --config-dir /srv/etc/magnum upgrade"],
    "ironic-db-sync": [f"{BIN}/ironic-dbsync --config-dir /srv/etc/ironic upgrade"],
    "ironic-online-data-migrations": [
        f"{BIN}/ironic-dbsync --config-dir /srv/etc/ironic online_data_migrations"
    ],
    "aodh-db-sync": [f"{BIN}/aodh-dbsync --config-dir /srv/etc/aodh"],
    "gnocchi-db-sync": [f"{BIN}/gnocchi-upgrade --config-dir /srv/etc/gnocchi"],
    "cloudkitty-db-sync": [f"{BIN}/cloudkitty-dbsync --config-dir /srv/etc/cloudkitty upgrade"],
    "mistral-db-sync": [f"{BIN}/mistral-db-manage --config-dir /srv/etc/mistral upgrade head"],
    "cyborg-db-sync": [f"{BIN}/cyborg-dbsync --config-dir /srv/etc/cyborg upgrade"],
    "tacker-db-sync": [f"{BIN}/tacker-db-manage --config-dir /srv/etc/tacker upgrade head"],
    "trove-db-sync": [f"{BIN}/trove-manage --config-dir /srv/etc/trove db_sync"],
    "watcher-db-sync": [f"{BIN}/watcher-db-manage --config-dir /srv/etc/watcher upgrade"],
    "blazar-db-sync": [f"{BIN}/blazar-db-manage --config-dir /srv/etc/blazar upgrade head"],
    "masakari-db-sync": [f"{BIN}/masakari-manage --config-dir /srv/etc/masakari db sync"],
    "zun-db-sync": [f"{BIN}/zun-db-manage --config-dir /srv/etc/zun upgrade"],
    "backup-databases": ["mysqldump --all-databases --result-file=/b.sql"],
}


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_each_action_builds_the_guides_commands(action):
    assert (
        commands(action, backup_command="mysqldump --all-databases --result-file=/b.sql")
        == (EXPECTED[action])
    )


def test_every_shipped_action_has_a_command():
    spec = (resources.files("kostyor_dsl") / "specs" / "openstack.kostyor").read_text()
    declared = set()
    for line in spec.splitlines():
        match = re.match(r"\s*(?:actions|irreversible)\s+(.*)", line)
        if match:
            declared |= {name.strip() for name in match.group(1).split(",")}
    table = tables.load_table("systemd-venv")
    assert declared == set(table.actions) == set(EXPECTED)
    assert all(entry.guide for entry in table.actions.values())


def test_packages_use_usr_bin_and_default_config():
    table = tables.load_table("systemd-venv")
    assert tables.action_commands(table, "nova-db-sync", {}) == [
        ("localhost", "/usr/bin/nova-manage --config-dir /etc/nova db sync")
    ]


def test_remote_and_restart_templates_are_quoted():
    table = tables.load_table("systemd-venv")
    params = {
        "venv": "/opt/{project} venv",
        "remote": "ssh -- {host}",
        "command_host": "ctl-1",
        "restart_command": "svc restart {service}@{host} --venv {venv}",
    }
    assert tables.action_commands(table, "glance-db-expand", params) == [
        (
            "ctl-1",
            "ssh -- ctl-1 ''\"'\"'/opt/glance venv/bin'\"'\"'/glance-manage --config-dir "
            "/etc/glance db expand'",
        )
    ]
    assert tables.restart_command(table, "nova-compute", "cmp-1", params) == (
        "ssh -- cmp-1 'svc restart nova-compute@cmp-1 --venv '\"'\"'/opt/nova venv'\"'\"''"
    )


def test_a_project_not_deployed_says_so():
    table = tables.load_table("systemd-venv")
    (pair,) = tables.action_commands(table, "cinder-db-sync", {"projects": "nova,keystone"})
    assert pair == (
        "localhost",
        "echo 'cinder is not deployed here (-p projects=nova,keystone): "
        "cinder-db-sync has nothing to do'",
    )


def test_driver_refuses_what_the_table_cannot_do():
    shell = load_driver("shell", {"commands": "systemd-venv"})
    assert shell.unsupported("pre-upgrade", "nova-db-sync") is None
    assert "no command for action 'frobnicate'" in shell.unsupported("pre-upgrade", "frobnicate")
    assert "needs -p backup_command" in shell.unsupported("pre-upgrade", "backup-databases")
    assert shell.unsupported("upgrade", "nova-compute") is None
    assert "does not know how service 'mariadb'" in shell.unsupported("upgrade", "mariadb")
    assert "-p cloud=NAME" in shell.unsupported("hook", "evacuate")
    with pytest.raises(UnsupportedAction):
        shell.start("rabbitmq", ["ctl-1"])
    with_cloud = load_driver("shell", {"commands": "systemd-venv", "cloud": "mycloud"})
    assert with_cloud.unsupported("hook", "evacuate") is None


def test_driver_signature_carries_the_tables_commands():
    shell = load_driver(
        "shell",
        {
            "commands": "systemd-venv",
            "venv": "/v/{project}",
            "restart_command": "ctl restart {service} {host}",
        },
    )
    sig = shell.pre_upgrade("nova-api-db-sync", {})
    assert sig.args[0] == [
        ["localhost", "/v/nova/bin/nova-manage --config-dir /etc/nova api_db sync"]
    ]
    sig = shell.start("nova-compute", ["cmp-1", "cmp-2"])
    assert sig.args[0] == [
        ["cmp-1", "ctl restart nova-compute cmp-1"],
        ["cmp-2", "ctl restart nova-compute cmp-2"],
    ]


def test_bad_tables_and_templates_are_refused(tmp_path):
    with pytest.raises(ParameterError, match="no command table 'nope'"):
        load_driver("shell", {"commands": "nope"})
    with pytest.raises(ParameterError, match=r"no command table 'juju' \(shipped: systemd-venv"):
        load_driver("shell", {"commands": "juju"})
    with pytest.raises(ParameterError, match=r"placeholder \{oops\}"):
        load_driver("shell", {"commands": "systemd-venv", "restart_command": "x {oops}"})
    bad = tmp_path / "t.yaml"
    bad.write_text("actions:\n  a:\n    project: p\n    run: ['{nope} x']\n")
    with pytest.raises(ParameterError, match=r"action 'a'.*placeholder \{nope\}"):
        load_driver("shell", {"commands": str(bad)})
