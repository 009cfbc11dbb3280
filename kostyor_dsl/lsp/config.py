"""The server's settings: from the editor, and from comments in a spec.

From the editor (`initializationOptions`, or `workspace/didChangeConfiguration`
with the same keys, alone or under `kostyor`):

    inventory    an inventory file, relative to the workspace folder
    strategy     the strategy to check it with (default: the spec's default)
    debounce_ms  how long typing must pause before a check (default 50: with the
                 check of the shipped spec, diagnostics within 100 ms of a keystroke)

In a spec, a full-line comment sets them for that file, relative to its
folder, over the editor's:

    # kostyor: inventory=../inventories/prod.yaml
    # kostyor: strategy=rolling-computes
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

_COMMENT = re.compile(r"^[ \t]*#[ \t]*kostyor:[ \t]*([a-z-]+)[ \t]*=[ \t]*(\S+)[ \t]*$")
KEYS = ("inventory", "strategy")


@dataclass(frozen=True)
class Settings:
    inventory: str | None = None
    strategy: str | None = None
    debounce: float = 0.05

    @classmethod
    def from_options(cls, options, base: Settings | None = None) -> Settings:
        settings = base or cls()
        if not isinstance(options, dict):
            return settings
        if isinstance(options.get("kostyor"), dict):
            options = options["kostyor"]
        changes = {}
        for key in KEYS:
            if key in options:
                value = options[key]
                changes[key] = str(value) if value else None
        delay = options.get("debounce_ms")
        if isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay >= 0:
            changes["debounce"] = min(float(delay), 60_000.0) / 1000
        return replace(settings, **changes)


def comment_settings(text: str, spans: bool = False) -> dict:
    """`# kostyor: KEY=VALUE` comments: KEY -> VALUE (or, with spans, -> the VALUE's
    1-based line, column and end column)."""
    found: dict = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if "kostyor:" not in line:
            continue
        m = _COMMENT.match(line)
        if m and m.group(1) in KEYS and m.group(1) not in found:
            if spans:
                found[m.group(1)] = (number, m.start(2) + 1, m.end(2) + 1)
            else:
                found[m.group(1)] = m.group(2)
    return found
