"""What a line of spec source is, in one place: spans, carets, fmt and SARIF agree.

The lexer ends a line at `\\n` only (a `\\r` before it belongs to the line
break).  `str.splitlines` also breaks at `\\v`, `\\f`, `\\x1c`-`\\x1e`, `\\x85`,
U+2028 and U+2029, which may stand in a comment or a string: splitting with
it puts every later line number off by one, so nothing here uses it.
"""

from __future__ import annotations

BOM = "\ufeff"


def source_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of `text` as the parser counts them (1-based: line N is `[N - 1]`).

    Like `str.splitlines` for `\\n` and `\\r\\n` (a final line break adds no
    empty line), and only for them."""
    lines = text.split("\n")
    last = lines.pop()
    if keepends:
        out = [line + "\n" for line in lines]
        if last:
            out.append(last)
        return out
    if last:
        lines.append(last)
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def without_bom(text: str) -> str:
    """Spec text without a leading UTF-8 byte order mark (editors on Windows write one).

    Applied where specs are read and parsed, so spans count from the first
    character after it and digests do not depend on it."""
    return text[1:] if text.startswith(BOM) else text
