"""The library's Diagnostics -> LSP diagnostics, grouped by the file they are in.

Each keeps its code, message, hints (as lines of the message, and in `data`
for code actions) and labels (as related information).  A diagnostic in an
imported file or the inventory is published on that file, and summed up on
the root spec's import line (or its first line), so the problem is seen
where it is and where it matters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from lsprotocol import types

from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import Diagnostic, Span, sorted_diagnostics
from kostyor_dsl.lsp.workspace import TextCheck

SOURCE = "kostyorc"

# display name of a file -> (its URI, its lines when open in the editor, else None)
Locate = Callable[[str], "tuple[str, list[str] | None] | None"]
RangeOf = Callable[[Span, "list[str] | None"], types.Range]

_START = types.Range(types.Position(0, 0), types.Position(0, 0))


@dataclass(frozen=True)
class Converter:
    root_uri: str
    locate: Locate
    range_of: RangeOf

    def location(self, span: Span) -> types.Location | None:
        found = self.locate(span.file)
        if found is None:
            return None
        uri, lines = found
        return types.Location(uri, self.range_of(span, lines))

    def convert(self, d: Diagnostic) -> tuple[str, types.Diagnostic]:
        """The URI to publish a diagnostic on, and the diagnostic."""
        message = d.message
        if d.subject:
            message = f"{d.subject}: {message}"
        target, rng = self.root_uri, _START
        if d.span is not None:
            found = self.locate(d.span.file)
            if found is None:
                message = f"{d.span}: {message}"
            else:
                target, lines = found
                rng = self.range_of(d.span, lines)
        related = []
        for label in d.labels:
            where = self.location(label.span)
            if where is not None:
                related.append(types.DiagnosticRelatedInformation(where, label.message))
        text = "\n".join([message, *(f"hint: {h}" for h in d.hints)])
        return target, types.Diagnostic(
            range=rng,
            message=text,
            severity=types.DiagnosticSeverity.Error
            if d.is_error
            else types.DiagnosticSeverity.Warning,
            code=d.code,
            source=SOURCE,
            related_information=related or None,
            data={"hints": list(d.hints)},
        )


def publishable(check: TextCheck, conv: Converter, anchor: Span | None) -> dict[str, list]:
    """URI -> the LSP diagnostics of one check (the root's URI is always there)."""
    by_uri: dict[str, list[types.Diagnostic]] = defaultdict(list)
    by_uri[conv.root_uri] = []
    elsewhere: dict[str, list[tuple[str, types.Diagnostic]]] = defaultdict(list)
    root = check.root
    for d in sorted_diagnostics(check.report.diagnostics):
        uri, diag = conv.convert(d)
        by_uri[uri].append(diag)
        if uri != conv.root_uri and d.span is not None:
            elsewhere[d.span.file].append((uri, diag))
    for display, found in sorted(elsewhere.items()):
        errors = sum(diag.severity == types.DiagnosticSeverity.Error for _, diag in found)
        warnings = len(found) - errors
        counts = ", ".join(
            f"{n} {word}{'s' if n != 1 else ''}"
            for n, word in ((errors, "error"), (warnings, "warning"))
            if n
        )
        rng = _START
        import_span = _import_span(check, root, display) or anchor
        found_at = conv.locate(import_span.file) if import_span is not None else None
        if found_at is not None:
            rng = conv.range_of(import_span, found_at[1])
        by_uri[conv.root_uri].append(
            types.Diagnostic(
                range=rng,
                message=f"{display}: {counts}",
                severity=types.DiagnosticSeverity.Error
                if errors
                else types.DiagnosticSeverity.Warning,
                source=SOURCE,
                related_information=[
                    types.DiagnosticRelatedInformation(
                        types.Location(uri, diag.range), diag.message.split("\n", 1)[0]
                    )
                    for uri, diag in found
                ],
            )
        )
    return dict(by_uri)


def _import_span(check: TextCheck, root, display: str) -> Span | None:
    """The root's import statement that loads `display`, or else its first import
    (the file is imported through it)."""
    if root is None or root.tree is None:
        return None
    imports = [i for i in root.tree.items if isinstance(i, ast.Import)]
    for item in imports:
        unit = check.imported_unit(root, item)
        if unit is not None and unit.display == display:
            return item.span
    unit = check.unit_for(display)
    if unit is not None and imports:
        return imports[0].span
    return None
