"""The run record and the step records: plain data, shared by every run store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

RUN_STATES = ("running", "paused", "cancelled", "succeeded", "failed")
FINAL_STATES = frozenset({"cancelled", "succeeded"})
LIVE_STATES = frozenset({"running", "paused"})
STEP_STATES = (
    "pending",
    "running",
    "succeeded",
    "done-elsewhere",
    "failed",
    "skipped",
    "waiting",
    "revoked",
)
# A unit whose work the deployment tool did inside another unit ("nothing here:
# `kolla-ansible upgrade -t keystone` runs it itself") is complete, as a
# succeeded one is, but it is never reported as having run: its driver returned
# a result carrying DONE_ELSEWHERE (see `runtime.drivers.done_elsewhere`).
COMPLETED_STATES = frozenset({"succeeded", "done-elsewhere"})
DONE_ELSEWHERE = "done_elsewhere"
# A lane is finished when its last unit is in one of these: a failed unit of a
# rollout batch has its host's later units skipped, so the lane ends either way.
LANE_DONE_STATES = frozenset({*COMPLETED_STATES, "skipped", "failed"})


def completed_state(result) -> str:
    """The state of a unit whose driver returned `result`: done elsewhere when the
    driver says so, else succeeded."""
    if isinstance(result, dict) and result.get(DONE_ELSEWHERE):
        return "done-elsewhere"
    return "succeeded"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    state: str
    driver: str
    parameters: dict[str, Any]
    route: str
    unit_count: int
    created: float
    updated: float
    plan_file: str = ""
    progress: int = 0
    # Of `progress`, the units done elsewhere (see COMPLETED_STATES).
    done_elsewhere: int = 0
    error: str | None = None
    failed_step: str | None = None
    published_at: float = 0.0
    # The stage whose lanes may run now (see canvas.Stage); earlier ones are done.
    stage: int = 0
    # Why the run paused by itself (a gate, a failure threshold); None for `pause`.
    pause_reason: str | None = None
    # The gate unit's id while the run waits at a gate.
    gate: str | None = None
    # Failed hosts of rollout groups: group -> {host: its failed unit's id}, and
    # "group#batch" -> the same for each batch.
    failed_hosts: dict[str, dict[str, str]] = field(default_factory=dict)
    batch_failed_hosts: dict[str, dict[str, str]] = field(default_factory=dict)
    # The plan's seal as `kostyorc run` checked it (None: the plan had none), and,
    # when it ran with --allow-edited, how it differed from that seal.
    seal: str | None = None
    edited: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


@dataclass(frozen=True)
class StepRecord:
    index: int
    state: str = "pending"
    started: float | None = None
    finished: float | None = None
    attempts: int = 0
    error: str | None = None
    result: Any = None
    worker: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepRecord:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)
