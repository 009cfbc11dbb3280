"""The OpenStack actions, through openstacksdk, against the HTTP stand-in of a cloud.

The stand-in moves a migrating server after a number of looks at the host,
so every wait here ends on what the cloud says; a host that never empties
ends on the action's own timeout.
"""

from __future__ import annotations

import pytest

from kostyor_dsl.runtime.drivers import load_driver
from kostyor_dsl.runtime.errors import StepFailed

pytestmark = pytest.mark.timeout(60)


def run(driver, action: str, host: str, **parameters):
    return driver.action(action, host, parameters).apply(throw=True).result


@pytest.fixture
def driver(tmp_path, standin):
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[compute]\ncmp-1\ncmp-2\n")
    return load_driver(
        "kolla-ansible", {"inventory": str(inventory), "cloud": "standin", "poll_interval": 0.01}
    )


def test_disable_then_enable_scheduling_is_idempotent_and_says_what_it_did(standin, driver):
    standin.cloud.add_compute("cmp-1")
    first = run(driver, "disable-scheduling", "cmp-1")
    again = run(driver, "disable-scheduling", "cmp-1")
    assert first["did"] == "disabled nova-compute on cmp-1"
    assert again["did"] == "nothing: nova-compute on cmp-1 was already disabled"
    assert standin.cloud.service_updates() == [
        {"status": "disabled", "disabled_reason": "kostyor: upgrading this host"}
    ]
    assert standin.cloud.services[0]["status"] == "disabled"

    enabled = run(driver, "enable-scheduling", "cmp-1")
    assert enabled["did"] == "enabled nova-compute on cmp-1"
    assert run(driver, "enable-scheduling", "cmp-1")["did"] == (
        "nothing: nova-compute on cmp-1 was already enabled"
    )
    assert standin.cloud.services[0]["status"] == "enabled"
    assert len(standin.cloud.service_updates()) == 2


def test_enable_scheduling_leaves_a_host_someone_else_disabled(standin, driver):
    standin.cloud.add_compute("cmp-1", status="disabled", reason="failing DIMM, ticket 4711")
    assert run(driver, "enable-scheduling", "cmp-1")["did"] == (
        "nothing: nova-compute on cmp-1 stays disabled, as someone else disabled it "
        "(reason: failing DIMM, ticket 4711); the action's `force true` enables it"
    )
    assert standin.cloud.service_updates() == []
    assert run(driver, "enable-scheduling", "cmp-1", force="true")["did"].startswith("enabled")


def test_a_custom_reason_is_still_the_runs_own_disable(standin, driver):
    standin.cloud.add_compute("cmp-1")
    first = run(driver, "disable-scheduling", "cmp-1", reason="upgrade to 2025.1, CHG-88")
    # The run's mark goes before the operator's words: nova keeps who disabled it.
    assert standin.cloud.service_updates() == [
        {"status": "disabled", "disabled_reason": "kostyor: upgrade to 2025.1, CHG-88"}
    ]
    assert first["scheduling_disabled"] is True
    # Run again (a worker died after the call): still the run's, so status lists it
    # if the host's later steps stop, and enable-scheduling enables it.
    again = run(driver, "disable-scheduling", "cmp-1", reason="upgrade to 2025.1, CHG-88")
    assert again["scheduling_disabled"] is True
    assert run(driver, "enable-scheduling", "cmp-1")["did"] == "enabled nova-compute on cmp-1"
    assert standin.cloud.services[0]["status"] == "enabled"


def test_a_host_disabled_by_a_reason_merely_starting_with_kostyor_is_someone_elses(standin, driver):
    standin.cloud.add_compute("cmp-1", status="disabled", reason="kostyor-test rack, do not use")
    assert run(driver, "disable-scheduling", "cmp-1")["scheduling_disabled"] is False
    assert run(driver, "enable-scheduling", "cmp-1")["did"].startswith(
        "nothing: nova-compute on cmp-1 stays disabled, as someone else disabled it"
    )
    assert standin.cloud.services[0]["status"] == "disabled"


def test_the_disabled_reason_fits_novas_column():
    from kostyor_dsl.runtime.drivers.openstack_actions import disabled_reason

    assert disabled_reason({}) == "kostyor: upgrading this host"
    assert disabled_reason({"reason": "kostyor: CHG-1"}) == "kostyor: CHG-1"
    long = disabled_reason({"reason": "x" * 300})
    assert len(long) == 255 and long.startswith("kostyor: x")


def test_an_unknown_host_is_a_clear_failure(standin, driver):
    standin.cloud.add_compute("cmp-1")
    with pytest.raises(StepFailed, match="no nova-compute service on host 'cmp-9'"):
        run(driver, "disable-scheduling", "cmp-9")
    with pytest.raises(StepFailed, match="knows no service on host 'cmp-9'"):
        run(driver, "check-services", "cmp-9")


def test_evacuate_live_migrates_cold_migrates_what_cannot_move_live_and_confirms(standin, driver):
    cloud = standin.cloud
    cloud.add_compute("cmp-1")
    cloud.add_compute("cmp-2")
    live = cloud.add_server("web-1", "cmp-1")
    pinned = cloud.add_server("db-1", "cmp-1", kind="cold-only")
    stopped = cloud.add_server("batch-1", "cmp-1", status="SHUTOFF")
    elsewhere = cloud.add_server("other", "cmp-2")

    result = run(driver, "evacuate", "cmp-1", timeout="30s")

    assert result["did"] == "host cmp-1 is empty: live-migrated 1, cold-migrated 2"
    assert result["live_migrated"] == [live.id]
    assert result["cold_migrated"] == sorted([pinned.id, stopped.id])
    assert sorted(result["confirmed"]) == sorted([pinned.id, stopped.id])
    assert cloud.on("cmp-1") == []
    assert (live.host, pinned.host, stopped.host) == ("cmp-2", "cmp-2", "cmp-2")
    assert (live.status, pinned.status, stopped.status) == ("ACTIVE", "ACTIVE", "SHUTOFF")
    asked = [(server, sorted(body)) for server, body in cloud.actions()]
    # The pinned one: live first (refused), then cold, then confirmed; the stopped one
    # goes cold at once; the one on another host is never touched.
    assert [name for server, name in asked if server == pinned.id] == [
        ["os-migrateLive"],
        ["migrate"],
        ["confirmResize"],
    ]
    assert [name for server, name in asked if server == stopped.id] == [
        ["migrate"],
        ["confirmResize"],
    ]
    assert elsewhere.id not in {server for server, _ in asked}

    again = run(driver, "evacuate", "cmp-1")
    assert again["did"] == "nothing to move: host cmp-1 had no instances left"
    assert len(cloud.actions()) == len(asked)


def test_evacuate_run_again_waits_for_a_migration_already_under_way(standin, driver):
    cloud = standin.cloud
    cloud.add_compute("cmp-1")
    cloud.add_compute("cmp-2")
    server = cloud.add_server("web-1", "cmp-1")
    # What a worker killed right after asking for the live migration leaves behind.
    server.status, server.task_state, server.moving_for, server.destination = (
        "MIGRATING",
        "migrating",
        3,
        "cmp-2",
    )
    result = run(driver, "evacuate", "cmp-1")
    assert cloud.actions() == []
    assert cloud.on("cmp-1") == []
    assert result["did"] == "nothing to move: host cmp-1 had no instances left"


def test_evacuate_refuses_an_instance_that_cannot_move_at_all(standin, driver):
    cloud = standin.cloud
    cloud.add_compute("cmp-1")
    cloud.add_compute("cmp-2")
    cloud.add_server("web-1", "cmp-1")
    stuck = cloud.add_server("licensed-1", "cmp-1", kind="immovable")
    with pytest.raises(StepFailed) as failure:
        run(driver, "evacuate", "cmp-1", timeout="30s")
    message = str(failure.value)
    assert message.startswith("evacuate: cannot move 1 instance off cmp-1: licensed-1")
    assert "HTTP 400: Migration pre-check error" in message
    assert "cold migration refused: HTTP 409" in message
    assert "(moved: 1)" in message
    assert [s.name for s in cloud.on("cmp-1")] == ["licensed-1"]
    assert stuck.status == "ACTIVE"


def test_evacuate_without_cold_migration_refuses_at_once(standin, driver):
    cloud = standin.cloud
    cloud.add_compute("cmp-1")
    cloud.add_compute("cmp-2")
    cloud.add_server("db-1", "cmp-1", kind="cold-only")
    with pytest.raises(StepFailed, match=r"live migration refused: HTTP 400.*pre-check error"):
        run(driver, "evacuate", "cmp-1", cold_migrate="false")
    assert [sorted(body) for _, body in cloud.actions()] == [["os-migrateLive"]]


def test_a_host_that_never_empties_ends_on_the_actions_timeout(standin, driver):
    cloud = standin.cloud
    cloud.add_compute("cmp-1")
    cloud.add_compute("cmp-2")
    cloud.add_server("web-1", "cmp-1", kind="stuck")
    with pytest.raises(StepFailed) as failure:
        run(driver, "evacuate", "cmp-1", timeout="0.5s")
    assert str(failure.value) == (
        "evacuate: host cmp-1 still has 1 instance after 0.5 s: web-1 "
        f"({cloud.on('cmp-1')[0].id}, MIGRATING)"
    )
    with pytest.raises(
        StepFailed, match=r"^wait-empty: host cmp-1 still has 1 instance after 0.3 s"
    ):
        run(driver, "wait-empty", "cmp-1", timeout=0.3)


def test_wait_empty_and_check_services(standin, driver):
    cloud = standin.cloud
    cloud.add_compute("cmp-1")
    cloud.add_compute("cmp-2", state="down")
    cloud.add_agent("cmp-1", "neutron-openvswitch-agent")
    cloud.add_agent("cmp-2", "neutron-openvswitch-agent", alive=False)
    assert run(driver, "wait-empty", "cmp-1")["did"] == "host cmp-1 has no instances"
    assert run(driver, "check-services", "cmp-1")["services"] == [
        "neutron-openvswitch-agent",
        "nova-compute",
    ]
    assert run(driver, "health-check", "cmp-1")["did"] == "every service of cmp-1 is up"
    with pytest.raises(StepFailed) as failure:
        run(driver, "check-services", "cmp-2")
    assert str(failure.value) == (
        "check-services on cmp-2: neutron-openvswitch-agent is not alive, nova-compute is down"
    )


def test_an_unknown_cloud_is_a_clear_failure(standin, driver, tmp_path):
    other = load_driver(
        "ansible", {"inventory": str(tmp_path / "inventory.ini"), "cloud": "nowhere"}
    )
    with pytest.raises(StepFailed, match=r"^cloud 'nowhere': .*clouds\.yaml"):
        run(other, "disable-scheduling", "cmp-1")
