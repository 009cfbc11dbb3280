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
from dataclasses import replace
from pathlib import Path
from typing import Any

from kostyor_dsl.runtime.errors import CorruptRecord, UnknownRun
from kostyor_dsl.runtime.records import (
    FINAL_STATES,
    LANE_DONE_STATES,
    LIVE_STATES,
    RUN_STATES,
    STEP_STATES,
    RunRecord,
    StepRecord,
)

__all__ = [
    "FINAL_STATES",
    "LANE_DONE_STATES",
    "LIVE_STATES",
    "RUN_STATES",
    "STEP_STATES",
    "FileRunStore",
    "RunRecord",
    "StepRecord",
]


class HeldLock:
    """A held unit lock of the file store: a `flock`, the process's for as long
    as it lives, so it is always still held."""

    def __init__(self, store: FileRunStore) -> None:
        self.store = store

    def held(self) -> bool:
        return True

    def put_step(self, run_id: str, record: StepRecord) -> bool:
        """Record the unit's outcome; True (the lock cannot have passed on)."""
        self.store.put_step(run_id, record, rename_first=True)
        return True


def read_record(text: str, where: str, kind: type):
    """A RunRecord or StepRecord from stored JSON; `CorruptRecord` naming `where` if it is not one."""
    what = "run record" if kind is RunRecord else "step record"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CorruptRecord(
            f"{where}: the {what} is not valid JSON ({exc}): restore it from a backup, "
            "or remove the run"
        ) from None
    if not isinstance(data, dict):
        raise CorruptRecord(
            f"{where}: the {what} is a JSON {type(data).__name__}, not an object: restore it "
            "from a backup, or remove the run"
        )
    try:
        return kind.from_dict(data)
    except TypeError as exc:
        raise CorruptRecord(f"{where}: the {what} lacks a field ({exc})") from None
    except ValueError as exc:
        raise CorruptRecord(
            f"{where}: the {what} is damaged: {exc}: restore it from a backup, or remove the run"
        ) from None


def read_plan(text: str, where: str) -> dict:
    """A run's stored plan; `CorruptRecord` naming `where` if it is not one."""
    try:
        plan = json.loads(text)
    except ValueError as exc:
        raise CorruptRecord(f"{where}: cannot read the run's plan: {exc}") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("steps", []), list):
        raise CorruptRecord(
            f"{where}: the run's plan is not a plan (a JSON object with a list of `steps`)"
        )
    return plan


def _write_atomically(path: Path, data: Any, *, rename_first: bool = False) -> None:
    """Replace `path` with `data` as JSON, fsynced.

    `rename_first` renames before the fsync: the new content is safe from the
    process being killed as soon as it is renamed (the kernel has it), and
    from a machine crash once the fsync returns.  A finished step's outcome
    is written so, to keep the window in which a killed worker loses it short.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(data, sort_keys=True))
            stream.flush()
            if rename_first:
                os.replace(temporary, path)
            os.fsync(stream.fileno())
        if not rename_first:
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

    def __init__(self, folder: Path, *, cache_steps: bool = False) -> None:
        self.folder = Path(folder)
        # A watcher reading the same run again and again (`kostyorc serve`)
        # keeps each step record with the file's identity and reads only the
        # files replaced since (every write renames a new file into place).
        self.cache_steps = cache_steps
        self._cached: dict[tuple[str, str], tuple[tuple[int, int, int], StepRecord]] = {}

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
        path = self._run_folder(run_id) / "run.json"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UnknownRun(f"no run {run_id!r} in {self.describe()}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CorruptRecord(f"{path}: cannot read the run record: {exc}") from None
        return read_record(text, str(path), RunRecord)

    def plan(self, run_id: str) -> dict:
        path = self._run_folder(run_id) / "plan.json"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UnknownRun(f"no run {run_id!r} in {self.describe()}") from None
        except (OSError, ValueError) as exc:
            raise CorruptRecord(f"{path}: cannot read the run's plan: {exc}") from None
        return read_plan(text, str(path))

    def runs(self) -> list[RunRecord]:
        return self.list_runs()[0]

    def list_runs(self) -> tuple[list[RunRecord], dict[str, str]]:
        """The readable runs, and for each run whose record cannot be read, why."""
        records: list[RunRecord] = []
        unreadable: dict[str, str] = {}
        if not self.folder.is_dir():
            return records, unreadable
        for entry in sorted(os.listdir(self.folder)):
            if entry.startswith(".") or not (self.folder / entry).is_dir():
                continue
            try:
                records.append(self.run(entry))
            except UnknownRun:
                continue
            except CorruptRecord as exc:
                unreadable[entry] = exc.message
        return sorted(records, key=lambda record: (record.created, record.run_id)), unreadable

    def live_runs(self) -> list[RunRecord]:
        """The running and paused runs."""
        folder = self.folder / ".live"
        records = []
        for run_id in sorted(os.listdir(folder)) if folder.is_dir() else []:
            # A live run whose record is unreadable is reported by `runs` and `status`.
            with contextlib.suppress(UnknownRun, CorruptRecord, OSError):
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
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return StepRecord(index)
        except (OSError, UnicodeDecodeError) as exc:
            raise CorruptRecord(f"{path}: cannot read the step record: {exc}") from None
        return read_record(text, str(path), StepRecord)

    def steps(self, run_id: str, count: int) -> list[StepRecord]:
        folder = self._run_folder(run_id) / "steps"
        if self.cache_steps:
            return self._cached_steps(run_id, folder, count)
        present = set(os.listdir(folder)) if folder.is_dir() else set()
        return [
            self.step(run_id, index) if f"{index}.json" in present else StepRecord(index)
            for index in range(count)
        ]

    def _cached_steps(self, run_id: str, folder: Path, count: int) -> list[StepRecord]:
        records = [StepRecord(index) for index in range(count)]
        with os.scandir(folder) as entries:
            for entry in entries:
                stem = entry.name[: -len(".json")]
                if not entry.name.endswith(".json") or not stem.isdigit() or int(stem) >= count:
                    continue
                status = entry.stat()
                identity = (status.st_ino, status.st_mtime_ns, status.st_size)
                cached = self._cached.get((run_id, entry.name))
                if cached is None or cached[0] != identity:
                    cached = (identity, self.step(run_id, int(stem)))
                    self._cached[(run_id, entry.name)] = cached
                records[int(stem)] = cached[1]
        return records

    def steps_at(self, run_id: str, indexes: list[int]) -> dict[int, StepRecord]:
        return {index: self.step(run_id, index) for index in indexes}

    def fingerprint(self, run_id: str) -> tuple:
        """A value that changes whenever the run's record or a step record does
        (each write renames a new file into place: a new inode, a new time),
        without reading the records; for watchers (`kostyorc serve`)."""
        folder = self._run_folder(run_id)
        try:
            run = os.stat(folder / "run.json")
            with os.scandir(folder / "steps") as entries:
                steps = sorted(
                    (entry.name, entry.inode(), entry.stat().st_mtime_ns, entry.stat().st_size)
                    for entry in entries
                )
        except FileNotFoundError:
            raise UnknownRun(f"no run {run_id!r} in {self.describe()}") from None
        return (run.st_ino, run.st_mtime_ns, run.st_size, tuple(steps))

    def put_step(self, run_id: str, record: StepRecord, *, rename_first: bool = False) -> None:
        path = self._run_folder(run_id) / "steps" / f"{record.index}.json"
        _write_atomically(path, record.to_dict(), rename_first=rename_first)

    @contextlib.contextmanager
    def unit_lock(self, run_id: str, index: int) -> Iterator[HeldLock | None]:
        """Hold the unit's lock for the block; yields None if another holds it.

        A `flock` is the process's for as long as it lives: it cannot lapse."""
        path = self._run_folder(run_id) / "locks" / f"{index}.lock"
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            try:
                yield HeldLock(self)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def unit_locked(self, run_id: str, index: int) -> bool:
        with self.unit_lock(run_id, index) as acquired:
            return acquired is None

    def persistence_problem(self) -> str | None:
        """Why a restart of the store would lose runs, or None: files are fsynced."""
        return None
