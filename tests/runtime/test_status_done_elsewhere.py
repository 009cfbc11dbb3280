"""`status` shows a step done elsewhere as such, and a hypervisor a failed evacuation
left with scheduling disabled, with the command that enables it again."""

from __future__ import annotations

from kostyor_dsl.runtime.records import completed_state
from kostyor_dsl.runtime.status import hosts_left_disabled, render_status


def _step(index, unit, action_step, state, result=None, hosts=("cmp-1",)):
    return {
        "index": index, "id": unit, "step": action_step, "kind": "hook", "hosts": list(hosts),
        "state": state, "duration": 1.0 if state != "pending" else None, "error": None,
        "result": result, "progress": None,
    }  # fmt: skip


PLAN = {
    "steps": [
        {"id": "before:disable-scheduling:cmp-1", "action": "disable-scheduling"},
        {"id": "before:evacuate:cmp-1", "action": "evacuate"},
        {"id": "after:enable-scheduling:cmp-1", "action": "enable-scheduling"},
        {"id": "pre-upgrade:keystone-db-expand", "action": "keystone-db-expand"},
    ]
}
ENABLE = "openstack compute service set --enable cmp-1 nova-compute"


def test_a_driver_result_saying_done_elsewhere_is_its_own_state():
    assert completed_state({"did": "x", "done_elsewhere": "kolla-ansible upgrade"}) == (
        "done-elsewhere"
    )
    assert completed_state({"did": "ran"}) == "succeeded"
    assert completed_state(None) == "succeeded"


def test_a_host_left_disabled_by_a_failed_evacuation_is_listed_with_its_command():
    disabled = {"did": "disabled", "scheduling_disabled": True, "enable_with": ENABLE}
    steps = [
        _step(0, "before:disable-scheduling:cmp-1", "before:disable-scheduling:cmp-1",
              "succeeded", disabled),
        _step(1, "before:evacuate:cmp-1", "before:evacuate:cmp-1", "failed"),
        _step(2, "after:enable-scheduling:cmp-1", "after:enable-scheduling:cmp-1", "skipped"),
    ]  # fmt: skip
    left = hosts_left_disabled(steps, PLAN, "failed")
    assert left == [
        {
            "host": "cmp-1",
            "disabled_in": "before:disable-scheduling:cmp-1",
            "stopped_at": "before:evacuate:cmp-1",
            "stopped_state": "failed",
            "enable": ENABLE,
        }
    ]
    # Enabled again, or still on its way there, or disabled by someone else: not listed.
    enabled = [*steps[:1], {**steps[1], "state": "succeeded"}, {**steps[2], "state": "succeeded"}]
    assert hosts_left_disabled(enabled, PLAN, "succeeded") == []
    running = [steps[0], {**steps[1], "state": "running"}, {**steps[2], "state": "pending"}]
    assert hosts_left_disabled(running, PLAN, "running") == []
    theirs = [{**steps[0], "result": {**disabled, "scheduling_disabled": False}}, *steps[1:]]
    assert hosts_left_disabled(theirs, PLAN, "failed") == []

    document = {
        "run": "r1", "state": "failed", "summary": {"total": 4, "succeeded": 1,
        "done-elsewhere": 1, "failed": 1, "skipped": 1}, "error": "step before:evacuate:cmp-1 failed",
        "steps": [*steps, {**_step(3, "pre-upgrade:keystone-db-expand",
                                    "pre-upgrade:keystone-db-expand", "done-elsewhere",
                                    {"done_elsewhere": "`kolla-ansible upgrade -t keystone` runs it itself"},
                                    hosts=())}],
        "hosts_left_disabled": left,
    }  # fmt: skip
    text = render_status(document, tty=False)
    assert text.splitlines()[0] == (
        "run r1: failed, 1/4 steps succeeded, 1 done elsewhere - step before:evacuate:cmp-1 failed"
    )
    assert (
        "host cmp-1 left with scheduling disabled (step before:evacuate:cmp-1 failed after "
        f"before:disable-scheduling:cmp-1): enable it again with `{ENABLE}`"
    ) in text
    assert text.splitlines()[-1].endswith(
        "pre-upgrade:keystone-db-expand  (done elsewhere: `kolla-ansible upgrade -t keystone` "
        "runs it itself)"
    )
