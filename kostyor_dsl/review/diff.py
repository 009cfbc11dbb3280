"""Semantic diff of two plans: what a reviewer needs to know changed.

Steps are matched by their stable id, never by position.  Steps present in
both plans keep their *relative* order unless they appear outside the longest
common subsequence of the two id sequences: only those are "moved".  So a host
added in the middle of a 500-host plan shifts every later step's index but
moves nothing; it reads as one host added, its steps added.

For node-by-node plans the same is done with hosts (`host_order`): a host that
is now upgraded earlier or later is one "host moved" line, and its steps are
marked as moved with it.

Everything here is linear or n log n in the number of steps (100k-step plans
diff in well under a second); renderers live in `diff_render`.

Long because matching steps, hosts and groups by id is one algorithm over one PlanDiff; split, each half would need the other's tables.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field, replace


class _Absent:
    """A value missing on one side (a parameter added or removed)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


@dataclass(frozen=True)
class Change:
    """One field that differs: `strategy`, `driver.parameters.timeout`, `hosts`, ..."""

    field: str
    old: object
    new: object


@dataclass(frozen=True)
class StepEntry:
    """A step added or removed: where it is in its own plan."""

    id: str
    index: int
    after: str | None
    step: dict = field(compare=False)
    # The host added/removed with it, when the step belongs to exactly one such host.
    host: str | None = None


@dataclass(frozen=True)
class MovedStep:
    id: str
    old_index: int
    new_index: int
    # earlier / later among the steps both plans have.
    direction: str
    new_after: str | None
    # The moved host that carries this step along, if any.
    host: str | None = None


@dataclass(frozen=True)
class ChangedStep:
    id: str
    index: int
    changes: tuple[Change, ...]

    @property
    def source_only(self) -> bool:
        """Only its spec line moved (an edit above it in the spec): usually noise."""
        return all(c.field == "source" for c in self.changes)


@dataclass(frozen=True)
class HostEntry:
    name: str
    position: int
    after: str | None
    placement: dict | None = field(default=None, compare=False)
    steps: int = 0
    # The rollout batch it is in (`compute#3`), when its steps are in one.
    batch: str | None = None


@dataclass(frozen=True)
class RebatchedHost:
    """A host whose steps all changed only in their rollout group or batch (a batch
    size changed): one line for the host instead of one per step."""

    name: str
    changes: tuple[Change, ...]
    steps: int


@dataclass(frozen=True)
class MovedWarning:
    """A warning that is the same but for its line and column (the spec moved)."""

    old: str
    new: str


@dataclass(frozen=True)
class MovedHost:
    name: str
    old_position: int
    new_position: int
    direction: str
    new_after: str | None
    old_placement: dict | None = field(default=None, compare=False)
    new_placement: dict | None = field(default=None, compare=False)
    # Its steps in both plans, which move with it.
    steps: int = 0


@dataclass(frozen=True)
class ChangedHost:
    """A host in both plans, at the same place in their order, whose reason changed
    (`host_order`: key service, rank or tier; its spec line alone moving is no new
    reason, the steps report that)."""

    name: str
    position: int
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class PlanDiff:
    old_label: str
    new_label: str
    old_steps: int
    new_steps: int
    settings: tuple[Change, ...] = ()
    inputs: tuple[Change, ...] = ()
    warnings_added: tuple[str, ...] = ()
    warnings_removed: tuple[str, ...] = ()
    warnings_moved: tuple[MovedWarning, ...] = ()
    hosts_added: tuple[HostEntry, ...] = ()
    hosts_removed: tuple[HostEntry, ...] = ()
    hosts_moved: tuple[MovedHost, ...] = ()
    hosts_changed: tuple[ChangedHost, ...] = ()
    hosts_rebatched: tuple[RebatchedHost, ...] = ()
    added: tuple[StepEntry, ...] = ()
    removed: tuple[StepEntry, ...] = ()
    moved: tuple[MovedStep, ...] = ()
    changed: tuple[ChangedStep, ...] = ()
    # How the window changes (kostyor_dsl.simulate.compare.WindowChange), with timings.
    window: object = None

    @property
    def same(self) -> bool:
        return not (
            self.settings
            or self.inputs
            or self.warnings_added
            or self.warnings_removed
            or self.warnings_moved
            or self.hosts_added
            or self.hosts_removed
            or self.hosts_moved
            or self.hosts_changed
            or self.hosts_rebatched
            or self.added
            or self.removed
            or self.moved
            or self.changed
        )


def longest_increasing(seq: list[int]) -> set[int]:
    """Indices into `seq` of one longest strictly increasing subsequence (patience, n log n)."""
    tails: list[int] = []  # tails[k]: value ending the best run of length k+1
    tail_at: list[int] = []  # ... and its index in seq
    previous = [-1] * len(seq)
    for i, value in enumerate(seq):
        k = bisect_left(tails, value)
        if k:
            previous[i] = tail_at[k - 1]
        if k == len(tails):
            tails.append(value)
            tail_at.append(i)
        else:
            tails[k] = value
            tail_at[k] = i
    keep: set[int] = set()
    i = tail_at[-1] if tail_at else -1
    while i != -1:
        keep.add(i)
        i = previous[i]
    return keep


def _out_of_order(old_ids: list[str], new_ids: list[str]) -> list[tuple[str, int, int]]:
    """Items common to both lists that are not in their longest common subsequence.

    Both lists hold distinct items, so the LCS of the common items is the longest
    increasing run of their old ranks taken in new order.  Returns
    (item, old rank, new rank), ranks counted among the common items only.
    """
    new_set = set(new_ids)
    old_common = [i for i in old_ids if i in new_set]
    old_rank = {item: r for r, item in enumerate(old_common)}
    new_common = [i for i in new_ids if i in old_rank]
    ranks = [old_rank[i] for i in new_common]
    keep = longest_increasing(ranks)
    return [(item, ranks[r], r) for r, item in enumerate(new_common) if r not in keep]


def _direction(old_rank: int, new_rank: int) -> str:
    if new_rank < old_rank:
        return "earlier"
    if new_rank > old_rank:
        return "later"
    return "reordered"


def _host_sequence(plan: dict) -> list[str]:
    """Hosts in upgrade order: `host_order`, else by first appearance in the steps."""
    if plan.get("host_order") is not None:
        return [h["name"] for h in plan["host_order"]]
    seen: dict[str, None] = {}
    for step in plan["steps"]:
        for host in step.get("hosts", ()):
            seen.setdefault(host, None)
    return list(seen)


def _single_host(step: dict) -> str | None:
    hosts = step.get("hosts")
    return hosts[0] if hosts and len(hosts) == 1 else None


def _dict_changes(prefix: str, old: dict, new: dict) -> list[Change]:
    changes = []
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key, ABSENT), new.get(key, ABSENT)
        if a != b or type(a) is not type(b):
            changes.append(Change(f"{prefix}{key}", a, b))
    return changes


def _step_changes(old: dict, new: dict) -> tuple[Change, ...]:
    changes: list[Change] = []
    for key in [*old, *(k for k in new if k not in old)]:
        if key == "id":
            continue
        a, b = old.get(key, ABSENT), new.get(key, ABSENT)
        if a == b:
            continue
        if key == "parameters" and isinstance(a, dict) and isinstance(b, dict):
            changes.extend(_dict_changes("parameters.", a, b))
        else:
            changes.append(Change(key, a, b))
    return tuple(changes)


def _settings(old: dict, new: dict) -> list[Change]:
    changes = [
        Change(key, old.get(key, ABSENT), new.get(key, ABSENT))
        for key in ("format", "strategy", "engine")
        if old.get(key, ABSENT) != new.get(key, ABSENT)
    ]
    old_driver, new_driver = old.get("driver", {}), new.get("driver", {})
    if old_driver.get("name") != new_driver.get("name"):
        changes.append(Change("driver", old_driver.get("name"), new_driver.get("name")))
    changes.extend(
        _dict_changes(
            "driver.parameters.",
            old_driver.get("parameters", {}),
            new_driver.get("parameters", {}),
        )
    )
    if old.get("limit", ABSENT) != new.get("limit", ABSENT):
        changes.append(Change("limit", old.get("limit", ABSENT), new.get("limit", ABSENT)))
    old_mark = old.get("point_of_no_return", {}).get("step", ABSENT)
    new_mark = new.get("point_of_no_return", {}).get("step", ABSENT)
    if old_mark != new_mark:
        changes.append(Change("point of no return", old_mark, new_mark))
    old_groups = {g["name"]: g for g in old.get("groups", ())}
    new_groups = {g["name"]: g for g in new.get("groups", ())}
    for name in [*old_groups, *(n for n in new_groups if n not in old_groups)]:
        a, b = old_groups.get(name), new_groups.get(name)
        if a is None or b is None:
            changes.append(Change(f"group {name}", a or ABSENT, b or ABSENT))
        elif a != b:
            changes.extend(
                _dict_changes(f"group {name}.", _without(a, "name"), _without(b, "name"))
            )
    changes.extend(_budgets(old, new))
    return changes


# A budget's hosts and per-stage use follow from hosts and steps, which the
# diff shows on their own; what it adds is its resolved numbers.
_BUDGET_FIELDS = ("rule", "amount", "selected", "allowed", "most_down", "source")


def _budgets(old: dict, new: dict) -> list[Change]:
    old_budgets = {b["name"]: b for b in old.get("budgets", ())}
    new_budgets = {b["name"]: b for b in new.get("budgets", ())}
    changes: list[Change] = []
    for name in [*old_budgets, *(n for n in new_budgets if n not in old_budgets)]:
        a, b = old_budgets.get(name), new_budgets.get(name)
        if a is None or b is None:
            shown = {k: (a or b)[k] for k in _BUDGET_FIELDS}
            changes.append(Change(f"budget {name}", shown if a else ABSENT, shown if b else ABSENT))
            continue
        for key in _BUDGET_FIELDS:
            if a.get(key) != b.get(key):
                changes.append(Change(f"budget {name}.{key}", a.get(key), b.get(key)))
        # How many more hosts the worst stage could take down: what reviewers watch.
        room_a, room_b = a["allowed"] - a["most_down"], b["allowed"] - b["most_down"]
        if room_a != room_b:
            changes.append(Change(f"budget {name}.headroom", room_a, room_b))
    return changes


def budget_margins(diff_settings) -> list[str]:
    """The budgets whose headroom (allowed minus the most down at once) shrank."""
    return [
        change.field[len("budget ") : -len(".headroom")]
        for change in diff_settings
        if change.field.startswith("budget ")
        and change.field.endswith(".headroom")
        and change.new < change.old
    ]


def _without(mapping: dict, key: str) -> dict:
    return {k: v for k, v in mapping.items() if k != key}


def _inputs(old: dict, new: dict) -> list[Change]:
    """Spec files by name (added, removed, digest changed), then the inventory."""
    old_in, new_in = old.get("inputs", {}), new.get("inputs", {})
    changes: list[Change] = []
    old_specs = {d["file"]: d["sha256"] for d in old_in.get("spec", ())}
    new_specs = {d["file"]: d["sha256"] for d in new_in.get("spec", ())}
    for name in [*old_specs, *(n for n in new_specs if n not in old_specs)]:
        a, b = old_specs.get(name, ABSENT), new_specs.get(name, ABSENT)
        if a != b:
            changes.append(Change(f"spec {name}", a, b))
    old_inv, new_inv = old_in.get("inventory", {}), new_in.get("inventory", {})
    for key in ("file", "sha256", "cluster"):
        a, b = old_inv.get(key, ABSENT), new_inv.get(key, ABSENT)
        if a != b:
            changes.append(Change(f"inventory {key}", a, b))
    return changes


def diff_plans(old: dict, new: dict, old_label: str = "old", new_label: str = "new") -> PlanDiff:
    """Compare two (valid) plans; see the module docstring for what "moved" means."""
    old_steps, new_steps = old["steps"], new["steps"]
    old_by_id = {s["id"]: (i, s) for i, s in enumerate(old_steps)}
    new_by_id = {s["id"]: (i, s) for i, s in enumerate(new_steps)}
    old_ids = [s["id"] for s in old_steps]
    new_ids = [s["id"] for s in new_steps]

    # Hosts first: added/removed/moved hosts explain whole groups of steps.
    old_hosts, new_hosts = _host_sequence(old), _host_sequence(new)
    old_host_set, new_host_set = set(old_hosts), set(new_hosts)
    old_place = {h["name"]: h for h in old.get("host_order") or ()}
    new_place = {h["name"]: h for h in new.get("host_order") or ()}
    old_host_steps = _steps_per_host(old_steps)
    new_host_steps = _steps_per_host(new_steps)
    new_batch = _batch_per_host(new_steps)
    hosts_added = tuple(
        HostEntry(
            h,
            i,
            new_hosts[i - 1] if i else None,
            new_place.get(h),
            new_host_steps.get(h, 0),
            new_batch.get(h),
        )
        for i, h in enumerate(new_hosts)
        if h not in old_host_set
    )
    hosts_removed = tuple(
        HostEntry(h, i, old_hosts[i - 1] if i else None, old_place.get(h), old_host_steps.get(h, 0))
        for i, h in enumerate(old_hosts)
        if h not in new_host_set
    )
    hosts_moved: tuple[MovedHost, ...] = ()
    if old.get("host_order") is not None and new.get("host_order") is not None:
        new_pos = {h: i for i, h in enumerate(new_hosts)}
        old_pos = {h: i for i, h in enumerate(old_hosts)}
        hosts_moved = tuple(
            MovedHost(
                h,
                old_pos[h],
                new_pos[h],
                _direction(old_rank, new_rank),
                new_hosts[new_pos[h] - 1] if new_pos[h] else None,
                old_place.get(h),
                new_place.get(h),
                new_host_steps.get(h, 0),
            )
            for h, old_rank, new_rank in _out_of_order(old_hosts, new_hosts)
        )
    hosts_changed = tuple(
        ChangedHost(
            h, i, tuple(_dict_changes("", _without(old_place[h], "name"), _without(p, "name")))
        )
        for i, (h, p) in enumerate(new_place.items())
        if h in old_place
        and _without(old_place[h], "source") != _without(p, "source")
        and h not in {m.name for m in hosts_moved}
    )
    added_hosts = {h.name for h in hosts_added}
    removed_hosts = {h.name for h in hosts_removed}
    moved_hosts = {h.name for h in hosts_moved}

    def _owner(step: dict, hosts: set[str]) -> str | None:
        host = _single_host(step)
        return host if host in hosts else None

    added = tuple(
        StepEntry(sid, i, new_ids[i - 1] if i else None, s, _owner(s, added_hosts))
        for i, (sid, s) in enumerate(zip(new_ids, new_steps, strict=True))
        if sid not in old_by_id
    )
    removed = tuple(
        StepEntry(sid, i, old_ids[i - 1] if i else None, s, _owner(s, removed_hosts))
        for i, (sid, s) in enumerate(zip(old_ids, old_steps, strict=True))
        if sid not in new_by_id
    )
    # Steps of a moved host move with it; the other common steps are matched by
    # their longest common order, so the two levels tell one story.
    host_direction = {m.name: m.direction for m in hosts_moved}
    moved = []
    carried = {
        sid
        for sid in new_ids
        if sid in old_by_id and _owner(new_by_id[sid][1], moved_hosts) is not None
    }
    for sid in new_ids:
        if sid in carried:
            old_index, new_index = old_by_id[sid][0], new_by_id[sid][0]
            host = _single_host(new_by_id[sid][1])
            direction = host_direction[host]
            moved.append(
                MovedStep(
                    sid,
                    old_index,
                    new_index,
                    direction,
                    new_ids[new_index - 1] if new_index else None,
                    host,
                )
            )
    carried_per_host: dict[str, int] = {}
    for m in moved:
        carried_per_host[m.host] = carried_per_host.get(m.host, 0) + 1
    hosts_moved = tuple(replace(h, steps=carried_per_host.get(h.name, 0)) for h in hosts_moved)
    rest_old = [sid for sid in old_ids if sid not in carried]
    rest_new = [sid for sid in new_ids if sid not in carried]
    for sid, old_rank, new_rank in _out_of_order(rest_old, rest_new):
        new_index = new_by_id[sid][0]
        moved.append(
            MovedStep(
                sid,
                old_by_id[sid][0],
                new_index,
                _direction(old_rank, new_rank),
                new_ids[new_index - 1] if new_index else None,
                None,
            )
        )
    moved.sort(key=lambda m: m.new_index)
    changed = []
    for i, (sid, step) in enumerate(zip(new_ids, new_steps, strict=True)):
        before = old_by_id.get(sid)
        if before is None or before[1] == step:
            continue
        changes = _step_changes(before[1], step)
        if changes:
            changed.append(ChangedStep(sid, i, changes))

    changed, rebatched = _rebatched(changed, new_by_id, old_by_id)
    warnings_added, warnings_removed, warnings_moved = _warnings(
        old.get("warnings", []), new.get("warnings", [])
    )
    return PlanDiff(
        old_label=old_label,
        new_label=new_label,
        old_steps=len(old_steps),
        new_steps=len(new_steps),
        settings=tuple(_settings(old, new)),
        inputs=tuple(_inputs(old, new)),
        warnings_added=warnings_added,
        warnings_removed=warnings_removed,
        warnings_moved=warnings_moved,
        hosts_added=hosts_added,
        hosts_removed=hosts_removed,
        hosts_moved=hosts_moved,
        hosts_changed=hosts_changed,
        hosts_rebatched=rebatched,
        added=added,
        removed=removed,
        moved=tuple(moved),
        changed=tuple(changed),
    )


_BATCH_FIELDS = frozenset({"group", "batch"})
# `K063 team.kostyor:5:5: message`: the place between the code and the message.
_WARNING_PLACE = re.compile(r"^(\S+ [^:\s]+):\d+(?::\d+)?(: .*)$", re.DOTALL)


def _warnings(old: list[str], new: list[str]):
    """(added, removed, moved): a warning removed and one added that are the same
    but for the line and column of their place are one warning moved."""
    old_set, new_set = set(old), set(new)
    added = [w for w in new if w not in old_set]
    removed = [w for w in old if w not in new_set]

    def key(warning: str) -> str | None:
        m = _WARNING_PLACE.match(warning)
        return f"{m.group(1)}{m.group(2)}" if m else None

    waiting: dict[str, list[str]] = {}
    for w in removed:
        k = key(w)
        if k is not None:
            waiting.setdefault(k, []).append(w)
    moved, paired = [], set()
    for w in added:
        k = key(w)
        if k is not None and waiting.get(k):
            was = waiting[k].pop(0)
            moved.append(MovedWarning(was, w))
            paired.update((was, w))
    return (
        tuple(w for w in added if w not in paired),
        tuple(w for w in removed if w not in paired),
        tuple(moved),
    )


def _batch_per_host(steps: list[dict]) -> dict[str, str]:
    """Each host's rollout batch (`compute#3`), from the first of its steps in one."""
    found: dict[str, str] = {}
    for step in steps:
        host = _single_host(step)
        if host is not None and host not in found and step.get("group") and step.get("batch"):
            found[host] = f"{step['group']}#{step['batch']}"
    return found


def _rebatched(changed: list, new_by_id: dict, old_by_id: dict):
    """Hosts every step of which (of those in both plans) changed only in
    `group`/`batch`, and alike: one RebatchedHost each, their steps taken out of
    `changed`."""
    common: dict[str, int] = {}
    for sid, (_, step) in new_by_id.items():
        host = _single_host(step)
        if host is not None and sid in old_by_id:
            common[host] = common.get(host, 0) + 1
    by_host: dict[str, list] = {}
    for c in changed:
        host = _single_host(new_by_id[c.id][1])
        if host is not None and {x.field for x in c.changes} <= _BATCH_FIELDS:
            by_host.setdefault(host, []).append(c)
    hosts = {
        host: mine
        for host, mine in by_host.items()
        if len(mine) == common.get(host) and len({m.changes for m in mine}) == 1
    }
    taken = {c.id for mine in hosts.values() for c in mine}
    rebatched = tuple(
        RebatchedHost(host, mine[0].changes, len(mine))
        for host, mine in sorted(hosts.items(), key=lambda item: item[1][0].index)
    )
    return [c for c in changed if c.id not in taken], rebatched


def _steps_per_host(steps: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in steps:
        for host in step.get("hosts", ()):
            counts[host] = counts.get(host, 0) + 1
    return counts


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(diff: PlanDiff) -> str:
    """One line: "1 host added, 2 steps added; inventory changed", or "no differences"."""
    if diff.same:
        return "no differences"
    parts: list[str] = []
    for change in diff.settings:
        name = change.field
        if name.startswith(("driver.parameters.", "group ", "budget ")):
            continue
        parts.append(f"{name} changed")
    closer = budget_margins(diff.settings)
    if closer:
        parts.append(f"{_plural(len(closer), 'budget')} closer to its limit")
    budgets = {c.field.split(".")[0] for c in diff.settings if c.field.startswith("budget ")}
    if len(budgets) > len(closer):
        parts.append(f"{_plural(len(budgets) - len(closer), 'budget')} changed")
    groups = {c.field.split(".")[0] for c in diff.settings if c.field.startswith("group ")}
    if groups:
        parts.append(f"{_plural(len(groups), 'host group')} changed")
    params = sum(c.field.startswith("driver.parameters.") for c in diff.settings)
    if params:
        parts.append(f"{_plural(params, 'driver parameter')} changed")
    for items, word in (
        (diff.hosts_added, "added"),
        (diff.hosts_removed, "removed"),
        (diff.hosts_moved, "moved"),
        (diff.hosts_changed, "placed for a new reason"),
        (diff.hosts_rebatched, "in another batch"),
    ):
        if items:
            parts.append(f"{_plural(len(items), 'host')} {word}")
    for items, word in ((diff.added, "added"), (diff.removed, "removed"), (diff.moved, "moved")):
        if items:
            parts.append(f"{_plural(len(items), 'step')} {word}")
    if diff.changed:
        only_source = sum(c.source_only for c in diff.changed)
        text = f"{_plural(len(diff.changed), 'step')} changed"
        if only_source:
            text += f" ({only_source} only in their spec line)"
        parts.append(text)
    inputs = []
    if any(c.field.startswith("spec ") for c in diff.inputs):
        inputs.append("spec")
    if any(c.field.startswith("inventory ") for c in diff.inputs):
        inputs.append("inventory")
    warnings = len(diff.warnings_added) + len(diff.warnings_removed)
    line = ", ".join(parts)
    if inputs:
        line += ("; " if line else "") + " and ".join(inputs) + " changed"
    if warnings:
        line += ("; " if line else "") + f"{_plural(warnings, 'warning')} changed"
    if diff.warnings_moved:
        moved = _plural(len(diff.warnings_moved), "warning")
        line += ("; " if line else "") + f"{moved} moved in the spec"
    return line
