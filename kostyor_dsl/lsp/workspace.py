"""Checking a spec as an editor holds it: unsaved text, and where each file lives.

`kostyorc check` reads a spec from disk; a language server has the text of
the buffer being edited.  `check_text` runs the same stages as
`compiler.check` on that text (imports are read from disk, relative to the
buffer's path), and keeps what an editor needs besides the diagnostics: every
file loaded with its AST, the model resolved so far even when there are
errors, and how to get from a diagnostic's file name back to a path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources

from kostyor_dsl.compiler.api import Report, check_resolved
from kostyor_dsl.compiler.model import Spec
from kostyor_dsl.compiler.resolve import resolve_text
from kostyor_dsl.gc_paused import gc_paused
from kostyor_dsl.inventory.model import InventoryCheck
from kostyor_dsl.language import ast
from kostyor_dsl.language.imports import SHIPPED_PREFIX, SPEC_SUFFIX, Unit


@dataclass(frozen=True)
class TextCheck:
    """What `check_text` found, and the files behind it."""

    report: Report
    units: tuple[Unit, ...]  # every spec file loaded, the root first
    partial: Spec | None  # the model as far as it resolved (None: the root did not parse)
    path: str  # the root's real path
    inventory: str | None = None

    @property
    def root(self) -> Unit | None:
        return self.units[0] if self.units else None

    def path_of(self, display: str) -> str | None:
        """The file behind a name in diagnostics and spans (`team/common.kostyor`,
        `<shipped>/kostyor.kostyor`, the inventory's base name)."""
        if self.root is not None and display == self.root.display:
            return self.path
        for unit in self.units:
            if unit.display == display:
                kind, where = unit.key
                return shipped_spec_path(where) if kind == "shipped" else where
        if self.inventory is not None and display == os.path.basename(self.inventory):
            return self.inventory
        return None

    def unit_for(self, display: str) -> Unit | None:
        return next((u for u in self.units if u.display == display), None)

    def imported_unit(self, importer: Unit, item: ast.Import) -> Unit | None:
        """The file an import statement loaded (None when it could not be read)."""
        key = import_key(importer.key, item)
        return next((u for u in self.units if u.key == key), None)


def check_text(
    text: str,
    path: str,
    inventory: str | None = None,
    strategy: str | None = None,
    inventory_check: InventoryCheck | None = None,
) -> TextCheck:
    """Check unsaved spec text as if it were the file at `path` (which need not exist).

    The diagnostics are those `compiler.check(path, inventory, strategy)` gives
    once the text is saved there (`inventory_check`: the inventory already read, as
    lsp.inventory_access reads it).  Never raises for bad input."""
    real = os.path.realpath(path)
    with gc_paused():
        spec_check = resolve_text(("file", real), text)
        report = check_resolved(spec_check, inventory, strategy, inventory_check=inventory_check)
    return TextCheck(report, spec_check.units, spec_check.partial, real, inventory)


def import_key(importer: tuple[str, str], item: ast.Import) -> tuple[str, str]:
    """Which file an import names, as the loader keys it (imports.Loader._follow)."""
    target = item.target.removesuffix(SPEC_SUFFIX) if item.is_path else item.target
    if not item.is_path or importer[0] == "shipped":
        return ("shipped", target)
    base = os.path.dirname(importer[1])
    return ("file", os.path.realpath(os.path.join(base, item.target)))


def shipped_spec_path(name: str) -> str | None:
    """The installed file of a shipped spec, for an editor to open (None if there is none)."""
    ref = resources.files("kostyor_dsl") / "specs" / f"{name}{SPEC_SUFFIX}"
    if not ref.is_file():
        return None
    try:
        return os.fspath(ref)
    except TypeError:  # a package inside a zip file: no path to open
        return None


def shipped_display(name: str) -> str:
    return f"{SHIPPED_PREFIX}/{name}{SPEC_SUFFIX}"
