"""The step a worker is running, for the driver code that runs inside it.

The step task enters a `StepContext` around building and running a driver's
signature.  A driver's method reads the whole plan step from it (its id,
project, parameters: the driver hooks receive only the service or action and
the hosts), and the driver's task reports where it is with `report_progress`;
the step's record keeps the last report, which `kostyorc status` shows while
the step runs.  Outside a step (tests, `kostyorc run` checking a plan) there
is no context and reporting does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StepContext:
    run_id: str
    unit_id: str
    index: int
    step: Mapping[str, Any]
    hosts: tuple[str, ...]
    report: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)
    remember: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)


_current: ContextVar[StepContext | None] = ContextVar("kostyor_step", default=None)


def current_step() -> StepContext | None:
    """The step being run in this worker, or None outside the step task."""
    return _current.get()


@contextlib.contextmanager
def entered(context: StepContext) -> Iterator[StepContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def report_progress(progress: Mapping[str, Any], context: StepContext | None = None) -> None:
    """Record where the running step is (a small JSON-serialisable mapping)."""
    context = context or current_step()
    if context is not None and context.report is not None:
        context.report(dict(progress))


def remember_remote(remote: Mapping[str, Any], context: StepContext | None = None) -> None:
    """Record how to stop what this attempt runs on other machines (an ssh control
    socket, a job id: a small JSON-serialisable mapping).  If the worker dies
    mid-step, the driver's `stop_remote` gets it back before the step runs again."""
    context = context or current_step()
    if context is not None and context.remember is not None:
        context.remember(dict(remote))
