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
        """Raises TypeError for a missing field, ValueError for a field of the wrong type."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        _check_fields(known, _RUN_FIELDS, cls)
        if known.get("state") not in (None, *RUN_STATES):
            raise ValueError(f"field 'state' is {_shown(known['state'])}, not a run state")
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
        """Raises TypeError for a missing field, ValueError for a field of the wrong type."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        _check_fields(known, _STEP_FIELDS, cls)
        if known.get("state") not in (None, *STEP_STATES):
            raise ValueError(f"field 'state' is {_shown(known['state'])}, not a step state")
        return cls(**known)


# Records are JSON a person (or a bad restore) may have edited: every field is
# checked, so `status`, `runs` and `simulate --from-run` name the field at fault
# instead of failing on it later.  Times are seconds since the epoch, before the
# year 5138.
_LATEST = 1e11


def _time(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return 0 <= value < _LATEST  # NaN compares false


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _text(value) -> bool:
    return isinstance(value, str)


def _mapping(value) -> bool:
    return isinstance(value, dict)


def _host_map(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(hosts, dict) and all(isinstance(v, str) for v in hosts.values())
        for hosts in value.values()
    )


_TIME = (_time, "a time (seconds since the epoch)")
_COUNT = (_count, "a whole number (0 or more)")
_TEXT = (_text, "a string")
_RUN_FIELDS = {
    "run_id": _TEXT,
    "state": _TEXT,
    "driver": _TEXT,
    "parameters": (_mapping, "an object"),
    "route": _TEXT,
    "unit_count": _COUNT,
    "created": _TIME,
    "updated": _TIME,
    "plan_file": _TEXT,
    "progress": _COUNT,
    "error": _TEXT,
    "failed_step": _TEXT,
    "published_at": _TIME,
    "stage": _COUNT,
    "pause_reason": _TEXT,
    "gate": _TEXT,
    "failed_hosts": (_host_map, "an object of objects of strings"),
    "batch_failed_hosts": (_host_map, "an object of objects of strings"),
    "seal": _TEXT,
    "edited": _TEXT,
}
_STEP_FIELDS = {
    "index": _COUNT,
    "state": _TEXT,
    "started": _TIME,
    "finished": _TIME,
    "attempts": _COUNT,
    "error": _TEXT,
    "worker": _TEXT,
    "extra": (_mapping, "an object"),
}


def _check_fields(known: dict[str, Any], fields: dict, cls) -> None:
    for name, value in known.items():
        check, expected = fields.get(name, (None, ""))
        if check is None or check(value):
            continue
        if value is None and cls.__dataclass_fields__[name].default is None:
            continue
        raise ValueError(f"field {name!r} is {_shown(value)}, not {expected}")


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
