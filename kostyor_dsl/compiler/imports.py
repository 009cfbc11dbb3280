"""Finding spec files and following their imports: the first stage of resolution.

`import openstack` names a shipped spec (package data, so it works from an
installed wheel); `import "path.kostyor"` is relative to the importing file.
Files are shown by names relative to the root spec's folder, never by
absolute paths, so plans and diagnostics are the same on every machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources

from kostyor_dsl.compiler import ast
from kostyor_dsl.compiler.diagnostics import CompileError, DiagnosticSink, error
from kostyor_dsl.compiler.parser import parse_spec
from kostyor_dsl.compiler.suggest import did_you_mean

SHIPPED_PREFIX = "<shipped>"
SPEC_SUFFIX = ".kostyor"


def shipped_specs() -> list[str]:
    folder = resources.files("kostyor_dsl") / "specs"
    return sorted(
        p.name[: -len(SPEC_SUFFIX)] for p in folder.iterdir() if p.name.endswith(SPEC_SUFFIX)
    )


def _shipped_text(name: str) -> str | None:
    ref = resources.files("kostyor_dsl") / "specs" / f"{name}{SPEC_SUFFIX}"
    return ref.read_text(encoding="utf-8") if ref.is_file() else None


@dataclass(frozen=True)
class Unit:
    """One spec file as loaded: where it is, how it is shown, its AST."""

    key: tuple[str, str]  # ("file", realpath) or ("shipped", name)
    display: str
    text: str
    tree: ast.SpecFile | None


class Loader:
    def __init__(self, sink: DiagnosticSink, root_dir: str | None):
        self.sink = sink
        self.root_dir = root_dir
        self.units: dict[tuple[str, str], Unit] = {}
        self.order: list[tuple[str, str]] = []
        self.sources: dict[str, str] = {}

    def _display(self, key: tuple[str, str]) -> str:
        kind, where = key
        if kind == "shipped":
            return f"{SHIPPED_PREFIX}/{where}{SPEC_SUFFIX}"
        base = self.root_dir or os.path.dirname(where)
        return os.path.relpath(where, base).replace(os.sep, "/")

    def load(self, key: tuple[str, str], text: str, stack: tuple[tuple[str, str], ...]) -> None:
        if key in self.units:
            return
        display = self._display(key)
        self.sources[display] = text
        tree = None
        try:
            tree = parse_spec(text, display)
        except CompileError as exc:
            self.sink.extend(exc.diagnostics)
        self.units[key] = Unit(key, display, text, tree)
        self.order.append(key)
        if tree is None:
            return
        for item in tree.items:
            if isinstance(item, ast.Import):
                self._follow(key, item, (*stack, key))

    def _follow(self, importer: tuple[str, str], item: ast.Import, stack) -> None:
        if item.is_path:
            if importer[0] == "shipped":
                base = None
                text = _shipped_text(item.target.removesuffix(SPEC_SUFFIX))
                key = ("shipped", item.target.removesuffix(SPEC_SUFFIX))
            else:
                base = os.path.dirname(importer[1])
                path = os.path.realpath(os.path.join(base, item.target))
                key = ("file", path)
                text = _read(path)
        else:
            key = ("shipped", item.target)
            text = _shipped_text(item.target)
        if key in stack:
            chain = [self._display(k) for k in stack[stack.index(key) :]] + [self._display(key)]
            self.sink.add(
                error(
                    "K004",
                    "import cycle: " + " -> ".join(chain),
                    item.span,
                    hints=("move what both files need into a third file that both import",),
                )
            )
            return
        if text is None:
            hints: tuple[str, ...] = ()
            if item.is_path:
                message = f"cannot read imported file '{item.target}'"
                hints = ("paths are relative to the importing file's folder",)
            else:
                message = f"no shipped spec named '{item.target}'"
                hints = did_you_mean(item.target, shipped_specs()) or (
                    "shipped specs: " + ", ".join(shipped_specs()),
                    'to import a file, quote its path: import "path/to/file.kostyor"',
                )
            self.sink.add(error("K003", message, item.span, hints=hints))
            return
        self.load(key, text, stack)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


def locate_spec(spec: str) -> tuple[tuple[str, str], str]:
    """Find a spec given on the command line: a path, or the name of a shipped spec."""
    if os.path.exists(spec) or os.sep in spec or spec.endswith(SPEC_SUFFIX):
        path = os.path.realpath(spec)
        text = _read(path)
        if text is None:
            if not os.path.exists(path):
                reason = "no such file"
            elif os.path.isdir(path):
                reason = "it is a folder"
            else:
                reason = "cannot read it as UTF-8 text"
            hints = ("shipped specs can be named directly: " + ", ".join(shipped_specs()),)
            raise CompileError(
                [error("K003", f"cannot read spec '{spec}': {reason}", subject=spec, hints=hints)]
            )
        return ("file", path), text
    text = _shipped_text(spec)
    if text is None:
        raise CompileError(
            [
                error(
                    "K003",
                    f"no spec file or shipped spec named '{spec}'",
                    subject=spec,
                    hints=did_you_mean(spec, shipped_specs()),
                )
            ]
        )
    return ("shipped", spec), text
