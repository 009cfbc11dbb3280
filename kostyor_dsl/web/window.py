"""The plan's expected window and the ETA of a run, from `simulate`.

- **expected**: `kostyorc simulate PLAN` (the default timings, the default
  concurrency): what the plan said before it ran.
- **ETA**: `kostyorc simulate PLAN --from-run RUN` on the live record (the
  median time of each service and action the run has timed so far; a step it
  has not timed yet takes the median of all its timed steps), with the
  concurrency the run has shown (the most steps it had running at once).  The
  time left is the simulated window less the simulated start of the first
  step not yet finished.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from typing import Any

from kostyor_dsl.simulate import DEFAULT_CONCURRENCY, Timings, simulate_plan
from kostyor_dsl.simulate.from_run import learn_timings

FINISHED = frozenset({"succeeded", "done-elsewhere", "skipped", "failed"})


@dataclass(frozen=True)
class Window:
    expected: float  # seconds, the plan's window with the default timings
    spent: float | None  # first start to now (or to the last end, once over)
    left: float | None  # seconds of work left as the run's timings say; None when over
    eta: float | None  # epoch seconds; None unless running
    timed: int  # steps the timings were learned from
    concurrency: int
    # The steps not finished yet as the simulation sees them ahead: (index,
    # start, end) in seconds from `at` (epoch seconds), for the timeline.
    at: float = 0.0
    ahead: tuple[tuple[int, float, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": round(self.at, 1),
            "ahead": [[index, round(start, 1), round(end, 1)] for index, start, end in self.ahead],
            "expected": round(self.expected, 1),
            "spent": None if self.spent is None else round(self.spent, 1),
            "left": None if self.left is None else round(self.left, 1),
            "eta": None if self.eta is None else round(self.eta, 1),
            "timed": self.timed,
            "concurrency": self.concurrency,
        }


def expected_window(plan: dict[str, Any]) -> float:
    return simulate_plan(plan, Timings(), DEFAULT_CONCURRENCY).duration


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    import datetime

    return datetime.datetime.fromisoformat(text).timestamp()


def shown_concurrency(steps: list[dict[str, Any]]) -> int:
    """The most steps the run had running at the same moment."""
    moments = []
    for step in steps:
        start = _epoch(step["started"])
        if start is None:
            continue
        end = _epoch(step["finished"]) if step["finished"] else float("inf")
        moments += [(start, 1), (end, -1)]
    most = current = 0
    for _, change in sorted(moments, key=lambda item: (item[0], item[1])):
        current += change
        most = max(most, current)
    return max(most, 1)


def run_window(
    store, run_id: str, plan: dict[str, Any], document: dict[str, Any], expected: float
) -> Window:
    steps = document["steps"]
    durations = [
        step["duration"]
        for step in steps
        if step["state"] == "succeeded" and step["duration"] is not None and step["kind"] != "gate"
    ]
    concurrency = shown_concurrency(steps) if durations else DEFAULT_CONCURRENCY
    default = statistics.median(durations) if durations else Timings().default
    timings, sample = learn_timings(store, run_id, default=default)
    starts = [moment for moment in (_epoch(step["started"]) for step in steps) if moment]
    now = time.time()
    over = document["state"] in ("succeeded", "cancelled", "failed")
    ends = [moment for moment in (_epoch(step["finished"]) for step in steps) if moment]
    spent = None
    if starts:
        spent = (max(ends, default=now) if over else now) - min(starts)
    if over:
        return Window(expected, spent, None, None, sample.timed, concurrency)
    simulated = simulate_plan(plan, replace(timings, gate=0.0), concurrency)
    # The simulation cuts the plan as `--route run` does; a per-host run splits
    # some steps further, which are matched by their step's id.
    times = {
        unit: (start, end)
        for unit, start, end in zip(
            simulated.unit_ids, simulated.unit_start, simulated.unit_end, strict=True
        )
    }
    waiting = [
        (step["index"], *times.get(step["id"], times.get(step["step"], (0.0, 0.0))))
        for step in steps
        if step["state"] not in FINISHED
    ]
    first = min((start for _, start, _ in waiting), default=0.0)
    left = simulated.duration - first if waiting else 0.0
    eta = now + left if document["state"] == "running" else None
    ahead = tuple((index, start - first, end - first) for index, start, end in waiting)
    return Window(expected, spent, left, eta, sample.timed, concurrency, now, ahead)
