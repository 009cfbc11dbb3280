"""Spans (1-based lines and columns, in code points) <-> LSP ranges (0-based, client units).

Lines are split on `\\n` only, as the spec lexer counts them: `str.splitlines`
would also break at form feeds and other separators and shift every line
after one.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from kostyor_dsl.language.diagnostics import Span


def split_lines(text: str) -> list[str]:
    return text.split("\n")


def span_range(span: Span, lines: list[str] | None, codec: PositionCodec) -> types.Range:
    start = types.Position(max(span.line - 1, 0), max(span.column - 1, 0))
    end = types.Position(max(span.end_line - 1, 0), max(span.end_column - 1, 0))
    if end.line < start.line or (end.line == start.line and end.character < start.character):
        end = start
    server_range = types.Range(start, end)
    if lines is None:  # a file not open in the editor: code points are what we have
        return server_range
    return codec.range_to_client_units(_padded(lines, end.line), server_range)


def client_position(position: types.Position, lines: list[str], codec: PositionCodec):
    """An LSP position -> the 1-based (line, column) of spans."""
    server = codec.position_from_client_units(_padded(lines, position.line), position)
    return server.line + 1, server.character + 1


def _padded(lines: list[str], last: int) -> list[str]:
    return lines if last < len(lines) else [*lines, *[""] * (last - len(lines) + 1)]
