"""Code actions: a quick fix for each name a did-you-mean hint offers."""

from __future__ import annotations

from lsprotocol import types

from kostyor_dsl.language.suggest import suggested_names


def quick_fixes(uri: str, lines: list[str], diagnostics, workspace) -> list[types.CodeAction]:
    out: list[types.CodeAction] = []
    for diag in diagnostics:
        data = diag.data if isinstance(diag.data, dict) else {}
        hints = data.get("hints") or []
        rng = diag.range
        if rng.start.line != rng.end.line or not 0 <= rng.start.line < len(lines):
            continue
        word = _text(lines[rng.start.line], rng, workspace)
        # Only where the diagnostic points at the misspelled name itself (K010 on a
        # hosts line points at `hosts`: replacing that would be wrong).
        if not word or f"'{word}'" not in diag.message:
            continue
        for hint in hints:
            for i, name in enumerate(suggested_names(str(hint))):
                if name == word:
                    continue
                edit = types.WorkspaceEdit(changes={uri: [types.TextEdit(rng, name)]})
                out.append(
                    types.CodeAction(
                        title=f"Change '{word}' to '{name}'",
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[diag],
                        edit=edit,
                        is_preferred=i == 0 or None,
                    )
                )
    return out


def _text(line: str, rng: types.Range, workspace) -> str:
    codec = workspace.position_codec
    server = codec.range_from_client_units(
        [line],
        types.Range(types.Position(0, rng.start.character), types.Position(0, rng.end.character)),
    )
    return line[server.start.character : server.end.character]
