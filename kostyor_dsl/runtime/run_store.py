"""The durable per-run record: what makes "nothing lost, nothing twice" hold.

The broker alone cannot promise it (a killed worker loses or duplicates
messages), so every step task consults this record first and writes it last.
The record holds the run (its state, driver, route, plan) and each unit's
state; per-unit locks make sure a unit delivered twice is not run twice at
the same time.

`FileRunStore` keeps it in the state folder (the embedded default, and any
broker whose result backend is not Redis); `RedisRunStore` in Redis.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from kostyor_dsl.runtime.errors import UnknownRun

RUN_STATES = ("running", "paused", "cancelled", "succeeded", "failed")
FINAL_STATES = frozenset({"cancelled", "succeeded"})
LIVE_STATES = frozenset({"running", "paused"})
STEP_STATES = ("pending", "running", "succeeded", "failed", "skipped", "waiting", "revoked")
# A lane is finished when its last unit is in one of these: a failed unit of a
# rollout batch has its host's later units skipped, so the lane ends either way.
LANE_DONE_STATES = frozenset({"succeeded", "skipped", "failed"})


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


def _write_atomically(path: Path, data: Any) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


class FileRunStore:
    """The run record as JSON files under `<state folder>/runs/<run id>/`.

    Updates of a run are serialised by `flock` on `run.lock`; unit locks are
    `flock`s too, so a SIGKILLed holder releases its lock with its process.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def describe(self) -> str:
        return f"files in {self.folder}"

    def _run_folder(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise UnknownRun(f"no run {run_id!r}")
        return self.folder / run_id

    def create_run(self, record: RunRecord, plan: dict) -> None:
        folder = self._run_folder(record.run_id)
        (folder / "steps").mkdir(parents=True)
        (folder / "locks").mkdir()
        _write_atomically(folder / "plan.json", plan)
        _write_atomically(folder / "run.json", record.to_dict())
        self._mark_live(record)

    def _mark_live(self, record: RunRecord) -> None:
        # Workers look at live runs twice a second; the markers spare them
        # reading every finished run's record each time.
        marker = self.folder / ".live" / record.run_id
        if record.state in LIVE_STATES:
            marker.parent.mkdir(exist_ok=True)
            marker.touch()
        else:
            with contextlib.suppress(FileNotFoundError):
                marker.unlink()

    def run(self, run_id: str) -> RunRecord:
        try:
            text = (self._run_folder(run_id) / "run.json").read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UnknownRun(f"no run {run_id!r} in {self.describe()}") from None
        return RunRecord.from_dict(json.loads(text))

    def plan(self, run_id: str) -> dict:
        try:
            text = (self._run_folder(run_id) / "plan.json").read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UnknownRun(f"no run {run_id!r} in {self.describe()}") from None
        return json.loads(text)

    def runs(self) -> list[RunRecord]:
        records = []
        if not self.folder.is_dir():
            return records
        for entry in sorted(os.listdir(self.folder)):
            with contextlib.suppress(UnknownRun, ValueError, OSError):
                records.append(self.run(entry))
        return sorted(records, key=lambda record: (record.created, record.run_id))

    def live_runs(self) -> list[RunRecord]:
        """The running and paused runs."""
        folder = self.folder / ".live"
        records = []
        for run_id in sorted(os.listdir(folder)) if folder.is_dir() else []:
            with contextlib.suppress(UnknownRun, ValueError, OSError):
                record = self.run(run_id)
                if record.state in LIVE_STATES:
                    records.append(record)
                else:
                    self._mark_live(record)
        return sorted(records, key=lambda record: (record.created, record.run_id))

    def update_run(self, run_id: str, change: Callable[[RunRecord], RunRecord]) -> RunRecord:
        folder = self._run_folder(run_id)
        if not (folder / "run.json").exists():
            raise UnknownRun(f"no run {run_id!r} in {self.describe()}")
        with open(folder / "run.lock", "a+") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                current = self.run(run_id)
                changed = change(current)
                if changed is not current and changed != current:
                    changed = replace(changed, updated=time.time())
                    _write_atomically(folder / "run.json", changed.to_dict())
                    if changed.state != current.state:
                        self._mark_live(changed)
                return changed
            finally:
                fcntl.flock(guard, fcntl.LOCK_UN)

    def step(self, run_id: str, index: int) -> StepRecord:
        path = self._run_folder(run_id) / "steps" / f"{index}.json"
        try:
            return StepRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return StepRecord(index)

    def steps(self, run_id: str, count: int) -> list[StepRecord]:
        folder = self._run_folder(run_id) / "steps"
        present = set(os.listdir(folder)) if folder.is_dir() else set()
        return [
            self.step(run_id, index) if f"{index}.json" in present else StepRecord(index)
            for index in range(count)
        ]

    def steps_at(self, run_id: str, indexes: list[int]) -> dict[int, StepRecord]:
        return {index: self.step(run_id, index) for index in indexes}

    def put_step(self, run_id: str, record: StepRecord) -> None:
        path = self._run_folder(run_id) / "steps" / f"{record.index}.json"
        _write_atomically(path, record.to_dict())

    @contextlib.contextmanager
    def unit_lock(self, run_id: str, index: int) -> Iterator[bool]:
        """Hold the unit's lock for the block; yields False if another holds it."""
        path = self._run_folder(run_id) / "locks" / f"{index}.lock"
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def unit_locked(self, run_id: str, index: int) -> bool:
        with self.unit_lock(run_id, index) as acquired:
            return not acquired


def open_store(settings):
    """The run store that goes with these settings' result backend."""
    if settings.redis_backend:
        from kostyor_dsl.runtime.redis_store import RedisRunStore

        return RedisRunStore(
            settings.backend_url, prefix=settings.namespace, lock_ttl=settings.lock_ttl
        )
    return FileRunStore(settings.runs_folder)
