"""`kostyorc lsp`: the language server for spec files, over stdio (docs/editors.md)."""

from __future__ import annotations

from kostyor_dsl.cli.errors import CliError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "lsp",
        help="run the language server for spec files (for editors, over stdio)",
        description=(
            "Speak the Language Server Protocol on stdin/stdout: diagnostics as you type, "
            "hover, go to definition, completion, formatting.  Needs the 'lsp' extra "
            "(pip install 'kostyor-dsl[lsp]').  See docs/editors.md."
        ),
    )
    parser.add_argument(
        "--stdio", action="store_true", help="talk over stdin/stdout (the default and only way)"
    )
    parser.set_defaults(func=run_lsp)


def run_lsp(args) -> int:
    try:
        from kostyor_dsl.lsp.server import serve
    except ModuleNotFoundError as exc:
        package = (exc.name or "").split(".")[0]
        if package not in ("pygls", "lsprotocol", "cattrs", "attrs"):
            raise
        raise CliError(
            f"the language server needs {package}: pip install 'kostyor-dsl[lsp]'"
        ) from None
    return serve()
