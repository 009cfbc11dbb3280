"""The one Diagnostic type of kostyor_dsl, and its text and JSON renderings.

Every stage (parse, resolve, check, inventory) reports problems as
`Diagnostic` values and collects all of them before stopping.  Codes are
stable (documented in docs/diagnostics.md) so CI and editors can key on them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from kostyor_dsl.language.printable import printable
from kostyor_dsl.language.source_text import source_lines


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Span:
    """A range of source text; lines and columns are 1-based, the end is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @property
    def ref(self) -> str:
        """`file:line`, the form a plan step's `source` takes."""
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Label:
    """A secondary location that helps explain a diagnostic ("first listed here")."""

    span: Span
    message: str


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span | None = None
    # Where there is no source position (an inventory given as data), what it is about.
    subject: str | None = None
    labels: tuple[Label, ...] = ()
    hints: tuple[str, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        span = self.span
        return (span is None, span or Span("", 0, 0, 0, 0), self.code, self.message)


def error(code: str, message: str, span: Span | None = None, **kw) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, span, **kw)


def warning(code: str, message: str, span: Span | None = None, **kw) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, message, span, **kw)


class CompileError(Exception):
    """Raised by the library facade when a stage produced errors.

    Carries every diagnostic of that stage (errors and warnings), and the
    source texts so a caller can render them with their source lines.
    Picklable: it only holds plain data.
    """

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: Mapping[str, str] | None = None):
        self.diagnostics = tuple(diagnostics)
        self.sources = dict(sources or {})
        errors = sum(d.is_error for d in self.diagnostics)
        super().__init__(f"{errors} error(s)", self.diagnostics, self.sources)

    def __reduce__(self):
        return (type(self), (self.diagnostics, self.sources))


@dataclass
class DiagnosticSink:
    """Collects the diagnostics of a stage."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=Diagnostic.sort_key)


class SourceLines:
    """The lines of each source text, split once per file however many diagnostics
    point into it (a misspelt service on 8,000 hosts is 8,000 diagnostics)."""

    def __init__(self, sources: Mapping[str, str]):
        self.sources = sources
        self._lines: dict[str, list[str] | None] = {}

    def line(self, span: Span) -> str | None:
        """The span's source line as shown under a message: tabs as one space, control
        characters as U+FFFD (one column each, so the caret stays under its column)."""
        if span.file not in self._lines:
            text = self.sources.get(span.file)
            self._lines[span.file] = None if text is None else source_lines(text)
        lines = self._lines[span.file]
        if lines is not None and 1 <= span.line <= len(lines):
            return shown_line(lines[span.line - 1].expandtabs(1))
        return None


def shown_line(text: str) -> str:
    """A source line with control and format characters (escape sequences, line
    separators) replaced by U+FFFD, one for one so the caret under it stays in
    place, so spec or inventory text never drives the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else "\ufffd" for ch in text)


def render_one(
    diagnostic: Diagnostic,
    sources: Mapping[str, str] | SourceLines,
    color: bool = False,
) -> str:
    """Render like a compiler: `file:line:col: error[K001]: message`, the line, a caret."""
    lines = sources if isinstance(sources, SourceLines) else SourceLines(sources)
    sev = diagnostic.severity.value
    if color:
        paint = "\x1b[1;31m" if diagnostic.is_error else "\x1b[1;33m"
        sev_text = f"{paint}{sev}[{diagnostic.code}]\x1b[0m"
    else:
        sev_text = f"{sev}[{diagnostic.code}]"
    where = str(diagnostic.span) if diagnostic.span else (diagnostic.subject or "kostyorc")
    if diagnostic.span and diagnostic.subject:
        where = f"{where}: {diagnostic.subject}"
    # Names in messages and source lines come from the inputs: no escape sequence reaches a terminal.
    out = [f"{printable(where)}: {sev_text}: {printable(diagnostic.message)}"]
    if diagnostic.span:
        out.extend(_excerpt(lines, diagnostic.span, ""))
    for label in diagnostic.labels:
        out.append(f"  note: {label.span}: {label.message}")
        out.extend(_excerpt(lines, label.span, "  "))
    for hint in diagnostic.hints:
        # A hint may show a block of spec text: its lines line up under the first.
        out.append(f"  hint: {printable(hint)}".replace("\n", "\n        "))
    return "\n".join(out)


# Longer source lines are shown as a window around the span (a 4,000-digit number).
EXCERPT_WIDTH = 120


def _excerpt(lines: SourceLines, span: Span, indent: str) -> list[str]:
    line = lines.line(span)
    if line is None:
        return []
    gutter = f"{indent}{span.line:>4} | "
    start = span.column - 1
    width = (
        max(1, span.end_column - span.column)
        if span.end_line == span.line
        else len(line) - span.column + 1
    )
    width = max(1, min(width, len(line) - start))
    if len(line) > EXCERPT_WIDTH:
        left = max(0, min(start - 40, len(line) - EXCERPT_WIDTH))
        shown = line[left : left + EXCERPT_WIDTH]
        head = "..." if left > 0 else ""
        tail = "..." if left + EXCERPT_WIDTH < len(line) else ""
        width = max(1, min(width, len(shown) - (start - left)))
        start = start - left + len(head)
        line = head + shown + tail
    pad = " " * (len(gutter) - 2)
    return [gutter + line, f"{pad}| " + " " * start + "^" * width]


def render_text(
    diagnostics: Iterable[Diagnostic], sources: Mapping[str, str], color: bool = False
) -> str:
    items = sorted_diagnostics(diagnostics)
    lines = SourceLines(sources)
    parts = [render_one(d, lines, color) for d in items]
    errors = sum(d.is_error for d in items)
    warnings = len(items) - errors
    if items:
        summary = []
        if errors:
            summary.append(f"{errors} error{'s' if errors != 1 else ''}")
        if warnings:
            summary.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
        parts.append(", ".join(summary))
    return "\n".join(parts) + ("\n" if parts else "")


def diagnostic_to_dict(diagnostic: Diagnostic) -> dict:
    """The JSON shape, modelled on `terraform validate -json`."""
    out: dict = {
        "severity": diagnostic.severity.value,
        "code": diagnostic.code,
        "summary": diagnostic.message,
        "detail": "\n".join(diagnostic.hints),
        "hints": list(diagnostic.hints),
    }
    if diagnostic.subject:
        out["subject"] = diagnostic.subject
    if diagnostic.span:
        out["range"] = _range(diagnostic.span)
    if diagnostic.labels:
        out["labels"] = [
            {"message": label.message, "range": _range(label.span)} for label in diagnostic.labels
        ]
    return out


def _range(span: Span) -> dict:
    return {
        "filename": span.file,
        "start": {"line": span.line, "column": span.column},
        "end": {"line": span.end_line, "column": span.end_column},
    }


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    items = sorted_diagnostics(diagnostics)
    errors = sum(d.is_error for d in items)
    doc = {
        "format_version": "1.0",
        "valid": errors == 0,
        "error_count": errors,
        "warning_count": len(items) - errors,
        "diagnostics": [diagnostic_to_dict(d) for d in items],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
