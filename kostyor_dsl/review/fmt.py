"""`kostyorc fmt`: the canonical layout of a spec, comments kept.

The layout (the shipped spec is written in it):

- two spaces of indent per block level; `{` ends its header line, `}` stands
  on a line of its own;
- in a project, service names are padded so that `on` lines up, two spaces
  past the longest name;
- in a strategy or settings block, one-line settings with values line their
  values up two spaces past the longest such key (`batch              1, 5, 20%`);
  a setting that opens a block keeps one space (`hosts compute {`,
  `driver shell {`), unless its key also stands on a one-line setting of the
  block, so that hooks of one kind line up (`before             evacuate {`
  under `before             disable-scheduling`);
- lists are written `a, b, c`; values keep their source text (`"..."`, `20%`);
- one blank line between top-level blocks and between projects; elsewhere at
  most one blank line, where the author put one, and none right after `{` or
  before `}`;
- comments stay with the line they were on: a full-line comment before the
  next statement at that statement's indent (before a `}`: at the block's
  inner indent), a trailing comment after its statement, two spaces apart.

A byte order mark is dropped.  Formatting only moves whitespace and comments:
`parse(fmt(x)) == parse(x)` (the AST compares without positions), and
`fmt(fmt(x)) == fmt(x)`; both are tested over every spec of the project, and
`format_spec` checks the first on every call: when it fails (a bug of the
formatter) it raises FormatterBug instead of returning text that means
something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import CompileError
from kostyor_dsl.language.parser import parse_spec
from kostyor_dsl.language.source_text import source_lines, without_bom

INDENT = "  "
# A string (skipped) or a comment (group 1): what the lexer does with `#` and quotes.
_CODE_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|(#[^\n]*)')


class FormatterBug(Exception):
    """The layout fmt made would not parse to the same spec: never written."""


@dataclass
class _Line:
    """One output line: a statement, a block's header or its `}`, or a full-line comment."""

    source_line: int
    depth: int
    text: str
    opens: bool = False
    closes: bool = False
    comment: bool = False
    # A blank line must come before this line's leading comments (block boundaries).
    forced_blank: bool = False


class _Writer:
    def __init__(self, text: str, spec: ast.SpecFile) -> None:
        self.source = source_lines(text)
        self.closer_of = _brace_pairs(self.source)
        self.lines: list[_Line] = []
        self.spec = spec

    # ---------------------------------------------------------- statements

    def emit(self, line: int, depth: int, text: str, **flags) -> None:
        self.lines.append(_Line(line, depth, text, **flags))

    def close(self, opener_line: int, depth: int) -> None:
        self.emit(self.closer_of[opener_line], depth, "}", closes=True)

    def raw(self, span) -> str:
        """The source text of a one-line span (strings keep their exact escapes)."""
        return self.source[span.line - 1][span.column - 1 : span.end_column - 1]

    def item(self, node, forced: bool) -> None:
        if isinstance(node, ast.Import):
            target = self.raw(node.span) if node.is_path else node.target
            self.emit(node.span.line, 0, f"import {target}", forced_blank=forced)
        elif isinstance(node, ast.Tiers):
            names = ", ".join(n.value for n in node.names)
            self.emit(node.names[0].span.line, 0, f"tiers {names}", forced_blank=forced)
        elif isinstance(node, ast.Actions):
            names = ", ".join(n.value for n in node.names)
            self.emit(node.names[0].span.line, 0, f"actions {names}", forced_blank=forced)
        elif isinstance(node, ast.Irreversible):
            names = ", ".join(n.value for n in node.names)
            self.emit(node.names[0].span.line, 0, f"irreversible {names}", forced_blank=forced)
        elif isinstance(node, ast.Order):
            self.order(node, forced)
        elif isinstance(node, ast.Strategy):
            self.strategy(node, forced)
        else:
            raise TypeError(f"fmt does not know the statement {type(node).__name__}")

    def order(self, node: ast.Order, forced: bool) -> None:
        line = node.name.span.line
        self.emit(line, 0, f"order {node.name.value} {{", opens=True, forced_blank=forced)
        members = sorted((*node.projects, *node.ignores, *node.barriers), key=lambda m: m.span.line)
        for index, project in enumerate(members):
            if isinstance(project, ast.Barrier):
                self.barrier(project, 1)
                continue
            if isinstance(project, ast.Ignore):
                after_ignore = index > 0 and isinstance(members[index - 1], ast.Ignore)
                names = ", ".join(n.value for n in project.names)
                self.emit(
                    project.names[0].span.line,
                    1,
                    f"ignore {names}",
                    forced_blank=index > 0 and not after_ignore,
                )
                continue
            pline = project.name.span.line
            self.emit(
                pline, 1, f"project {project.name.value} {{", opens=True, forced_blank=index > 0
            )
            width = max((len(s.name.value) for s in project.services), default=0) + 2
            for service in project.services:
                roles = ", ".join(r.value for r in service.roles)
                self.emit(service.name.span.line, 2, f"{service.name.value:<{width}}on {roles}")
            for steps in project.steps:
                names = ", ".join(n.value for n in steps.names)
                self.emit(steps.span.line, 2, f"{steps.when:<13} {names}")
            self.close(pline, 1)
        self.close(line, 0)

    def strategy(self, node: ast.Strategy, forced: bool) -> None:
        line = node.name.span.line
        head = ("default " if node.is_default else "") + f"strategy {node.name.value}"
        if node.extends is not None:
            head += f" extends {node.extends.value}"
        self.emit(line, 0, head + " {", opens=True, forced_blank=forced)
        self.settings(node.settings, 1)
        for barrier in node.barriers:
            self.barrier(barrier, 1)
        self.close(line, 0)

    def barrier(self, node: ast.Barrier, depth: int) -> None:
        self.emit(node.span.line, depth, f"barrier {node.text}")

    def settings(self, settings: tuple[ast.Setting, ...], depth: int) -> None:
        one_line = {s.key.value for s in settings if s.values and s.block is None}
        aligned = [s for s in settings if s.values and s.key.value in one_line]
        width = max((len(s.key.value) for s in aligned), default=0) + 2
        for setting in settings:
            key = setting.key.value
            text = key
            if setting.values:
                values = ", ".join(v.raw for v in setting.values)
                text = f"{key:<{width}}{values}" if key in one_line else f"{key} {values}"
            line = setting.key.span.line
            if setting.block is None:
                self.emit(line, depth, text)
            else:
                self.emit(line, depth, text + " {", opens=True)
                self.settings(setting.block, depth + 1)
                self.close(line, depth)

    # ---------------------------------------------------------- comments, blank lines

    def merge_comments(self) -> list[_Line]:
        trailing: dict[int, str] = {}
        full: list[_Line] = []
        for comment in self.spec.comments:
            line = comment.span.line
            before = self.source[line - 1][: comment.span.column - 1]
            if before.strip():
                trailing[line] = comment.text.rstrip()
            else:
                full.append(_Line(line, -1, comment.text.rstrip(), comment=True))
        for out in self.lines:
            if out.source_line in trailing:
                out.text += "  " + trailing.pop(out.source_line)
        if trailing:  # a comment on a line we emit nothing for: never drop it
            full.extend(_Line(line, -1, text, comment=True) for line, text in trailing.items())
        merged = sorted(self.lines + full, key=lambda x: (x.source_line, x.comment is False))
        # A full-line comment takes the indent of what follows it (inside the block before a `}`).
        following_depth = 0
        for out in reversed(merged):
            if out.comment:
                out.depth = following_depth
            else:
                following_depth = out.depth + 1 if out.closes else out.depth
        return merged

    def render(self) -> str:
        merged = self.merge_comments()
        # Move a block boundary's blank line up, before the comments that lead into it.
        for i, out in enumerate(merged):
            if out.forced_blank and not out.comment:
                j = i
                while j > 0 and merged[j - 1].comment and not merged[j - 1].opens:
                    j -= 1
                if j > 0:
                    merged[i].forced_blank = False
                    merged[j].forced_blank = True
        text_lines: list[str] = []
        previous: _Line | None = None
        for out in merged:
            if previous is not None:
                blank = out.forced_blank or self.blank_between(previous, out)
                if previous.opens or (out.closes and not out.forced_blank):
                    blank = False
                if blank:
                    text_lines.append("")
            text_lines.append(INDENT * out.depth + out.text)
            previous = out
        return "\n".join(text_lines) + "\n" if text_lines else ""

    def blank_between(self, a: _Line, b: _Line) -> bool:
        return any(not self.source[n - 1].strip() for n in range(a.source_line + 1, b.source_line))


def _brace_pairs(lines: list[str]) -> dict[int, int]:
    """Line of each `{` -> line of its `}` (the grammar allows one brace per line)."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for number, line in enumerate(lines, start=1):
        code = _CODE_RE.sub(lambda m: "" if m.group(1) else '""', line)
        for ch in code:
            if ch == "{":
                stack.append(number)
            elif ch == "}" and stack:
                pairs[stack.pop()] = number
    return pairs


def format_spec(text: str, file: str = "<spec>") -> str:
    """The spec in canonical layout.  Raises CompileError when it does not parse,
    FormatterBug when the layout would not mean the same spec."""
    text = without_bom(text).replace("\r\n", "\n")
    spec = parse_spec(text, file)
    writer = _Writer(text if text.endswith("\n") else text + "\n", spec)
    previous_block = False
    for index, node in enumerate(spec.items):
        is_block = isinstance(node, (ast.Order, ast.Strategy))
        writer.item(node, forced=index > 0 and (is_block or previous_block))
        previous_block = is_block
    formatted = writer.render()
    _check_same_meaning(spec, formatted, file)
    return formatted


def _check_same_meaning(spec: ast.SpecFile, formatted: str, file: str) -> None:
    try:
        again = parse_spec(formatted, file)
    except CompileError as exc:
        first = exc.diagnostics[0]
        raise FormatterBug(
            f"the formatted text does not parse ({first.span}: {first.message})"
        ) from None
    if again != spec:
        raise FormatterBug("the formatted text parses to a different spec")
    if [c.text.rstrip() for c in again.comments] != [c.text.rstrip() for c in spec.comments]:
        raise FormatterBug("the formatted text does not keep the comments as they were")
