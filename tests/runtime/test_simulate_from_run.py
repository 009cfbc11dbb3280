"""`kostyorc simulate --from-run` agrees with a real run (issue 12).

A small rollout plan (a pre-upgrade step, one batch of four hosts with four
steps each, a post-upgrade step: 18 units) runs on one real worker with
concurrency 2 and the noop driver sleeping 1 s a step.  The simulation of
the same plan from that run's record, at the same concurrency, must predict
its window (first start to last end, read from `kostyorc status`) within
20% + 0.5 s.  The tolerance is generous on purpose: it absorbs a loaded
machine (load slows the worker's hand-over between steps, which the
simulation learns from the run as a median, and makes it uneven).  It still
tells the runtime's rule from a wrong one: simulating the batch with every
lane at once (concurrency 4, about 40% shorter) or one lane at a time
(concurrency 1, about 80% longer) falls outside it, and the test checks
that too; and the hosts of the batch interleave on the workers in the run
as in the simulation.  It waits on the run's state, never on a sleep.
"""

from __future__ import annotations

import datetime
import json
import signal

import pytest
from runtime_harness import Runtime, require_broker, rollout_plan

from kostyor_dsl.simulate import simulate_plan
from kostyor_dsl.simulate.from_run import learn_timings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SLEEP = 1.0
CONCURRENCY = 2
RELATIVE, ABSOLUTE = 0.20, 0.5


@pytest.fixture
def embedded_runtime(tmp_path):
    require_broker("embedded")
    instance = Runtime(tmp_path, "embedded")
    yield instance
    for process, _ in instance.workers:
        instance.kill_worker(process, signal.SIGKILL)
    instance.stop_all()


def _moment(text: str) -> float:
    return datetime.datetime.fromisoformat(text).timestamp()


def _host_spans(steps: list[dict]) -> dict[str, list[float]]:
    """Each host's first start and last end in a status document's steps."""
    spans: dict[str, list[float]] = {}
    for step in steps:
        for host in step["hosts"]:
            spans.setdefault(host, [_moment(step["started"]), 0.0])[1] = _moment(step["finished"])
    return spans


def _simulated(runtime, run_id: str, concurrency: int) -> dict:
    done = runtime.kostyorc(
        "simulate",
        runtime.tmp / "plan.json",
        "--from-run",
        run_id,
        "--concurrency",
        str(concurrency),
        "--format",
        "json",
    )
    return json.loads(done.stdout)


def test_the_simulated_window_matches_the_measured_one(embedded_runtime):
    runtime = embedded_runtime
    plan = rollout_plan([("batch", "compute", 1, ["node-1", "node-2", "node-3", "node-4"])])
    runtime.start_worker(concurrency=CONCURRENCY)
    run_id = runtime.submit(plan, "--driver", "noop", sleep=SLEEP)
    runtime.wait_state(run_id, "succeeded", 120)

    status = runtime.status(run_id)
    assert len(status["steps"]) == 18
    measured = max(_moment(s["finished"]) for s in status["steps"]) - min(
        _moment(s["started"]) for s in status["steps"]
    )
    document = _simulated(runtime, run_id, CONCURRENCY)
    predicted, learned = document["duration"], document["timings"]
    # Every step the run timed took about the driver's sleep.
    for seconds in [*learned["services"].values(), *learned["actions"].values()]:
        assert SLEEP <= seconds < SLEEP + 2, learned
    tolerance = RELATIVE * measured + ABSOLUTE
    report = f"predicted {predicted:.2f} s, measured {measured:.2f} s, learned {learned}"
    assert abs(predicted - measured) <= tolerance, report
    # The workers take a batch's steps first come, first served (a lane's next
    # step queues behind the other lanes' first): the third and fourth hosts
    # start long before the first two have finished, in the run and in the
    # simulation alike.  Running two whole lanes at a time would not.
    real = _host_spans(status["steps"])
    assert max(real["node-3"][0], real["node-4"][0]) < min(real["node-1"][1], real["node-2"][1])
    timings, _ = learn_timings(runtime.store(), run_id)
    result = simulate_plan(plan, timings, CONCURRENCY)
    simulated = {}
    for hosts, start, end in zip(
        result.unit_hosts, result.unit_start, result.unit_end, strict=True
    ):
        for host in hosts:
            simulated.setdefault(host, [start, end])[1] = end
    assert max(simulated["node-3"][0], simulated["node-4"][0]) < min(
        simulated["node-1"][1], simulated["node-2"][1]
    )
    for concurrency in (1, 4):
        wrong = _simulated(runtime, run_id, concurrency)["duration"]
        assert abs(wrong - measured) > tolerance, f"concurrency {concurrency}: {wrong}; {report}"
