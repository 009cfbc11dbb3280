"""The engines against the reference rules and the design doc's worked example,
comparing whole step sequences."""

from __future__ import annotations

import pytest
from support import EXAMPLES, KOSTYOR_SPEC

from kostyor_dsl.compiler import compile_plan
from kostyor_dsl.compiler.engines import node_by_node, service_by_service, service_ranks
from kostyor_dsl.compiler.resolve import check_spec
from kostyor_dsl.inventory.model import Host


@pytest.fixture(scope="module")
def openstack():
    spec = check_spec(str(KOSTYOR_SPEC)).spec
    return spec.orders["openstack"], spec.tiers


def sequence(steps):
    return [
        (s["hosts"][0] if len(s["hosts"]) == 1 else tuple(s["hosts"]), s["service"]) for s in steps
    ]


DESIGN_DOC_NODE_BY_NODE = [
    ("node-c", "keystone-wsgi-admin"),
    ("node-c", "keystone-wsgi-public"),
    ("node-a", "glance-api"),
    ("node-a", "glance-registry"),
    ("node-a", "nova-conductor"),
    ("node-a", "nova-scheduler"),
    ("node-a", "nova-spicehtml5proxy"),
    ("node-a", "nova-api"),
    ("node-a", "neutron-server"),
    ("node-a", "neutron-linuxbridge-agent"),
    ("node-a", "neutron-l3-agent"),
    ("node-a", "neutron-dhcp-agent"),
    ("node-a", "neutron-metering-agent"),
    ("node-a", "neutron-metadata-agent"),
    ("node-a", "neutron-ns-metadata-proxy"),
    ("node-b", "nova-compute"),
    ("node-b", "neutron-linuxbridge-agent"),
]


def test_design_doc_example_node_by_node():
    plan = compile_plan(str(KOSTYOR_SPEC), str(EXAMPLES / "design-doc.yaml")).plan
    assert plan["strategy"] == "node-by-node"
    assert sequence(plan["steps"]) == DESIGN_DOC_NODE_BY_NODE
    assert [h["name"] for h in plan["host_order"]] == ["node-c", "node-a", "node-b"]
    assert plan["host_order"][0]["key_service"] == "keystone-wsgi-admin"
    assert plan["host_order"][2]["key_service"] == "neutron-linuxbridge-agent"


def test_design_doc_example_service_by_service():
    plan = compile_plan(
        str(KOSTYOR_SPEC), str(EXAMPLES / "design-doc.yaml"), strategy="service-by-service"
    ).plan
    assert [(s["service"], s["hosts"]) for s in plan["steps"]] == [
        ("keystone-wsgi-admin", ["node-c"]),
        ("keystone-wsgi-public", ["node-c"]),
        ("glance-api", ["node-a"]),
        ("glance-registry", ["node-a"]),
        ("nova-conductor", ["node-a"]),
        ("nova-scheduler", ["node-a"]),
        ("nova-spicehtml5proxy", ["node-a"]),
        ("nova-api", ["node-a"]),
        ("nova-compute", ["node-b"]),
        ("neutron-server", ["node-a"]),
        ("neutron-linuxbridge-agent", ["node-a", "node-b"]),
        ("neutron-l3-agent", ["node-a"]),
        ("neutron-dhcp-agent", ["node-a"]),
        ("neutron-metering-agent", ["node-a"]),
        ("neutron-metadata-agent", ["node-a"]),
        ("neutron-ns-metadata-proxy", ["node-a"]),
    ]
    assert "host_order" not in plan


def test_ranks_sort_by_first_role_stably(openstack):
    order, tiers = openstack
    ranks = service_ranks(order, tiers)
    flat = [s.name for s in order.services]
    by_rank = sorted(ranks, key=ranks.__getitem__)
    controllers = [s.name for s in order.services if s.roles[0] == "controller"]
    computes = [s.name for s in order.services if s.roles[0] == "compute"]
    storage = [s.name for s in order.services if s.roles[0] == "storage"]
    assert by_rank == controllers + computes + storage
    # L2 agents (controller, compute) rank with the controllers, at their Neutron place.
    assert ranks["neutron-linuxbridge-agent"] < ranks["nova-compute"]
    assert ranks["neutron-server"] < ranks["neutron-openvswitch-agent"] < ranks["neutron-l3-agent"]
    assert computes == ["nova-compute"]
    assert len(ranks) == len(flat)


def test_hosts_by_key_ties_keep_inventory_order(openstack):
    order, tiers = openstack
    hosts = [
        Host("compute-2", ("nova-compute",)),
        Host("storage-1", ("cinder-volume",)),
        Host("compute-1", ("nova-compute",)),
        Host("ctl-1", ("nova-api", "keystone-wsgi-public")),
        Host("ctl-0", ("keystone-wsgi-public",)),
    ]
    steps = node_by_node(order, tiers, hosts).steps
    assert sequence(steps) == [
        ("ctl-1", "keystone-wsgi-public"),
        ("ctl-1", "nova-api"),
        ("ctl-0", "keystone-wsgi-public"),
        ("compute-2", "nova-compute"),
        ("compute-1", "nova-compute"),
        ("storage-1", "cinder-volume"),
    ]


def test_all_in_one_host_uses_plain_flat_order(openstack):
    order, tiers = openstack
    aio = Host(
        "aio",
        ("cinder-volume", "nova-compute", "nova-api-os-compute", "neutron-server", "nova-api"),
    )
    steps = node_by_node(order, tiers, [aio]).steps
    assert [s["service"] for s in steps] == [
        "nova-api",
        "nova-api-os-compute",
        "nova-compute",
        "neutron-server",
        "cinder-volume",
    ]
    assert [s["id"] for s in steps][:2] == ["nova-api@aio", "nova-api-os-compute@aio"]


def test_host_running_nothing_in_the_order_has_no_steps(openstack):
    order, tiers = openstack
    result = node_by_node(order, tiers, [Host("empty", ()), Host("c", ("nova-compute",))])
    assert sequence(result.steps) == [("c", "nova-compute")]
    assert [h["name"] for h in result.host_order] == ["c"]
    assert service_by_service(order, tiers, [Host("empty", ())]).steps == []


def test_service_by_service_hosts_in_inventory_order(openstack):
    order, tiers = openstack
    hosts = [
        Host("z", ("nova-compute",)),
        Host("a", ("nova-compute", "glance-api")),
        Host("m", ("nova-compute",)),
    ]
    steps = service_by_service(order, tiers, hosts).steps
    assert [(s["id"], s["hosts"]) for s in steps] == [
        ("glance-api", ["a"]),
        ("nova-compute", ["z", "a", "m"]),
    ]


def test_custom_tier_ranking_changes_host_order(write):
    spec = write(
        "ranked.kostyor",
        """tiers storage, controller, compute

order o {
  project p {
    api     on controller
    volume  on storage
  }
}

strategy s {
  engine node-by-node
}
""",
    )
    inv = write(
        "inv.yaml", "hosts:\n- {name: ctl, services: [api]}\n- {name: sto, services: [volume]}\n"
    )
    plan = compile_plan(str(spec), str(inv)).plan
    assert [s["id"] for s in plan["steps"]] == ["volume@sto", "api@ctl"]
