"""Ansible's host ranges in INI inventories: `control[01:03]`, `node[a:c]`, `db[1:9:2]`.

A range is counted before it is expanded: `ctl[0:100000000]` is refused
(more than `MAX_RANGE_HOSTS` names on one line) instead of filling the memory.
"""

from __future__ import annotations

import re
import string

# Hosts one INI line may expand to.
MAX_RANGE_HOSTS = 100_000

_RANGE = re.compile(r"\[([^\]]*)\]")


def range_size(pattern: str) -> int:
    """How many names `expand_range(pattern)` gives, counted without making them."""
    count = 1
    for m in _RANGE.finditer(pattern):
        parts = m.group(1).split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            return count  # malformed: expand_range says why
        start, end = parts[0], parts[1]
        step = int(parts[2]) if len(parts) == 3 and parts[2].isdigit() and parts[2] != "0" else 1
        if start.isdigit() and end.isdigit():
            span = int(end) - int(start)
        elif len(start) == len(end) == 1:
            span = ord(end) - ord(start)
        else:
            return count
        count *= max(span // step + 1, 1)
    return count


def expand_range(pattern: str) -> list[str]:
    """Ansible's host ranges: `control[01:03]`, `node[a:c]`, `db[1:9:2]`."""
    m = _RANGE.search(pattern)
    if m is None:
        return [pattern]
    head, tail = pattern[: m.start()], pattern[m.end() :]
    parts = m.group(1).split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError("a range is [START:END] or [START:END:STEP]")
    start, end = parts[0], parts[1]
    step = 1
    if len(parts) == 3:
        if not parts[2].isdigit() or int(parts[2]) < 1:
            raise ValueError("the step of a range is a positive number")
        step = int(parts[2])
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") or len(start) == len(end) else 0
        first, last = int(start), int(end)
        if first > last:
            raise ValueError(f"the range starts after it ends ({start} > {end})")
        values = [str(i).zfill(width) for i in range(first, last + 1, step)]
    elif (
        len(start) == len(end) == 1
        and start in string.ascii_letters
        and end in string.ascii_letters
    ):
        if start > end:
            raise ValueError(f"the range starts after it ends ({start} > {end})")
        values = [chr(c) for c in range(ord(start), ord(end) + 1, step)]
    else:
        raise ValueError("a range is of numbers ([01:10]) or of single letters ([a:f])")
    return [name for v in values for name in expand_range(head + v + tail)]
