"""What a simulation says: the window, its stages, its critical path, what stays up."""

from __future__ import annotations

from dataclasses import dataclass

from kostyor_dsl.simulate.timings import Timings


@dataclass(frozen=True)
class StageTiming:
    """One stage of the runtime's schedule (`runtime.canvas.Stage`), timed."""

    index: int
    kind: str  # batch (lanes in parallel), gate, or sequence (one lane)
    group: str | None
    batch: int | None
    hosts: tuple[str, ...]  # a batch's lanes' hosts; every host a sequence touches
    lanes: int
    units: int
    first: str  # id of the stage's first unit
    last: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class PathSegment:
    """Consecutive units of one lane on the critical path.

    `waited_for` is the unit whose end freed the worker this segment's first
    unit started on, when that (not the lane or the stage before) decided
    its start: the lane waited for a worker.
    """

    stage: int
    lane: int
    host: str | None
    first: str
    last: str
    units: int
    start: float
    end: float
    waited_for: str | None = None


@dataclass(frozen=True)
class Unavailability:
    """The most hosts of a tier, group or budget down at once, and when."""

    kind: str  # tier, group, budget
    name: str
    hosts: int
    most_down: int
    at: float | None  # first moment it is reached; None when no host goes down
    allowed: int | None = None  # a budget's resolved max-unavailable, when the plan says it
    # (time, hosts down) at every change, from 0 down at 0 s: for the plot.
    series: tuple[tuple[float, int], ...] = ()

    @property
    def exceeded(self) -> bool:
        return self.allowed is not None and self.most_down > self.allowed

    @property
    def emptied(self) -> bool:
        """Every host it covers down at once: whatever its rule allows, nothing of
        it stays up (a budget of one compute "allows" that one down)."""
        return self.hosts > 0 and self.most_down >= self.hosts


@dataclass(frozen=True)
class Capacity:
    """The lowest share of a tier's hosts up (the compute tier: capacity for instances)."""

    tier: str
    hosts: int
    lowest_up: int
    at: float | None
    lasting: float  # how long the lowest lasts, in all


@dataclass(frozen=True)
class Simulation:
    strategy: str
    engine: str
    steps: int
    concurrency: int
    timings: Timings
    duration: float
    stages: tuple[StageTiming, ...]
    critical_path: tuple[PathSegment, ...]
    unavailable: tuple[Unavailability, ...]
    capacity: Capacity | None
    notes: tuple[str, ...] = ()
    capacity_tier: str = "compute"
    # Per unit, in the runtime's execution order: for the plot (not in the JSON).
    unit_ids: tuple[str, ...] = ()
    unit_stage: tuple[int, ...] = ()
    unit_lane: tuple[int, ...] = ()
    unit_hosts: tuple[tuple[str, ...], ...] = ()
    unit_start: tuple[float, ...] = ()
    unit_end: tuple[float, ...] = ()
