"""How the window changes between two plans (`kostyorc diff --timings/--step-seconds`)."""

from __future__ import annotations

from dataclasses import dataclass

from kostyor_dsl.simulate.render import clock, span
from kostyor_dsl.simulate.timings import Timings


@dataclass(frozen=True)
class WindowChange:
    old: float
    new: float
    concurrency: int
    timings: str  # Timings.describe()

    @property
    def delta(self) -> float:
        return self.new - self.old

    def change(self) -> str:
        """`1:14:00 -> 1:56:00 (+42 min)`."""
        if round(self.delta) == 0:
            change = "the same"
        else:
            change = ("+" if self.delta > 0 else "-") + span(self.delta)
        return f"{clock(self.old)} -> {clock(self.new)} ({change})"

    def sentence(self) -> str:
        return f"window {self.change()}"


def window_change(
    old_plan: dict, new_plan: dict, timings: Timings, concurrency: int
) -> WindowChange:
    from kostyor_dsl.simulate import simulate_plan

    old = simulate_plan(old_plan, timings, concurrency).duration
    new = simulate_plan(new_plan, timings, concurrency).duration
    return WindowChange(old, new, concurrency, timings.describe())


def window_lines(change: WindowChange | None) -> list[str]:
    """The diff's text lines about the window (none without timings)."""
    if change is None:
        return []
    return [
        f"{change.sentence()}",
        f"  (simulated: {change.timings}; concurrency {change.concurrency})",
    ]


def window_markdown(change: WindowChange | None) -> list[str]:
    if change is None:
        return []
    return [
        f"**Window:** {change.change()} (simulated at concurrency {change.concurrency}; "
        f"{change.timings})",
        "",
    ]


def window_json(change: WindowChange | None) -> dict:
    """`{"window": {...}}` for the diff's JSON, or nothing without timings."""
    if change is None:
        return {}
    return {
        "window": {
            "old": round(change.old, 3),
            "new": round(change.new, 3),
            "delta": round(change.delta, 3),
            "concurrency": change.concurrency,
            "timings": change.timings,
            "summary": change.sentence(),
        }
    }
