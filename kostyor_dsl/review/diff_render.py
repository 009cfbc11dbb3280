"""A PlanDiff as text (terminal), Markdown (pull-request comment) and JSON (tools).

Positions shown are 1-based ("step 3", "host 2") in all three formats.

Everything from the plans (host names, step ids, group names, spec file names,
values) reaches Markdown only inside code spans (`md_code`) or escaped
(`md_text`): a pull request cannot inject HTML or links into the comment.  The
text format escapes control characters (no escape sequence from a plan reaches
the terminal).

Markdown is bounded: at most `max_items` lines per section and `max_chars`
characters in all (default 60,000, under GitHub's 65,535-character comment
limit).  Whatever does not fit is counted on an explicit "... and N more" line;
nothing is dropped silently.

Long because it is three renderers of one PlanDiff that must say the same things; kept side by side so they cannot drift.
"""

from __future__ import annotations

import json
import re

from kostyor_dsl.language.printable import printable
from kostyor_dsl.review.diff import ABSENT, Change, PlanDiff, StepEntry, summary
from kostyor_dsl.simulate.compare import window_json, window_lines, window_markdown

MARKDOWN_MAX_CHARS = 60_000
MARKDOWN_MAX_ITEMS = 100
_VALUE_MAX = 200

_PAINT = {"+": "\x1b[32m", "-": "\x1b[31m", "~": "\x1b[33m", ">": "\x1b[36m", "bold": "\x1b[1m"}
_RESET = "\x1b[0m"


def _short(value: object) -> str:
    if value is ABSENT:
        return "(none)"
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = "; ".join(f"{k} {_short(v)}" for k, v in value.items() if k != "name")
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
        text = text[:12]  # a sha256: the prefix identifies it for a reader
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) > _VALUE_MAX:
        text = text[: _VALUE_MAX - 1] + "…"
    return text


def _hosts_delta(change: Change) -> str:
    old = change.old if isinstance(change.old, list) else []
    new = change.new if isinstance(change.new, list) else []
    old_set, new_set = set(old), set(new)
    parts = [f"+{h}" for h in new if h not in old_set] + [f"-{h}" for h in old if h not in new_set]
    if not parts:
        return "same hosts, new order"
    shown = ", ".join(_short(p) for p in parts[:10])
    if len(parts) > 10:
        shown += f", and {len(parts) - 10} more"
    return shown


def describe_change(change: Change) -> str:
    if change.field == "hosts":
        return f"hosts {_hosts_delta(change)}"
    return f"{change.field} {_short(change.old)} -> {_short(change.new)}"


def _placement_text(placement: dict | None) -> str:
    if not placement:
        return ""
    return (
        f"tier {placement['tier']}, key service {placement['key_service']} "
        f"(rank {placement['rank']})"
    )


def _grouped_steps(entries: tuple[StepEntry, ...], hosts) -> dict[str, list[str]]:
    """Added/removed steps of added/removed hosts, by host: their service (or id)."""
    wanted = {h.name for h in hosts}
    grouped: dict[str, list[str]] = {}
    for entry in entries:
        if entry.host in wanted:
            grouped.setdefault(entry.host, []).append(entry.step.get("service", entry.id))
    return grouped


# ---------------------------------------------------------------- text


def _place(warning: str) -> str:
    """`team.kostyor:5:5` of `K063 team.kostyor:5:5: message`."""
    return warning.split(" ", 1)[-1].split(": ", 1)[0]


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _lines(diff: PlanDiff) -> list[tuple[str, str]]:
    """(marker, text) lines shared by the text renderer: marker is + - ~ > or a heading."""
    out: list[tuple[str, str]] = []
    if diff.settings:
        out.append(("head", "plan:"))
        out.extend(("~", describe_change(c)) for c in diff.settings)
    if diff.inputs:
        out.append(("head", "inputs:"))
        out.extend(("~", describe_change(c)) for c in diff.inputs)
    if diff.warnings_added or diff.warnings_removed or diff.warnings_moved:
        out.append(("head", "warnings:"))
        out.extend(("+", w) for w in diff.warnings_added)
        out.extend(("-", w) for w in diff.warnings_removed)
        out.extend((">", f"{m.new}  (moved from {_place(m.old)})") for m in diff.warnings_moved)
    if (
        diff.hosts_added
        or diff.hosts_removed
        or diff.hosts_moved
        or diff.hosts_changed
        or diff.hosts_rebatched
    ):
        out.append(("head", "hosts:"))
        added = _grouped_steps(diff.added, diff.hosts_added)
        for h in diff.hosts_added:
            where = f"host {h.position + 1}" + (f", after {h.after}" if h.after else ", first")
            if h.batch:
                where += f"; joins batch {h.batch}"
            extra = _placement_text(h.placement)
            out.append(("+", f"{h.name}  ({where}{'; ' + extra if extra else ''})"))
            if added.get(h.name):
                out.append(("", f"    its steps: {', '.join(added[h.name])}"))
        removed = _grouped_steps(diff.removed, diff.hosts_removed)
        for h in diff.hosts_removed:
            out.append(("-", f"{h.name}  (was host {h.position + 1})"))
            if removed.get(h.name):
                out.append(("", f"    its steps: {', '.join(removed[h.name])}"))
        for m in diff.hosts_moved:
            why = ""
            if m.old_placement and m.new_placement and m.old_placement != m.new_placement:
                why = (
                    f"; key {m.old_placement['key_service']} rank {m.old_placement['rank']}"
                    f" -> {m.new_placement['key_service']} rank {m.new_placement['rank']}"
                )
            after = f", now after {m.new_after}" if m.new_after else ", now first"
            out.append(
                (
                    ">",
                    f"{m.name} upgraded {m.direction}: host {m.old_position + 1} -> "
                    f"{m.new_position + 1}{after}{why}; its {m.steps} steps move with it",
                )
            )
        for c in diff.hosts_changed:
            changes = "; ".join(describe_change(x) for x in c.changes)
            out.append(("~", f"{c.name}  (host {c.position + 1}, same place): {changes}"))
        for r in diff.hosts_rebatched:
            changes = "; ".join(describe_change(x) for x in r.changes)
            out.append(("~", f"{r.name}: {changes}  (its {_count(r.steps, 'step')})"))
    steps = _step_lines(diff)
    if steps:
        out.append(("head", "steps:"))
        out.extend(steps)
    return out


def _step_lines(diff: PlanDiff) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for e in diff.added:
        if e.host is None:
            after = f"after {e.after}" if e.after else "first"
            out.append(("+", f"{e.id}  (step {e.index + 1}, {after}; {e.step['source']})"))
    for e in diff.removed:
        if e.host is None:
            out.append(("-", f"{e.id}  (was step {e.index + 1})"))
    for m in diff.moved:
        if m.host is None:
            after = f"now after {m.new_after}" if m.new_after else "now first"
            out.append(
                (
                    ">",
                    f"{m.id} moved {m.direction}: step {m.old_index + 1} -> {m.new_index + 1}, {after}",
                )
            )
    for c in diff.changed:
        out.append(("~", f"{c.id}: {'; '.join(describe_change(x) for x in c.changes)}"))
    return out


def render_text(diff: PlanDiff, color: bool = False) -> str:
    def paint(marker: str, text: str) -> str:
        text = printable(text)
        return f"{_PAINT[marker]}{text}{_RESET}" if color and marker in _PAINT else text

    head = f"plan diff {diff.old_label} -> {diff.new_label} ({diff.old_steps} -> {diff.new_steps} steps)"
    out = [paint("bold", head), printable(summary(diff)), *window_lines(diff.window)]
    for marker, text in _lines(diff):
        text = printable(text)
        if marker == "head":
            out.append(paint("bold", text))
        elif marker:
            out.append(paint(marker, f"  {marker} {text}"))
        else:
            out.append(f"  {text}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- markdown


def md_code(text: str) -> str:
    """`text` as an inline code span that nothing in it can break out of."""
    text = _short(text).replace("\n", " ")
    if not text:
        return "` `"
    run = longest = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_MD_PUNCTUATION = re.compile(r"([\\`*_\[\]()<>&#!|~{}:])")
_PLAIN_FIELD = re.compile(r"[a-z0-9_]+\Z")
# Fields named by a fixed word and a name from the plan: the name goes in a code span.
_FIELD_WORDS = ("group ", "spec ", "inventory ", "driver.parameters.", "parameters.")


def md_text(text: str) -> str:
    """`text` as plain Markdown text: the punctuation that can start emphasis, a link,
    an autolink, HTML or an entity backslash-escaped, control characters escaped."""
    return _MD_PUNCTUATION.sub(r"\\\1", _short(text).replace("\n", " "))


def _md_field(field: str) -> str:
    if _PLAIN_FIELD.match(field):
        return field
    for word in _FIELD_WORDS:
        if field.startswith(word) and len(field) > len(word):
            rest = field[len(word) :]
            return word + (rest if _PLAIN_FIELD.match(rest) else md_code(rest))
    return md_code(field)


def _md_change(change: Change) -> str:
    if change.field == "hosts":
        return f"hosts {md_code(_hosts_delta(change))}"
    field = _md_field(change.field)
    return f"{field} {md_code(_short(change.old))} → {md_code(_short(change.new))}"


def _md_sections(diff: PlanDiff) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = []
    if diff.settings or diff.inputs:
        lines = [f"- plan {_md_change(c)}" for c in diff.settings]
        lines += [f"- {_md_change(c)}" for c in diff.inputs]
        sections.append((f"Plan settings and inputs ({len(lines)} changed)", lines))
    if diff.warnings_added or diff.warnings_removed or diff.warnings_moved:
        lines = [f"- added: {md_code(w)}" for w in diff.warnings_added]
        lines += [f"- removed: {md_code(w)}" for w in diff.warnings_removed]
        lines += [
            f"- moved: {md_code(m.new)} (was at {md_code(_place(m.old))})"
            for m in diff.warnings_moved
        ]
        sections.append((f"Warnings ({len(lines)} changed)", lines))
    added_steps = _grouped_steps(diff.added, diff.hosts_added)
    if diff.hosts_added:
        lines = []
        for h in diff.hosts_added:
            where = f"host {h.position + 1}" + (
                f", after {md_code(h.after)}" if h.after else ", first"
            )
            if h.batch:
                where += f"; joins batch {md_code(h.batch)}"
            extra = ""
            if h.placement:
                extra = (
                    f"; tier {md_code(h.placement['tier'])}, key service "
                    f"{md_code(h.placement['key_service'])} (rank {h.placement['rank']})"
                )
            steps = ", ".join(md_code(s) for s in added_steps.get(h.name, [])[:20])
            lines.append(
                f"- {md_code(h.name)} ({where}{extra})"
                + (f": {h.steps} steps {steps}" if steps else "")
            )
        sections.append((f"Hosts added ({len(lines)})", lines))
    if diff.hosts_removed:
        lines = [
            f"- {md_code(h.name)} (was host {h.position + 1}; {h.steps} steps)"
            for h in diff.hosts_removed
        ]
        sections.append((f"Hosts removed ({len(lines)})", lines))
    if diff.hosts_moved:
        lines = []
        for m in diff.hosts_moved:
            after = f", now after {md_code(m.new_after)}" if m.new_after else ", now first"
            lines.append(
                f"- {md_code(m.name)} upgraded **{m.direction}**: host {m.old_position + 1} → "
                f"{m.new_position + 1}{after}; {m.steps} steps move with it"
            )
        sections.append((f"Hosts moved ({len(lines)})", lines))
    if diff.hosts_changed:
        lines = [
            f"- {md_code(c.name)} (host {c.position + 1}, same place): "
            + "; ".join(_md_change(x) for x in c.changes)
            for c in diff.hosts_changed
        ]
        sections.append((f"Hosts with a new reason for their place ({len(lines)})", lines))
    if diff.hosts_rebatched:
        lines = [
            f"- {md_code(r.name)}: "
            + "; ".join(_md_change(x) for x in r.changes)
            + f" (its {_count(r.steps, 'step')})"
            for r in diff.hosts_rebatched
        ]
        sections.append((f"Hosts in another batch ({len(lines)})", lines))
    other_added = [e for e in diff.added if e.host is None]
    if other_added:
        lines = [
            f"- {md_code(e.id)} step {e.index + 1}"
            + (f", after {md_code(e.after)}" if e.after else ", first")
            + f" ({md_code(e.step['source'])})"
            for e in other_added
        ]
        sections.append((_steps_title("added", len(lines), len(diff.added)), lines))
    other_removed = [e for e in diff.removed if e.host is None]
    if other_removed:
        lines = [f"- {md_code(e.id)} (was step {e.index + 1})" for e in other_removed]
        sections.append((_steps_title("removed", len(lines), len(diff.removed)), lines))
    other_moved = [m for m in diff.moved if m.host is None]
    if other_moved:
        lines = [
            f"- {md_code(m.id)} **{m.direction}**: step {m.old_index + 1} → {m.new_index + 1}"
            + (f", now after {md_code(m.new_after)}" if m.new_after else ", now first")
            for m in other_moved
        ]
        sections.append((_steps_title("moved", len(lines), len(diff.moved)), lines))
    real = [c for c in diff.changed if not c.source_only]
    if real:
        lines = [f"- {md_code(c.id)}: " + "; ".join(_md_change(x) for x in c.changes) for c in real]
        sections.append((f"Steps changed ({len(lines)})", lines))
    source_only = [c for c in diff.changed if c.source_only]
    if source_only:
        lines = [f"- {md_code(c.id)}: " + _md_change(c.changes[0]) for c in source_only]
        sections.append((f"Steps whose spec line moved ({len(lines)})", lines))
    return sections


def _steps_title(word: str, shown: int, total: int) -> str:
    if shown == total:
        return f"Steps {word} ({shown})"
    return f"Other steps {word} ({shown}; the other {total - shown} with their hosts above)"


def render_markdown(
    diff: PlanDiff, max_items: int = MARKDOWN_MAX_ITEMS, max_chars: int = MARKDOWN_MAX_CHARS
) -> str:
    head = (
        f"**kostyor plan diff** {md_code(diff.old_label)} → {md_code(diff.new_label)}: "
        f"{md_text(summary(diff))}"
    )
    out = [head, "", *window_markdown(diff.window)]
    if diff.same:
        return head + "\n"
    sections = _md_sections(diff)
    # What every section needs besides its items, plus the final note: reserved up front.
    reserve = 400
    used = len(head) + 2
    hidden_sections = 0
    hidden_items = 0
    for title, lines in sections:
        opening = f"<details><summary>{title}</summary>\n"
        closing = "</details>\n"
        fixed = len(opening) + len(closing) + 120
        if used + fixed + reserve > max_chars:
            hidden_sections += 1
            hidden_items += len(lines)
            continue
        shown: list[str] = []
        budget = max_chars - reserve - used - fixed
        for line in lines[:max_items]:
            if len(line) + 1 > budget:
                break
            shown.append(line)
            budget -= len(line) + 1
        more = len(lines) - len(shown)
        if more:
            shown.append(f"- … and {more} more (`kostyorc diff --format json` lists all)")
        block = opening + "\n" + "\n".join(shown) + "\n\n" + closing
        out.append(block)
        used += len(block) + 1
    if hidden_sections:
        out.append(
            f"… and {hidden_sections} more sections with {hidden_items} items not shown "
            "(comment size limit; `kostyorc diff --format json` lists all)\n"
        )
    return "\n".join(out)


# ---------------------------------------------------------------- json


def _change_json(change: Change) -> dict:
    out: dict = {"field": change.field}
    if change.old is not ABSENT:
        out["old"] = change.old
    if change.new is not ABSENT:
        out["new"] = change.new
    return out


def diff_to_dict(diff: PlanDiff) -> dict:
    return {
        "format": "kostyor-plan-diff/1",
        "old": diff.old_label,
        "new": diff.new_label,
        "same": diff.same,
        "summary": summary(diff),
        "steps_count": {"old": diff.old_steps, "new": diff.new_steps},
        **window_json(diff.window),
        "settings": [_change_json(c) for c in diff.settings],
        "inputs": [_change_json(c) for c in diff.inputs],
        "warnings": {
            "added": list(diff.warnings_added),
            "removed": list(diff.warnings_removed),
            "moved": [{"old": m.old, "new": m.new} for m in diff.warnings_moved],
        },
        "hosts": {
            "added": [
                {"name": h.name, "position": h.position + 1, "after": h.after, "steps": h.steps}
                | ({"placement": h.placement} if h.placement else {})
                | ({"batch": h.batch} if h.batch else {})
                for h in diff.hosts_added
            ],
            "removed": [
                {"name": h.name, "position": h.position + 1, "steps": h.steps}
                for h in diff.hosts_removed
            ],
            "moved": [
                {
                    "name": m.name,
                    "old_position": m.old_position + 1,
                    "new_position": m.new_position + 1,
                    "direction": m.direction,
                    "after": m.new_after,
                    "steps": m.steps,
                }
                for m in diff.hosts_moved
            ],
            "changed": [
                {
                    "name": c.name,
                    "position": c.position + 1,
                    "changes": [_change_json(x) for x in c.changes],
                }
                for c in diff.hosts_changed
            ],
            "rebatched": [
                {"name": r.name, "changes": [_change_json(x) for x in r.changes], "steps": r.steps}
                for r in diff.hosts_rebatched
            ],
        },
        "steps": {
            "added": [
                {
                    "id": e.id,
                    "position": e.index + 1,
                    "after": e.after,
                    "host": e.host,
                    "step": e.step,
                }
                for e in diff.added
            ],
            "removed": [
                {"id": e.id, "position": e.index + 1, "host": e.host, "step": e.step}
                for e in diff.removed
            ],
            "moved": [
                {
                    "id": m.id,
                    "old_position": m.old_index + 1,
                    "new_position": m.new_index + 1,
                    "direction": m.direction,
                    "after": m.new_after,
                    "host": m.host,
                }
                for m in diff.moved
            ],
            "changed": [
                {
                    "id": c.id,
                    "position": c.index + 1,
                    "changes": [_change_json(x) for x in c.changes],
                }
                for c in diff.changed
            ],
        },
    }


def render_json(diff: PlanDiff) -> str:
    return json.dumps(diff_to_dict(diff), indent=2, ensure_ascii=False) + "\n"
