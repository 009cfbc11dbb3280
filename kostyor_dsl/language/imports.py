"""Finding spec files and following their imports: the first stage of resolution.

`import openstack` names a shipped spec (package data, so it works from an
installed wheel); `import "path.kostyor"` is relative to the importing file,
then to each folder of `KOSTYOR_PATH`.  What an import may read is confined
(a spec in CI comes from a pull request, and its diagnostics are published):
a regular `.kostyor` file of at most MAX_SPEC_BYTES, inside the root spec's
folder or a `KOSTYOR_PATH` folder once symlinks are followed.  Anything else
is refused before it is opened, or right after for what only an open can
tell (a FIFO), and nothing of its contents is shown.

Files are shown by names relative to the root spec's folder (`<KOSTYOR_PATH>/`
and the path in its folder for the search path, `<shipped>/` for shipped
specs), never by absolute paths, so plans and diagnostics are the same on
every machine.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from importlib import resources

from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import CompileError, DiagnosticSink, error, shown_line
from kostyor_dsl.language.parser import parse_spec
from kostyor_dsl.language.source_text import without_bom
from kostyor_dsl.language.suggest import did_you_mean

SHIPPED_PREFIX = "<shipped>"
SEARCH_PATH_PREFIX = "<KOSTYOR_PATH>"
SEARCH_PATH_VARIABLE = "KOSTYOR_PATH"
SPEC_SUFFIX = ".kostyor"
# Specs are a few kilobytes (the shipped one is 5 KiB): a bound, not a budget.
MAX_SPEC_BYTES = 1024 * 1024

Key = tuple[str, str]  # ("file", realpath) or ("shipped", name)


def shipped_specs() -> list[str]:
    folder = resources.files("kostyor_dsl") / "specs"
    return sorted(
        p.name[: -len(SPEC_SUFFIX)] for p in folder.iterdir() if p.name.endswith(SPEC_SUFFIX)
    )


def _shipped_text(name: str) -> str | None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    ref = resources.files("kostyor_dsl") / "specs" / f"{name}{SPEC_SUFFIX}"
    return without_bom(ref.read_text(encoding="utf-8")) if ref.is_file() else None


def import_search_path(environ=os.environ) -> tuple[str, ...]:
    """The folders of `KOSTYOR_PATH` (separated by os.pathsep), resolved."""
    return tuple(
        os.path.realpath(folder)
        for folder in environ.get(SEARCH_PATH_VARIABLE, "").split(os.pathsep)
        if folder
    )


@dataclass(frozen=True)
class Unit:
    """One spec file as loaded: where it is, how it is shown, its AST."""

    key: Key
    display: str
    text: str
    tree: ast.SpecFile | None


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # different drives
        return False


def _shown(target: str) -> str:
    """An import's path as quoted in a message: printable, not too long."""
    target = shown_line(target)
    return target if len(target) <= 80 else target[:77] + "..."


class Loader:
    """Loads a root spec and everything it imports, depth first in import order,
    without recursion (an import chain may be hundreds of files long)."""

    def __init__(
        self,
        sink: DiagnosticSink,
        root_dir: str | None,
        search_path: tuple[str, ...] | None = None,
    ):
        self.sink = sink
        self.root_dir = root_dir
        self.search_path = import_search_path() if search_path is None else search_path
        self.units: dict[Key, Unit] = {}
        self.order: list[Key] = []
        self.sources: dict[str, str] = {}

    def _display(self, key: Key) -> str:
        kind, where = key
        if kind == "shipped":
            return f"{SHIPPED_PREFIX}/{where}{SPEC_SUFFIX}"
        if self.root_dir is None or not _inside(where, self.root_dir):
            for folder in self.search_path:
                if _inside(where, folder):
                    rel = os.path.relpath(where, folder).replace(os.sep, "/")
                    return f"{SEARCH_PATH_PREFIX}/{rel}"
        base = self.root_dir or os.path.dirname(where)
        return os.path.relpath(where, base).replace(os.sep, "/")

    def load(self, key: Key, text: str) -> None:
        """Load the root spec `key` (its `text` already read) and its imports."""
        tree = self._enter(key, text)
        if tree is None:
            return
        chain = [key]  # the files being imported, root first: a cycle returns to one
        pending = [iter(_imports(tree))]
        while pending:
            item = next(pending[-1], None)
            if item is None:
                pending.pop()
                chain.pop()
                continue
            importer = chain[-1]
            target = self._locate(importer, item)
            if target is None:
                continue
            if target in chain:
                self._cycle(chain[chain.index(target) :], target, item)
                continue
            if target in self.units:
                continue
            text = self._text(target, item)
            if text is None:
                continue
            tree = self._enter(target, text)
            if tree is not None:
                chain.append(target)
                pending.append(iter(_imports(tree)))

    def _enter(self, key: Key, text: str) -> ast.SpecFile | None:
        display = self._display(key)
        self.sources[display] = text
        tree = None
        try:
            tree = parse_spec(text, display)
        except CompileError as exc:
            self.sink.extend(exc.diagnostics)
        self.units[key] = Unit(key, display, text, tree)
        self.order.append(key)
        return tree

    def _cycle(self, members: list[Key], target: Key, item: ast.Import) -> None:
        chain = [self._display(k) for k in members] + [self._display(target)]
        self.sink.add(
            error(
                "K004",
                "import cycle: " + " -> ".join(chain),
                item.span,
                hints=("move what both files need into a third file that both import",),
            )
        )

    # ------------------------------------------------------------ where an import is

    def _locate(self, importer: Key, item: ast.Import) -> Key | None:
        """The file or shipped spec an import names, or None with a diagnostic."""
        if not item.is_path:
            if _shipped_text(item.target) is None:
                self._no_shipped(item)
                return None
            return ("shipped", item.target)
        target = item.target
        if importer[0] == "shipped":
            return ("shipped", target.removesuffix(SPEC_SUFFIX))
        problem = _path_problem(target)
        if problem is not None:
            self._refuse(item, problem)
            return None
        folders = [os.path.dirname(importer[1])]
        if not os.path.isabs(target):
            folders += self.search_path
        for folder in folders:
            candidate = os.path.join(folder, target)
            try:
                if not os.path.lexists(candidate):
                    continue
                real = os.path.realpath(candidate)
            except (OSError, ValueError):
                continue
            allowed = [f for f in (self.root_dir, *self.search_path) if f]
            if not any(_inside(real, f) for f in allowed):
                self._refuse(
                    item,
                    "it is outside the root spec's folder"
                    + (" and the KOSTYOR_PATH folders" if self.search_path else ""),
                    "an import may read only .kostyor files in the root spec's folder "
                    f"(and below it) or in a folder listed in {SEARCH_PATH_VARIABLE}",
                )
                return None
            if not real.endswith(SPEC_SUFFIX):
                self._refuse(item, f"it leads to a file that is not a {SPEC_SUFFIX} file")
                return None
            return ("file", real)
        self.sink.add(
            error(
                "K003",
                f"cannot read imported file '{_shown(target)}': no such file",
                item.span,
                hints=(
                    "paths are relative to the importing file's folder"
                    + (f", then to each {SEARCH_PATH_VARIABLE} folder" if self.search_path else ""),
                ),
            )
        )
        return None

    def _text(self, key: Key, item: ast.Import) -> str | None:
        if key[0] == "shipped":
            text = _shipped_text(key[1])
            if text is None:
                self._no_shipped(item, key[1])
            return text
        text, problem = read_spec_file(key[1], regular_only=True)
        if problem in (NOT_REGULAR, TOO_LARGE):
            self._refuse(item, problem)
        elif problem is not None:
            self.sink.add(
                error(
                    "K003",
                    f"cannot read imported file '{_shown(item.target)}': {problem}",
                    item.span,
                )
            )
        return text

    def _refuse(self, item: ast.Import, why: str, *hints: str) -> None:
        self.sink.add(
            error(
                "K006",
                f"import of '{_shown(item.target)}' refused: {why}",
                item.span,
                hints=hints
                or (
                    f"an import reads a regular {SPEC_SUFFIX} file of at most "
                    f"{MAX_SPEC_BYTES // (1024 * 1024)} MiB",
                ),
            )
        )

    def _no_shipped(self, item: ast.Import, name: str | None = None) -> None:
        name = item.target if name is None else name
        self.sink.add(
            error(
                "K003",
                f"no shipped spec named '{_shown(name)}'",
                item.span,
                hints=did_you_mean(name, shipped_specs())
                or (
                    "shipped specs: " + ", ".join(shipped_specs()),
                    'to import a file, quote its path: import "path/to/file.kostyor"',
                ),
            )
        )


def _imports(tree: ast.SpecFile) -> list[ast.Import]:
    return [item for item in tree.items if isinstance(item, ast.Import)]


def _path_problem(target: str) -> str | None:
    """What makes an import's path unusable before looking at the file system."""
    if "\0" in target:
        return "a path cannot hold a NUL character"
    if not target.endswith(SPEC_SUFFIX):
        return f"an import names a {SPEC_SUFFIX} file"
    if any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in target.split("/")):
        return "a name in the path is longer than a file system allows (255 bytes)"
    return None


NOT_REGULAR = "it is not a regular file"
TOO_LARGE = f"it is larger than {MAX_SPEC_BYTES // (1024 * 1024)} MiB"


def read_spec_file(
    path: str, regular_only: bool, strip_bom: bool = True
) -> tuple[str | None, str | None]:
    """(text, None), or (None, why not): UTF-8 text of at most MAX_SPEC_BYTES, without
    its byte order mark.  With `regular_only` (imports), a FIFO or a device is
    refused when opened, without waiting or reading; the root spec named on the
    command line may be one (`<(generate-spec)`), still bounded."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    if regular_only:  # the path is already resolved: its last part is no symlink
        flags |= getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError) as exc:
        return None, _reason(exc)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return None, "it is a folder"
        regular = stat.S_ISREG(info.st_mode)
        if regular_only and not regular:
            return None, NOT_REGULAR
        if regular and info.st_size > MAX_SPEC_BYTES:
            return None, TOO_LARGE
        chunks = []
        size = 0
        while size <= MAX_SPEC_BYTES:
            chunk = os.read(fd, MAX_SPEC_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_SPEC_BYTES:
            return None, TOO_LARGE
    except OSError as exc:
        return None, _reason(exc)
    finally:
        os.close(fd)
    try:
        text = b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        return None, "it is not UTF-8 text"
    return (without_bom(text) if strip_bom else text), None


def _reason(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, ValueError):
        return "a path cannot hold a NUL character"
    return (getattr(exc, "strerror", None) or str(exc)).lower()


def locate_spec(spec: str) -> tuple[Key, str]:
    """Find a spec given on the command line: a path, or the name of a shipped spec."""
    if "\0" not in spec and (os.path.exists(spec) or os.sep in spec or spec.endswith(SPEC_SUFFIX)):
        path = os.path.realpath(spec)
        text, reason = read_spec_file(path, regular_only=False)
        if text is None:
            hints = ("shipped specs can be named directly: " + ", ".join(shipped_specs()),)
            raise CompileError(
                [
                    error(
                        "K003",
                        f"cannot read spec '{_shown(spec)}': {reason}",
                        subject=_shown(spec),
                        hints=hints,
                    )
                ]
            )
        return ("file", path), text
    text = _shipped_text(spec)
    if text is None:
        raise CompileError(
            [
                error(
                    "K003",
                    f"no spec file or shipped spec named '{_shown(spec)}'",
                    subject=_shown(spec),
                    hints=did_you_mean(spec, shipped_specs()),
                )
            ]
        )
    return ("shipped", spec), text
