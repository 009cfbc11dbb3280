"""specs/kostyor.kostyor carries exactly Kostyor's 2017 upgrade order."""

from __future__ import annotations

from support import KOSTYOR_SPEC

from kostyor_dsl.compiler.resolve import check_spec
from kostyor_dsl.language.imports import shipped_specs

C, K, S = ("controller",), ("compute",), ("storage",)
# The reference table (shared/reference/openstack-upgrade-order.md), row by row.
REFERENCE = [
    ("keystone", ["keystone-wsgi-admin", "keystone-wsgi-public"], C),
    ("glance", ["glance-api", "glance-registry"], C),
    (
        "nova",
        "nova-conductor nova-scheduler nova-cells nova-cert nova-console nova-consoleauth "
        "nova-network nova-novncproxy nova-serialproxy nova-spicehtml5proxy nova-xvpvncproxy "
        "nova-api nova-api-metadata nova-api-os-compute".split(),
        C,
    ),
    ("nova", ["nova-compute"], K),
    ("neutron", ["neutron-server"], C),
    (
        "neutron",
        ["neutron-openvswitch-agent", "neutron-linuxbridge-agent", "neutron-sriov-nic-agent"],
        ("controller", "compute"),
    ),
    (
        "neutron",
        "neutron-l3-agent neutron-dhcp-agent neutron-metering-agent neutron-metadata-agent "
        "neutron-ns-metadata-proxy".split(),
        C,
    ),
    ("cinder", ["cinder-api", "cinder-scheduler"], C),
    ("cinder", ["cinder-volume"], S),
    ("horizon", ["horizon-wsgi"], C),
    ("heat", ["heat-api", "heat-engine", "heat-api-cfn", "heat-api-cloudwatch"], C),
    (
        "ceilometer",
        [
            "ceilometer-collector",
            "ceilometer-agent-notification",
            "ceilometer-polling",
            "ceilometer-api",
        ],
        C,
    ),
    ("aodh", ["aodh-evaluator", "aodh-notifier", "aodh-listener", "aodh-api"], C),
    ("gnocchi", ["gnocchi-statsd", "gnocchi-metricd", "gnocchi-api"], C),
    ("swift", ["swift-proxy-server"], C),
    (
        "swift",
        "swift-account-auditor swift-account-reaper swift-account-replicator swift-account-server "
        "swift-container-auditor swift-container-reconciler swift-container-replicator "
        "swift-container-server swift-container-sync swift-container-updater swift-object-auditor "
        "swift-object-expirer swift-object-reconstructor swift-object-replicator swift-object-server "
        "swift-object-updater".split(),
        S,
    ),
    ("ironic", ["ironic-inspector", "ironic-conductor", "ironic-api"], C),
]


def test_shipped_order_is_exactly_the_reference():
    result = check_spec(str(KOSTYOR_SPEC))
    assert result.diagnostics == ()
    spec = result.spec
    expected = [(p, s, roles) for p, services, roles in REFERENCE for s in services]
    actual = [(s.project, s.name, s.roles) for s in spec.orders["openstack"].services]
    assert actual == expected
    assert spec.tiers == ("controller", "compute", "storage")


def test_shipped_strategies():
    spec = check_spec("kostyor").spec
    assert spec.default_strategy == "node-by-node"
    assert {n: (s.engine, s.order) for n, s in spec.strategies.items()} == {
        "node-by-node": ("node-by-node", "openstack"),
        "service-by-service": ("service-by-service", "openstack"),
        "rolling-computes": ("node-by-node", "openstack"),
    }
    rolling = spec.strategies["rolling-computes"]
    assert [(g.name, g.batches) for g in rolling.groups] == [
        ("controller", (1,)),
        ("compute", (1, 5, "20%")),
    ]
    compute = rolling.groups[1]
    assert [a.name for a in compute.before] == ["disable-scheduling", "evacuate"]
    assert [a.name for a in compute.after] == ["enable-scheduling"]
    assert compute.pause_after_batches == (1,)
    assert compute.max_failed_hosts == 0


def test_shipped_spec_loads_by_name_from_the_package():
    assert {"kostyor", "openstack"} <= set(shipped_specs())
    by_name = check_spec("kostyor")
    assert by_name.spec.files[0].display == "<shipped>/kostyor.kostyor"
    assert by_name.spec.files[0].text == KOSTYOR_SPEC.read_text()
