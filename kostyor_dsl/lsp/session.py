"""The work of the language server: its state and its answers, over the library.

Loaded on the first use after `initialize` (server.py registers the features),
so that an editor gets its answer to `initialize` without waiting for the
compiler's imports.

State per open document: the last check of its text (`Checked`), and the
last model whose root parsed (completion offers names from it while a line
is half typed).  Diagnostics are published per file: a check of a root spec
yields diagnostics for the root, for the files it imports and for the
inventory; a file that is itself open shows only its own check's (its
buffer is newer than the saved copy its importers read).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, replace

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from kostyor_dsl.compiler.model import Spec
from kostyor_dsl.language.diagnostics import CompileError, Span, error
from kostyor_dsl.lsp import outline, quick_fixes
from kostyor_dsl.lsp.completion import completions, cursor_at
from kostyor_dsl.lsp.config import Settings, comment_settings
from kostyor_dsl.lsp.diagnostics import SOURCE, Converter, publishable
from kostyor_dsl.lsp.hover import hover_text
from kostyor_dsl.lsp.inventory_access import HINT as INVENTORY_HINT
from kostyor_dsl.lsp.inventory_access import read_confined
from kostyor_dsl.lsp.navigation import Symbol, definition, symbol_at
from kostyor_dsl.lsp.positions import client_position, span_range, split_lines
from kostyor_dsl.lsp.workspace import TextCheck, check_text
from kostyor_dsl.review.fmt import format_spec
from kostyor_dsl.runtime.drivers import available_drivers

log = logging.getLogger(__name__)

COMPLETION_KINDS = {
    "keyword": types.CompletionItemKind.Keyword,
    "spec": types.CompletionItemKind.Module,
    "tier": types.CompletionItemKind.EnumMember,
    "order": types.CompletionItemKind.Module,
    "strategy": types.CompletionItemKind.Class,
    "service": types.CompletionItemKind.Field,
    "action": types.CompletionItemKind.Function,
    "setting": types.CompletionItemKind.Property,
    "engine": types.CompletionItemKind.Value,
    "driver": types.CompletionItemKind.Value,
    "value": types.CompletionItemKind.Value,
    "selector": types.CompletionItemKind.Operator,
}


@dataclass(frozen=True)
class Checked:
    text: str
    version: int | None
    check: TextCheck | None
    failure: str | None = None  # the library raised: a bug, reported as a diagnostic


class Session:
    """What the server knows of the open documents; `ls` is the pygls server."""

    def __init__(self, ls) -> None:
        self.ls = ls
        self.checked: dict[str, Checked] = {}
        self.models: dict[str, Spec] = {}
        self.published: dict[str, dict[str, list[types.Diagnostic]]] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}

    @property
    def workspace(self):
        return self.ls.workspace

    @property
    def settings(self) -> Settings:
        return self.ls.settings

    def text_document_publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None:
        self.ls.text_document_publish_diagnostics(params)

    # ------------------------------------------------------------ documents

    def path_of(self, uri: str) -> str:
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path:
            return path
        base = self.workspace.root_path or os.getcwd()
        return os.path.join(base, os.path.basename(uri.split(":", 1)[-1]) or "untitled.kostyor")

    def text_of(self, uri: str) -> str:
        return self.workspace.get_text_document(uri).source

    def current(self, uri: str) -> Checked:
        """The check of the document's text as it is now (checked now if it changed)."""
        doc = self.workspace.get_text_document(uri)
        done = self.checked.get(uri)
        if done is None or done.text != doc.source:
            self.check_now(uri)
            done = self.checked[uri]
        return done

    def schedule(self, uri: str) -> None:
        """Check after the debounce delay; a newer change restarts the wait."""
        pending = self.timers.pop(uri, None)
        if pending is not None:
            pending.cancel()
        loop = asyncio.get_running_loop()
        self.timers[uri] = loop.call_later(self.settings.debounce, self.check_now, uri)

    def check_now(self, uri: str) -> None:
        pending = self.timers.pop(uri, None)
        if pending is not None:
            pending.cancel()
        if uri not in self.workspace.text_documents:
            return
        doc = self.workspace.get_text_document(uri)
        text = doc.source
        path = self.path_of(uri)
        inventory, strategy = self.inventory_and_strategy(path, text)
        try:
            check = self.check_confined(text, path, inventory, strategy)
            done = Checked(text, doc.version, check)
        except Exception as exc:  # a bug (deep nesting, ...) must not kill the server
            log.exception("checking %s failed", uri)
            done = Checked(text, doc.version, None, f"{type(exc).__name__}: {exc}")
        self.checked[uri] = done
        check = done.check
        if check is not None and check.root and check.root.tree is not None and check.partial:
            self.models[uri] = check.partial
        self.publish(uri, done)

    def folders(self, path: str) -> list[str]:
        """Where the server may read an inventory: the workspace folders, the spec's folder."""
        found = [os.path.dirname(os.path.realpath(path))]
        if self.workspace.root_path:
            found.append(self.workspace.root_path)
        for folder in self.workspace.folders.values():
            where = to_fs_path(folder.uri) if folder.uri.startswith("file:") else None
            if where:
                found.append(where)
        return found

    def check_confined(
        self, text: str, path: str, inventory: str | None, strategy: str | None
    ) -> TextCheck:
        """check_text, with the inventory read only where inventory_access allows."""
        if inventory is None:
            return check_text(text, path, None, strategy)
        read = read_confined(inventory, self.folders(path))
        if not isinstance(read, str):
            return check_text(text, path, inventory, strategy, inventory_check=read)
        check = check_text(text, path, None, strategy)
        if check.root is None:
            return check
        where = comment_settings(text, spans=True).get("inventory")
        line, start, end = where if where is not None else (1, 1, 1)
        named = comment_settings(text).get("inventory") or self.settings.inventory
        refused = error(
            "K100",
            f"inventory '{named}' is not read: {read}",
            Span(check.root.display, line, start, line, end),
            hints=(INVENTORY_HINT,),
        )
        report = replace(check.report, diagnostics=(*check.report.diagnostics, refused))
        return replace(check, report=report)

    def inventory_and_strategy(self, path: str, text: str) -> tuple[str | None, str | None]:
        inline = comment_settings(text)
        inventory = inline.get("inventory")
        if inventory is not None:
            inventory = os.path.join(os.path.dirname(path), inventory)
        elif self.settings.inventory:
            base = self.workspace.root_path or os.path.dirname(path)
            inventory = os.path.join(base, os.path.expanduser(self.settings.inventory))
        strategy = inline.get("strategy") or self.settings.strategy
        return (os.path.abspath(inventory) if inventory else None), strategy

    def close(self, uri: str) -> None:
        pending = self.timers.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self.checked.pop(uri, None)
        self.models.pop(uri, None)
        old = self.published.pop(uri, {})
        for target in old:
            self.push(target)

    # ------------------------------------------------------------ diagnostics

    def converter(self, uri: str, check: TextCheck) -> Converter:
        root_display = check.root.display if check.root else None
        sources = check.report.sources

        def locate(display: str):
            if display == root_display:
                return uri, split_lines(self.text_of(uri))
            path = check.path_of(display)
            if path is None:
                return None
            target = from_fs_path(path) or path
            text = sources.get(display)
            return target, split_lines(text) if text is not None else None

        return Converter(uri, locate, self.range_of)

    def range_of(self, span: Span, lines: list[str] | None) -> types.Range:
        return span_range(span, lines, self.workspace.position_codec)

    def publish(self, uri: str, done: Checked) -> None:
        if done.check is None:
            message = (
                f"kostyorc could not check this file ({done.failure}); "
                "this is a bug of kostyorc, please report it with the file"
            )
            start = types.Range(types.Position(0, 0), types.Position(0, 0))
            failed = types.Diagnostic(
                start, message, severity=types.DiagnosticSeverity.Error, source=SOURCE
            )
            diagnostics = {uri: [failed]}
        else:
            conv = self.converter(uri, done.check)
            anchor = None
            where = comment_settings(done.text, spans=True).get("inventory")
            if where is not None and done.check.root is not None:
                line, start, end = where
                anchor = Span(done.check.root.display, line, start, line, end)
            diagnostics = publishable(done.check, conv, anchor)
        old = self.published.get(uri, {})
        self.published[uri] = diagnostics
        for target in sorted(set(old) | set(diagnostics)):
            self.push(target)

    def push(self, target: str) -> None:
        """Publish what the open roots found in `target` (its own check only, when open)."""
        if target in self.published and target in self.checked:
            found = list(self.published[target].get(target, []))
        else:
            found, seen = [], set()
            for by_uri in self.published.values():
                for d in by_uri.get(target, []):
                    key = (d.range.start.line, d.range.start.character, d.code, d.message)
                    if key not in seen:
                        seen.add(key)
                        found.append(d)
        version = self.checked[target].version if target in self.checked else None
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=target, diagnostics=found, version=version)
        )

    def recheck_dependents(self, *changed_uris: str) -> None:
        """Open specs that import a file just saved or changed on disk, or check an
        inventory that did, read it again."""
        paths = {os.path.realpath(self.path_of(u)) for u in changed_uris}
        for uri, done in list(self.checked.items()):
            if uri in changed_uris or done.check is None:
                continue
            check = done.check
            imported = {unit.key[1] for unit in check.units[1:] if unit.key[0] == "file"}
            if check.inventory is not None:
                imported.add(os.path.realpath(check.inventory))
            if imported & paths:
                self.check_now(uri)

    # ------------------------------------------------------------ positions

    def lines(self, uri: str) -> list[str]:
        return split_lines(self.text_of(uri))

    def position(self, uri: str, position: types.Position) -> tuple[int, int]:
        return client_position(position, self.lines(uri), self.workspace.position_codec)

    def symbol(self, uri: str, position: types.Position) -> tuple[Checked, Symbol | None]:
        done = self.current(uri)
        check = done.check
        if check is None or check.root is None or check.root.tree is None:
            return done, None
        line, column = self.position(uri, position)
        return done, symbol_at(check.root.tree, line, column)

    def location_of(self, uri: str, check: TextCheck, span: Span) -> types.Location | None:
        return self.converter(uri, check).location(span)


def did_change_configuration(ls: Session) -> None:
    for uri in list(ls.checked):
        ls.check_now(uri)


def hover(ls: Session, params: types.HoverParams) -> types.Hover | None:
    uri = params.text_document.uri
    done, sym = ls.symbol(uri, params.position)
    if sym is None or done.check is None:
        return None
    text = hover_text(done.check, sym)
    if text is None:
        return None
    return types.Hover(
        types.MarkupContent(types.MarkupKind.Markdown, text),
        ls.range_of(sym.span, ls.lines(uri)),
    )


def goto_definition(ls: Session, params: types.DefinitionParams) -> types.Location | None:
    uri = params.text_document.uri
    done, sym = ls.symbol(uri, params.position)
    check = done.check
    if sym is None or check is None or check.root is None or check.root.tree is None:
        return None
    if sym.kind == "import":
        item = next(i for i in check.root.tree.items if getattr(i, "span", None) == sym.span)
        unit = check.imported_unit(check.root, item)
        path = check.path_of(unit.display) if unit is not None else None
        if path is None:
            return None
        start = types.Range(types.Position(0, 0), types.Position(0, 0))
        return types.Location(from_fs_path(path) or path, start)
    trees = [u.tree for u in check.units if u.tree is not None]
    span = definition(trees, check.partial, sym)
    return ls.location_of(uri, check, span) if span is not None else None


def complete(ls: Session, params: types.CompletionParams) -> types.CompletionList:
    uri = params.text_document.uri
    done = ls.current(uri)
    model = ls.models.get(uri) or (done.check.partial if done.check else None)
    line, column = ls.position(uri, params.position)
    found = completions(done.text, line, column, model, available_drivers())
    # Replace the word being typed (names hold `-` and `.`, which clients may not count
    # as word characters: `nova-` must not become `nova-nova-compute`).
    lines = ls.lines(uri)
    typed = len(cursor_at(done.text, line, column).prefix)
    codec = ls.workspace.position_codec
    start = codec.position_to_client_units(lines, types.Position(line - 1, column - 1 - typed))
    replace = types.Range(start, params.position)
    items = [
        types.CompletionItem(
            label=c.label,
            text_edit=types.TextEdit(replace, c.label),
            kind=COMPLETION_KINDS.get(c.kind),
            detail=c.detail or None,
            documentation=types.MarkupContent(types.MarkupKind.Markdown, c.documentation)
            if c.documentation
            else None,
            sort_text=f"{i:04d}",
        )
        for i, c in enumerate(found)
    ]
    return types.CompletionList(is_incomplete=False, items=items)


def formatting(ls: Session, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    uri = params.text_document.uri
    text = ls.text_of(uri)
    try:
        formatted = format_spec(text, os.path.basename(ls.path_of(uri)))
    except CompileError:
        return None  # the diagnostics say why; nothing to format until it parses
    if formatted == text:
        return []
    lines = ls.lines(uri)
    end = ls.workspace.position_codec.position_to_client_units(
        lines, types.Position(len(lines) - 1, len(lines[-1]))
    )
    return [types.TextEdit(types.Range(types.Position(0, 0), end), formatted)]


def document_symbols(ls: Session, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    uri = params.text_document.uri
    done = ls.current(uri)
    check = done.check
    if check is None or check.root is None or check.root.tree is None:
        return []
    lines = ls.lines(uri)
    return outline.document_symbols(check.root.tree, lambda span: ls.range_of(span, lines))


def code_actions(ls: Session, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    return quick_fixes.quick_fixes(uri, ls.lines(uri), params.context.diagnostics, ls.workspace)
