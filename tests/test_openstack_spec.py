"""The shipped `openstack` spec: the order of a current cloud, its strategies and
project-level actions, and the `ignore` construct it needs; `kostyor` keeps 2017's."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

import yaml
from support import EXAMPLES, ROOT

from kostyor_dsl.compiler import check, compile_plan, parse
from kostyor_dsl.compiler.resolve import check_spec
from kostyor_dsl.language.diagnostics import render_text
from kostyor_dsl.review.fmt import format_spec

SPEC = ROOT / "specs" / "openstack.kostyor"
KOLLA_INVENTORY = EXAMPLES / "kolla-multinode" / "inventory.yaml"


def order():
    return check_spec("openstack").spec.orders["openstack"]


def test_it_resolves_cleanly_and_is_formatted():
    result = check_spec("openstack")
    assert result.diagnostics == ()
    text = SPEC.read_text()
    assert format_spec(text, str(SPEC)) == text


def test_the_header_says_which_guides_it_follows():
    header = SPEC.read_text().split("\n\n", 1)[0]
    assert "2024.1" in header and "2025.1" in header and "kostyor" in header


def test_projects_in_the_order_of_a_current_cloud():
    projects = list(dict.fromkeys(s.project for s in order().services))
    # ironic before nova: ironic's guide, nova's ironic driver.
    expected = [
        "vault", "database", "rabbitmq", "memcached", "loadbalancer", "etcd", "valkey",
        "keystone", "placement", "glance", "cinder", "ironic", "nova", "openvswitch", "ovn",
        "neutron", "heat", "horizon", "skyline", "octavia", "designate", "barbican", "manila",
        "magnum", "gnocchi", "ceilometer", "aodh",
    ]  # fmt: skip
    assert projects[: len(expected)] == expected


def test_inside_projects_the_guides_order():
    names = [s.name for s in order().services]

    def before(a, b):
        return names.index(a) < names.index(b)

    assert before("cinder-scheduler", "cinder-volume") and before("cinder-backup", "cinder-api")
    assert before("nova-conductor", "nova-api") and before("nova-api", "nova-compute")
    assert before("neutron-server", "neutron-openvswitch-agent")
    for l2 in ("neutron-openvswitch-agent", "ovn-controller", "neutron-linuxbridge-agent"):
        for l3 in ("neutron-l3-agent", "neutron-dhcp-agent", "neutron-metadata-agent"):
            assert before(l2, l3)
    assert before("haproxy", "keepalived")


def test_tiers_include_network_nodes():
    spec = check_spec("openstack").spec
    assert spec.tiers == ("controller", "network", "compute", "storage")
    roles = {s.name: s.roles for s in order().services}
    assert roles["neutron-l3-agent"][0] == "network"
    assert roles["nova-compute"] == ("compute",)
    assert roles["mariadb"] == ("controller",)


def test_strategies_and_their_actions():
    spec = check_spec("openstack").spec
    assert spec.default_strategy == "node-by-node"
    assert {n: s.engine for n, s in spec.strategies.items()} == {
        "node-by-node": "phased",
        "service-by-service": "service-by-service",
        "rolling-computes": "phased",
    }
    nbn = spec.strategies["node-by-node"]
    # The guides' steps belong to their projects, not to the strategy.
    assert nbn.pre_upgrade == () and nbn.post_upgrade == ()
    steps = {p.project: p for p in nbn.project_steps}
    pre = {name: [a.name for a in p.pre] for name, p in steps.items()}
    post = {name: [a.name for a in p.post] for name, p in steps.items()}
    assert pre["nova"] == ["nova-api-db-sync", "nova-db-sync", "nova-status-upgrade-check"]
    assert post["nova"] == ["nova-reload-services", "nova-online-data-migrations"]
    assert pre["glance"] == ["glance-db-expand", "glance-db-migrate"]
    assert post["keystone"] == ["keystone-db-contract"]
    for project in ("heat", "octavia", "designate", "manila", "barbican", "magnum", "ironic"):
        assert pre[project], project
    assert spec.strategies["service-by-service"].project_steps == nbn.project_steps
    rolling = spec.strategies["rolling-computes"]
    compute = rolling.groups[0]
    assert compute.name == "service=nova-compute"
    assert compute.batches == (1, "max") and compute.pause_after_batches == (1,)
    assert [a.name for a in compute.before] == ["disable-scheduling", "evacuate"]
    assert [a.name for a in compute.after] == ["enable-scheduling"]


def test_the_plan_runs_each_projects_steps_around_its_services():
    plan = compile_plan("openstack", str(KOLLA_INVENTORY)).plan
    ids = [s["id"] for s in plan["steps"]]
    assert ids[0] == "mariadb@ctl01"
    upgrades = {s["id"]: i for i, s in enumerate(plan["steps"]) if s["kind"] == "upgrade"}

    def span(project):
        mine = [i for sid, i in upgrades.items() if plan["steps"][i]["project"] == project]
        return min(mine), max(mine)

    for project, first, last in (
        ("keystone", "keystone-db-expand", "keystone-db-contract"),
        ("glance", "glance-db-migrate", "glance-db-contract"),
        ("neutron", "neutron-db-expand", "neutron-db-contract"),
    ):
        start, end = span(project)
        assert ids.index(f"pre-upgrade:{project}:{first}") < start
        assert ids.index(f"post-upgrade:{project}:{last}") > end
    assert ids.index("pre-upgrade:nova:nova-db-sync") < ids.index(
        "pre-upgrade:nova:nova-status-upgrade-check"
    )
    # No steps for projects the cloud does not run (the example has no ironic).
    assert not any(":ironic:" in i for i in ids)
    assert plan["point_of_no_return"]["step"] == "post-upgrade:keystone:keystone-db-contract"


def test_the_2017_spec_still_gives_the_design_docs_plan(cli, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, err = cli("compile", "kostyor", "-i", "examples/design-doc.yaml")
    assert code == 0, err
    golden = (ROOT / "tests" / "golden" / "design-doc-node-by-node" / "stdout").read_text()
    assert [s["id"] for s in yaml.safe_load(out)["steps"]] == [
        s["id"] for s in yaml.safe_load(golden)["steps"]
    ]

    def without_source(steps):
        return [{k: v for k, v in s.items() if k != "source"} for s in steps]

    assert without_source(yaml.safe_load(out)["steps"]) == without_source(
        yaml.safe_load(golden)["steps"]
    )


# --- `ignore`: services an order knows and does not upgrade -----------------

IGNORING = """\
tiers controller, compute

order o {
  project nova {
    nova-api      on controller
    nova-compute  on compute
  }

  # log shippers
  ignore fluentd, cron
  ignore node-exporter
}

default strategy s {
  order  o
}
"""


def test_ignore_parses_into_the_order(write):
    tree = parse(IGNORING, "o.kostyor")
    (order_node,) = [i for i in tree.items if hasattr(i, "projects")]
    assert [[n.value for n in line.names] for line in order_node.ignores] == [
        ["fluentd", "cron"],
        ["node-exporter"],
    ]
    model = check_spec(str(write("o.kostyor", IGNORING))).spec.orders["o"]
    assert model.ignored == ("fluentd", "cron", "node-exporter")
    assert [s.name for s in model.services] == ["nova-api", "nova-compute"]


def test_ignored_services_are_known_and_get_no_steps(write):
    spec = write("o.kostyor", IGNORING)
    inv = write(
        "inv.yaml",
        "hosts:\n"
        "  - name: a\n    services: [nova-api, fluentd, cron]\n"
        "  - name: b\n    services: [fluentd, node-exporter]\n"
        "  - name: c\n    services: [nova-compute, vector]\n",
    )
    report = check(str(spec), str(inv))
    codes = sorted((d.code, d.subject) for d in report.diagnostics)
    assert codes == [
        ("K042", "host 'c', service 'vector'"),
        ("K044", "host 'b'"),
    ], render_text(report.diagnostics, report.sources)
    (k044,) = [d for d in report.diagnostics if d.code == "K044"]
    assert "only services the order ignores" in k044.message
    inv.write_text(inv.read_text().replace(", vector", ""))
    plan = compile_plan(str(spec), str(inv)).plan
    assert [s["id"] for s in plan["steps"]] == ["nova-api@a", "nova-compute@c"]


def test_a_service_both_upgraded_and_ignored_is_an_error(write):
    spec = write(
        "o.kostyor",
        IGNORING.replace("ignore node-exporter", "ignore node-exporter, nova-api, cron"),
    )
    result = check_spec(str(spec))
    messages = sorted((d.code, d.message, d.span.line) for d in result.diagnostics)
    assert messages == [
        ("K016", "service 'cron' is ignored twice", 11),
        ("K016", "service 'nova-api' is ignored and upgraded in project 'nova'", 11),
    ]


def test_ignore_is_formatted_and_stays_a_word_in_strategies(write):
    messy = IGNORING.replace("  ignore fluentd, cron", "ignore   fluentd ,cron")
    assert format_spec(messy, "o.kostyor") == IGNORING
    spec = write("s.kostyor", IGNORING.replace("  order  o\n", "  order  o\n  ignore  x\n"))
    (d,) = check_spec(str(spec)).diagnostics
    assert d.code == "K023" and "unknown setting 'ignore'" in d.message


def test_the_readme_quick_start_imports_checks_and_compiles(tmp_path):
    """The quick start's one command line, after its venv and pip steps, run as written:
    everything it writes is under build/ (which git ignores), and it prints a summary
    of the plan, not the plan (issue 21 item 17)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    (line,) = [ln for ln in block.splitlines() if ln.strip()]
    commands = line.split(" && ")
    assert commands[0].startswith("python3 -m venv") and "pip install" in commands[1]
    assert commands[2] == "mkdir -p build"
    assert [c.split()[1] for c in commands[3:]] == ["import", "check", "compile", "simulate"]
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / "build").mkdir()
    for command in commands[3:]:
        argv = shlex.split(command)
        assert argv[0] == ".venv/bin/kostyorc"
        proc = subprocess.run(
            [sys.executable, "-m", "kostyor_dsl", *argv[1:]],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert proc.returncode == 0, (command, proc.stderr)
    assert proc.stdout.startswith("simulation:") and len(proc.stdout.splitlines()) < 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "examples"]
    assert "build/" in (ROOT / ".gitignore").read_text().split()
    plan = (tmp_path / "build" / "plan.yaml").read_text()
    assert "steps:" in plan and "mariadb@ctl01" in plan


def test_network_nodes_are_the_network_tier_and_all_in_one_controllers_stay_controllers(write):
    from kostyor_dsl.compiler.selectors import HostTiers
    from kostyor_dsl.inventory.model import Host

    tier_of = HostTiers(order(), check_spec("openstack").spec.tiers)
    hosts = {h["name"]: h for h in yaml.safe_load(KOLLA_INVENTORY.read_text())["hosts"]}
    tiers = {name: tier_of(Host(name, tuple(h["services"]))) for name, h in hosts.items()}
    assert tiers["net01"] == tiers["net02"] == "network"
    assert tiers["ctl01"] == "controller" and tiers["cmp01"] == "compute"
    assert tiers["sto01"] == "storage"
    all_in_one = ("mariadb", "keystone", "neutron-server", "neutron-l3-agent", "ovn-controller")
    assert tier_of(Host("aio", all_in_one)) == "controller"
    spec = write(
        "net.kostyor",
        "import openstack\n\nstrategy s extends node-by-node {\n  hosts network {\n    batch  max\n  }\n}\n",
    )
    plan = compile_plan(str(spec), str(KOLLA_INVENTORY)).plan
    assert plan["groups"][0]["hosts"] == 2
