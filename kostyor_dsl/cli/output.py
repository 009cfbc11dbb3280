"""The one writer behind every `-o FILE`.

A plan, an inventory or a generated file is written so that a reader never
sees half of it and a failed command leaves the old file as it was: into a
temporary file beside the target, then renamed over it.  That is only right
for a regular file or a new path.  Anything else is written in place: a
device or a FIFO (`-o /dev/null` must never replace the device, as it would
for root), and `-` or no path means standard output.  A symlink is followed,
so the file it points to is replaced, not the link; an existing file keeps
its permission bits.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from typing import TextIO, TypeVar

from kostyor_dsl.cli.errors import CliError

T = TypeVar("T")


def write_output(path: str | None, write: Callable[[TextIO], T]) -> T:
    """Call `write(stream)` on the right stream for `path` and return what it returns."""
    if path is None or path == "-":
        return write(sys.stdout)
    target = os.path.realpath(path)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise CliError(f"cannot write '{path}': {exc.strerror}") from None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        if stat.S_ISDIR(existing.st_mode):
            raise CliError(f"cannot write '{path}': it is a folder")
        return _write_in_place(path, target, write)
    return _write_atomically(path, target, existing, write)


def _write_in_place(path: str, target: str, write: Callable[[TextIO], T]) -> T:
    try:
        with open(target, "w", encoding="utf-8", newline="\n") as stream:
            return write(stream)
    except OSError as exc:
        raise CliError(f"cannot write '{path}': {exc.strerror}") from None


def _write_atomically(
    path: str, target: str, existing: os.stat_result | None, write: Callable[[TextIO], T]
) -> T:
    folder = os.path.dirname(target)
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".kostyorc-", suffix=".tmp")
    except OSError as exc:
        raise CliError(f"cannot write '{path}': {exc.strerror}") from None
    try:
        if existing is not None:
            mode = stat.S_IMODE(existing.st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            result = write(stream)
        os.replace(temporary, target)
    except OSError as exc:
        _remove(temporary)
        raise CliError(f"cannot write '{path}': {exc.strerror}") from None
    except BaseException:
        _remove(temporary)
        raise
    return result


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
