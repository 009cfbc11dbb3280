"""The simulation's figures, worked out by hand, and its agreement with the runtime's schedule."""

from __future__ import annotations

import itertools

import pytest
from simulate_support import batch_plan, gate, group, plan_of, upgrade

from kostyor_dsl.runtime.canvas import stages_of, units_of
from kostyor_dsl.simulate import Timings, simulate_plan


def test_seventeen_steps_of_sixty_seconds_in_one_lane_take_1020_seconds(design_doc_plan):
    assert len(design_doc_plan["steps"]) == 17
    result = simulate_plan(design_doc_plan, Timings(default=60), concurrency=2)
    assert result.duration == 1020
    assert len(result.stages) == 1 and result.stages[0].lanes == 1
    assert list(result.unit_start) == [60.0 * i for i in range(17)]
    assert list(result.unit_end) == [60.0 * (i + 1) for i in range(17)]
    # One lane: more workers change nothing.
    assert simulate_plan(design_doc_plan, Timings(default=60), concurrency=8).duration == 1020


@pytest.mark.parametrize(
    ("concurrency", "seconds"), [(1, 480), (2, 240), (3, 180), (4, 120), (9, 120)]
)
def test_a_batch_of_four_hosts_with_two_steps_each(concurrency, seconds):
    plan = batch_plan(["h1", "h2", "h3", "h4"], ("nova-api", "nova-compute"))
    result = simulate_plan(plan, Timings(default=60), concurrency=concurrency)
    assert result.duration == seconds
    assert [(s.kind, s.lanes, s.units) for s in result.stages] == [("batch", 4, 8)]


def test_the_queue_is_first_in_first_out_as_the_runtime_publishes():
    # Three hosts, two steps each, two workers.  At 0 s h1 and h2 start; at 60 s
    # the queue holds h3's first step, then h1's and h2's second (published when
    # their first ended): h3 starts at 60 s, beside h1, and h2 waits until 120 s.
    plan = batch_plan(["h1", "h2", "h3"], ("nova-api", "nova-compute"))
    result = simulate_plan(plan, Timings(default=60), concurrency=2)
    starts = dict(zip(result.unit_ids, result.unit_start, strict=True))
    assert starts == {
        "nova-api@h1": 0,
        "nova-compute@h1": 60,
        "nova-api@h2": 0,
        "nova-compute@h2": 120,
        "nova-api@h3": 60,
        "nova-compute@h3": 120,
    }
    assert result.duration == 180
    compute = next(u for u in result.unavailable if u.kind == "group")
    assert (compute.name, compute.most_down, compute.at) == ("compute", 3, 60)


def test_the_stages_and_units_are_the_runtimes_own(rolling_plan):
    result = simulate_plan(rolling_plan, Timings(default=60), concurrency=2)
    stages = stages_of(rolling_plan, "any")
    units = units_of(rolling_plan, "any")
    assert list(result.unit_ids) == [unit.id for unit in units]
    assert [(s.index, s.lanes, s.units, s.first, s.last) for s in result.stages] == [
        (s.index, len(s.lanes), s.last - s.first + 1, units[s.first].id, units[s.last].id)
        for s in stages
    ]
    # A stage starts when the one before has ended.
    for before, after in itertools.pairwise(result.stages):
        assert after.start == before.end


def test_a_gate_takes_the_operators_time_only_when_told(rolling_plan):
    plain = simulate_plan(rolling_plan, Timings(default=60), concurrency=2)
    waited = simulate_plan(rolling_plan, Timings(default=60, gate=900), concurrency=2)
    gates = [s for s in plain.stages if s.kind == "gate"]
    assert len(gates) == 1 and gates[0].duration == 0
    assert waited.duration == plain.duration + 900


def test_dispatch_comes_before_every_step(design_doc_plan):
    result = simulate_plan(design_doc_plan, Timings(default=60, dispatch=0.5), concurrency=2)
    assert result.duration == 17 * 60.5


def test_the_critical_path_is_the_chain_that_ends_last_without_gaps(rolling_plan):
    lane = simulate_plan(plan_of([upgrade("nova-api", f"h{i}") for i in range(5)]), Timings())
    assert [(p.first, p.last, p.units, p.start, p.end) for p in lane.critical_path] == [
        ("nova-api@h0", "nova-api@h4", 5, 0, 300)
    ]
    result = simulate_plan(rolling_plan, Timings(default=60), concurrency=2)
    path = result.critical_path
    assert path[0].start == 0 and path[-1].end == result.duration
    for before, after in itertools.pairwise(path):
        assert after.start == before.end
    # In the batch of three hosts on two workers, lanes wait for workers.
    assert any(segment.waited_for for segment in path)


def test_hosts_down_per_tier_group_and_lowest_compute_capacity(rolling_plan):
    result = simulate_plan(rolling_plan, Timings(default=60), concurrency=2)
    down = {(u.kind, u.name): (u.most_down, u.hosts) for u in result.unavailable}
    assert down == {
        ("tier", "controller"): (1, 3),
        ("tier", "compute"): (3, 4),
        ("tier", "storage"): (1, 2),
        ("group", "controller"): (1, 3),
        ("group", "compute"): (3, 4),
    }
    capacity = result.capacity
    assert (capacity.tier, capacity.hosts, capacity.lowest_up) == ("compute", 4, 1)
    # With four workers the three hosts of batch 2 go down together at its start.
    wide = simulate_plan(rolling_plan, Timings(default=60), concurrency=4)
    batch2 = next(s for s in wide.stages if (s.group, s.batch) == ("compute", 2))
    assert wide.capacity.at == batch2.start and wide.capacity.lasting == batch2.duration


def test_a_one_lane_stage_takes_each_host_down_only_while_its_steps_run():
    steps = [upgrade("nova-api", "a"), upgrade("glance-api", "b"), upgrade("nova-conductor", "a")]
    plan = plan_of(
        steps,
        host_order=[
            {"name": h, "key_service": "nova-api", "rank": 1, "tier": "controller", "source": "t:1"}
            for h in ("a", "b")
        ],
    )
    result = simulate_plan(plan, Timings(default=60))
    (controller,) = result.unavailable
    assert (controller.name, controller.most_down, controller.hosts) == ("controller", 1, 2)
    assert controller.series == ((0.0, 1), (180.0, 0))


def test_budgets_are_read_from_the_plan_when_it_carries_them():
    plan = batch_plan(["h1", "h2", "h3", "h4"], ("nova-compute",))
    plan["budgets"] = [
        {"name": "nova-compute", "hosts": ["h1", "h2", "h3", "h4"], "max_unavailable": 1},
        {"selector": ["compute"], "min_available": 1},
        {"name": "two", "hosts": ["h1", "h2"], "allowed": 2},
        {"selector": ["name=h[12]"]},
        {"selector": ["rack=r1"]},
    ]
    result = simulate_plan(plan, Timings(default=60), concurrency=3)
    budgets = [
        (u.name, u.hosts, u.most_down, u.allowed, u.exceeded)
        for u in result.unavailable
        if u.kind == "budget"
    ]
    assert budgets == [
        ("nova-compute", 4, 3, 1, True),
        ("compute", 4, 3, 3, False),
        ("two", 2, 2, 2, False),
        ("name=h[12]", 2, 2, None, False),
    ]
    assert any("budget rack=r1" in note and "labels" in note for note in result.notes)


def test_service_by_service_takes_every_host_of_a_step_down_at_once():
    steps = [
        {**upgrade("nova-api", "x"), "id": "nova-api", "hosts": ["a", "b", "c"]},
        {**upgrade("nova-conductor", "x"), "id": "nova-conductor", "hosts": ["a", "b"]},
    ]
    plan = plan_of(steps, groups=None)
    plan["budgets"] = [{"name": "all", "hosts": ["a", "b", "c"]}]
    result = simulate_plan(plan, Timings(default=60))
    assert result.duration == 120
    (budget,) = [u for u in result.unavailable if u.kind == "budget"]
    assert budget.series == ((0.0, 3), (60.0, 2), (120.0, 0))
    assert any("says no host's tier" in note for note in result.notes)


def test_a_tier_from_a_groups_selector_wins_over_host_order():
    plan = batch_plan(["cmp-1"], ("nova-compute",))
    plan["host_order"] = [
        {
            "name": "cmp-1",
            "key_service": "neutron-openvswitch-agent",
            "rank": 20,
            "tier": "controller",
            "source": "t:1",
        }
    ]
    result = simulate_plan(plan, Timings())
    assert [(u.kind, u.name) for u in result.unavailable] == [
        ("tier", "compute"),
        ("group", "compute"),
    ]


def test_a_gate_between_batches():
    steps = [
        upgrade("nova-compute", "h1", group="compute", batch=1),
        gate("compute", 1),
        upgrade("nova-compute", "h2", group="compute", batch=2),
    ]
    result = simulate_plan(plan_of(steps, [group("compute", 2)]), Timings(default=60, gate=30))
    assert [(s.kind, s.start, s.end) for s in result.stages] == [
        ("batch", 0, 60),
        ("gate", 60, 90),
        ("batch", 90, 150),
    ]
