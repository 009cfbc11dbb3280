"""Every bad input of an importer gets its own clear error: the code, the file and,
where the format has them, the line and column; exit status 1, no traceback."""

from __future__ import annotations

import json

import pytest

OSA_HOSTVARS = {"infra1": {"physical_host": "infra1", "physical_host_group": "shared_infra_hosts"}}


def osa(groups, hostvars=OSA_HOSTVARS):
    return json.dumps({"_meta": {"hostvars": hostvars}, **groups}, indent=4)


# name: (source and options, {file: text}, code, (line, col) or None, words in the message)
CASES = {
    "ini: malformed section header": (
        ["kolla-ansible", "inv"],
        {"inv": "[control]\nctl1\n[compute\ncmp1\n"},
        "K050",
        (3, 1),
        "malformed section header",
    ),
    "ini: unknown section kind": (
        ["kolla-ansible", "inv"],
        {"inv": "[control]\nctl1\n\n[compute:hosts]\ncmp1\n"},
        "K050",
        (4, 10),
        "unknown section kind ':hosts'",
    ),
    "ini: host variable without a value": (
        ["kolla-ansible", "inv"],
        {"inv": "[compute]\ncmp1 ansible_user\n"},
        "K050",
        (2, 6),
        "'ansible_user' is not `key=value`",
    ),
    "ini: unclosed quote": (
        ["kolla-ansible", "inv"],
        {"inv": '[compute]\ncmp1 note="half\n'},
        "K050",
        (2, 1),
        "cannot read the host line",
    ),
    "ini: a range that ends before it starts": (
        ["kolla-ansible", "inv"],
        {"inv": "[control]\n  ctl[3:1]\n"},
        "K050",
        (2, 3),
        "starts after it ends",
    ),
    "ini: two groups on a children line": (
        ["kolla-ansible", "inv"],
        {"inv": "[a]\nh1\n[b:children]\na c\n"},
        "K050",
        (4, 1),
        "one group per line",
    ),
    "ini: a host in no group": (
        ["kolla-ansible", "inv"],
        {"inv": "stray1\n[control]\nctl1\n"},
        "K052",
        (1, 1),
        "host 'stray1' is in no group",
    ),
    "ini: a children cycle": (
        ["kolla-ansible", "inv"],
        {"inv": "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n[c]\nh1\n"},
        "K053",
        None,
        "groups contain each other in a cycle",
    ),
    "ini: a host name that is an option": (
        ["kolla-ansible", "inv"],
        {"inv": "[compute]\n-oProxyCommand=x\n"},
        "K054",
        (2, 1),
        "host '-oProxyCommand=x' from inv",
    ),
    "ini: empty inventory": (
        ["kolla-ansible", "inv"],
        {"inv": "# nothing here yet\n\n"},
        "K051",
        None,
        "no host to import from inv",
    ),
    "ini: JSON given to the INI reader": (
        ["kolla-ansible", "inv"],
        {"inv": osa({"galera": {"hosts": ["infra1"]}})},
        "K050",
        (1, 1),
        "is JSON, not an INI inventory",
    ),
    "ini: a YAML inventory": (
        ["kolla-ansible", "inv"],
        {"inv": "all:\n  hosts:\n    ctl1:\n"},
        "K050",
        (1, 1),
        "is not an INI inventory",
    ),
    "globals: not YAML": (
        ["kolla-ansible", "inv", "--globals", "globals.yml"],
        {"inv": "[control]\nctl1\n", "globals.yml": "enable_cinder: [yes\n"},
        "K057",
        (2, 1),
        "globals file is not valid: while parsing a flow sequence",
    ),
    "globals: a key twice": (
        ["kolla-ansible", "inv", "--globals", "globals.yml"],
        {"inv": "[control]\nctl1\n", "globals.yml": "enable_cinder: yes\nenable_cinder: no\n"},
        "K057",
        (2, 1),
        "key 'enable_cinder' appears twice",
    ),
    "globals: not a mapping": (
        ["kolla-ansible", "inv", "--globals", "globals.yml"],
        {"inv": "[control]\nctl1\n", "globals.yml": "- enable_cinder\n"},
        "K057",
        (1, 1),
        "globals file must be a mapping",
    ),
    "json: malformed": (
        ["openstack-ansible", "inv.json"],
        {"inv.json": '{\n  "_meta": {\n    "hostvars": {,}\n  }\n}\n'},
        "K050",
        (3, 18),
        "the inventory is not valid JSON",
    ),
    "json: an INI file given to a JSON reader": (
        ["openstack-ansible", "inv.json"],
        {"inv.json": "[control]\nctl1\n"},
        "K050",
        (1, 2),
        "this looks like an INI Ansible inventory",
    ),
    "json: a juju status given to the OSA reader": (
        ["openstack-ansible", "inv.json"],
        {"inv.json": json.dumps({"machines": {}, "applications": {}})},
        "K050",
        (1, 1),
        "is not an OpenStack-Ansible inventory",
    ),
    "json: a plain ansible inventory given to the OSA reader": (
        ["openstack-ansible", "inv.json"],
        {"inv.json": json.dumps({"_meta": {"hostvars": {"h1": {}}}, "g": {"hosts": ["h1"]}})},
        "K050",
        (1, 1),
        "is not an OpenStack-Ansible inventory",
    ),
    "json: an empty OSA inventory": (
        ["openstack-ansible", "inv.json"],
        {"inv.json": osa({"all": {"vars": {}}, "hosts": {"children": []}}, {})},
        "K051",
        None,
        "no host to import from inv.json",
    ),
    "json: a host in no group": (
        ["openstack-ansible", "inv.json", "--neutron-plugin", "ovs"],
        {
            "inv.json": osa(
                {"galera": {"hosts": ["infra1"]}},
                {**OSA_HOSTVARS, "lost1": {"physical_host": "lost1"}},
            )
        },
        "K052",
        (8, 13),
        "host 'lost1' is in no group",
    ),
    "json: a children cycle": (
        ["openstack-ansible", "inv.json", "--neutron-plugin", "ovs"],
        {
            "inv.json": osa(
                {
                    "galera": {"hosts": ["infra1"]},
                    "x_hosts": {"children": ["y_hosts"]},
                    "y_hosts": {"children": ["x_hosts"]},
                }
            )
        },
        "K053",
        None,
        "x_hosts -> y_hosts -> x_hosts",
    ),
    "json: hosts not a list": (
        ["openstack-ansible", "inv.json"],
        {"inv.json": osa({"galera": {"hosts": "infra1"}})},
        "K050",
        (10, 5),
        "'hosts' must be a list",
    ),
    "json: a bad host name": (
        ["openstack-ansible", "inv.json"],
        {
            "inv.json": osa(
                {"galera": {"hosts": ["infra!1"]}},
                {"infra!1": {"physical_host": "infra!1"}},
            )
        },
        "K054",
        (9, 5),
        "host 'infra!1' from inv.json, group 'galera'",
    ),
    "ansible: empty inventory": (
        ["ansible", "inv.json", "--map", "map.yaml"],
        {
            "inv.json": json.dumps({"_meta": {"hostvars": {}}, "all": {"children": ["ungrouped"]}}),
            "map.yaml": "groups: {}\n",
        },
        "K051",
        None,
        "no host to import from inv.json",
    ),
    "juju: a unit on a machine the status lacks": (
        ["juju", "status.json"],
        {
            "status.json": json.dumps(
                {
                    "machines": {"0": {"hostname": "ctl-1"}},
                    "applications": {
                        "keystone": {
                            "charm": "keystone",
                            "units": {"keystone/0": {"machine": "7/lxd/1"}},
                        }
                    },
                },
                indent=2,
            )
        },
        "K050",
        (11, 9),
        "unit 'keystone/0' is on machine '7/lxd/1'",
    ),
    "juju: an OSA inventory given to the juju reader": (
        ["juju", "status.json"],
        {"status.json": osa({"galera": {"hosts": ["infra1"]}})},
        "K050",
        (1, 1),
        "is not a `juju status --format=json` document",
    ),
    "openstack: an entry without its host": (
        ["openstack", "services.json"],
        {"services.json": json.dumps([{"Binary": "nova-compute", "Zone": "nova"}])},
        "K050",
        None,
        "services.json, entry 1: every entry needs a Binary and a Host",
    ),
    "openstack: not a list": (
        ["openstack", "services.json"],
        {"services.json": json.dumps({"hello": "world"})},
        "K050",
        (1, 1),
        "is not an OpenStack service or agent list",
    ),
    "names: not YAML": (
        ["juju", "status.json", "--names", "names.yaml"],
        {"status.json": "{}", "names.yaml": "names:\n  keystone: [keystone\n"},
        "K057",
        (3, 1),
        "names file is not valid: while parsing a flow sequence",
    ),
    "names: an unknown section": (
        ["juju", "status.json", "--names", "names.yaml"],
        {"status.json": "{}", "names.yaml": "charms:\n  keystone: keystone\n"},
        "K057",
        None,
        "names file: unknown section 'charms'",
    ),
    "a file that does not exist": (
        ["juju", "missing.json"],
        {},
        "K050",
        None,
        "cannot read juju status 'missing.json'",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, cli, tmp_path, monkeypatch):
    argv, files, code, where, words = CASES[name]
    for file, text in files.items():
        (tmp_path / file).write_text(text)
    monkeypatch.chdir(tmp_path)
    exit_code, out, err = cli("import", *argv)
    assert exit_code == 1, err
    assert out == ""
    assert "Traceback" not in err
    assert f"error[{code}]" in err, err
    assert words in err, err
    if where is not None:
        line, col = where
        file = (
            next(a for a in argv[1:] if a in files)
            if code != "K057"
            else next(f for f in files if f.endswith((".yml", ".yaml")))
        )
        assert f"{file}:{line}:{col}: " in err, err


def test_one_run_reports_every_problem_of_an_ini_file(cli, tmp_path, monkeypatch):
    (tmp_path / "inv").write_text("[control\nctl1 x\n[compute:bad]\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("import", "kolla-ansible", "inv")
    assert code == 1
    assert "inv:1:1:" in err and "inv:3:10:" in err
    assert err.rstrip().endswith("2 errors")


def test_the_output_file_is_left_alone_on_errors(cli, tmp_path, monkeypatch):
    (tmp_path / "inv").write_text("[control\n")
    (tmp_path / "out.yaml").write_text("hosts: []\n")
    monkeypatch.chdir(tmp_path)
    code, _, _ = cli("import", "kolla-ansible", "inv", "-o", "out.yaml")
    assert code == 1
    assert (tmp_path / "out.yaml").read_text() == "hosts: []\n"


def test_diagnostics_as_json(cli, tmp_path, monkeypatch):
    (tmp_path / "inv").write_text("[control\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("import", "kolla-ansible", "inv", "--diagnostics-format", "json")
    assert code == 1
    doc = json.loads(err)
    assert doc["error_count"] == 1 and doc["diagnostics"][0]["code"] == "K050"
