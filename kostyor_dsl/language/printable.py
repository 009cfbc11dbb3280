"""Text from the inputs, made safe to print on a terminal.

Host names, service names, step ids and file names come from files a pull
request can change; an escape sequence in one must not reach the reviewer's
terminal as one (it can rewrite the screen, retitle the window, hide lines).
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the Unicode line and
# paragraph separators (which some terminals and editors break lines at).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """`text` with control characters shown as escapes (`\\x1b`); tabs and
    newlines kept.  Costs one regular-expression search when there is none."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match) -> str:
    return repr(match.group())[1:-1]
