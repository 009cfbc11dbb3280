"""Regular expressions from an operator's files (`--map` labels, `--names` rules), made safe.

Python's `re` backtracks: `^(a|a)*$` against a 30-character group name takes
2**30 steps, and an import from a file in a pull request would hang.  A
pattern is refused, with the reason, when it can backtrack that way: a
repetition inside a repetition (`(a+)+`), an alternation inside a repetition
(`(a|ab)*`), a back-reference, or more than four unbounded repetitions (each
one multiplies the work by the name's length).  What is left runs in
polynomial time on names of at most `MAX_SUBJECT` characters, longer ones are
never matched.  The patterns these files need (`^az(\\d+)_hosts$`,
`^rack_(\\w+)$`) are all accepted; `[ab]*` says what `(a|b)*` meant.
"""

from __future__ import annotations

import re

try:  # Python 3.11+
    import re._parser as sre_parse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse  # type: ignore[no-redef]

MAX_SUBJECT = 1_000  # characters of a group name a pattern is tried on
_MAX_UNBOUNDED = 4
_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT}
_POSSESSIVE = getattr(sre_parse, "POSSESSIVE_REPEAT", None)


class UnsafePattern(ValueError):
    """A pattern refused: its text says why."""


def safe_pattern(pattern: str) -> re.Pattern:
    """`re.compile(pattern)`, or UnsafePattern (or re.error) saying why not."""
    compiled = re.compile(pattern)
    unbounded = _walk(sre_parse.parse(pattern), inside_repeat=False)
    if unbounded > _MAX_UNBOUNDED:
        raise UnsafePattern(
            f"more than {_MAX_UNBOUNDED} unbounded repetitions (*, +) make matching slow"
        )
    return compiled


def search(pattern: re.Pattern, subject: str) -> re.Match | None:
    """`pattern.search(subject)`, never on a subject over MAX_SUBJECT characters."""
    if len(subject) > MAX_SUBJECT:
        return None
    return pattern.search(subject)


def _walk(parsed, inside_repeat: bool) -> int:
    unbounded = 0
    for op, arg in parsed:
        if op in _REPEATS or (_POSSESSIVE is not None and op == _POSSESSIVE):
            _, high, sub = arg
            if inside_repeat:
                raise UnsafePattern(
                    "a repetition inside a repetition (like `(a+)+`) can take exponential "
                    "time: write one repetition"
                )
            if high == sre_parse.MAXREPEAT:
                unbounded += 1
            unbounded += _walk(sub, inside_repeat=True)
        elif op == sre_parse.BRANCH:
            if inside_repeat:
                raise UnsafePattern(
                    "an alternation inside a repetition (like `(a|ab)*`) can take "
                    "exponential time: use a character class (`[ab]*`) or one branch"
                )
            for branch in arg[1]:
                unbounded += _walk(branch, inside_repeat)
        elif op == sre_parse.SUBPATTERN:
            unbounded += _walk(arg[-1], inside_repeat)
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            unbounded += _walk(arg[1], inside_repeat)
        elif op == sre_parse.GROUPREF or op == sre_parse.GROUPREF_EXISTS:
            raise UnsafePattern("back-references are not supported here")
    return unbounded
