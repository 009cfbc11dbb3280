"""What inventory the language server agrees to read.

A spec comment (`# kostyor: inventory=...`) or a committed editor setting is
enough to name a file, so a spec from someone else's repository must not be
able to make the server read what it likes: /etc/shadow (its lines would come
back as diagnostics), /dev/stdin (the server's own JSON-RPC stream), a FIFO
(blocks the server's only thread), /dev/zero (never ends).  The server reads
an inventory only when it is:

- inside a workspace folder or the spec's own folder (after symlinks are
  resolved);
- a regular file, opened non-blocking (a FIFO swapped in after the check
  cannot block the open), checked on the open descriptor;
- at most `MAX_BYTES` long;
- an inventory: a mapping with `hosts` at the top level.  Anything else is
  refused with a message that quotes none of its content.

`kostyorc check -i FILE` on the command line is not confined: there the user
names the file.
"""

from __future__ import annotations

import os
import stat

from kostyor_dsl.inventory.documents import DocumentError, load_document, strip_bom
from kostyor_dsl.inventory.model import InventoryCheck
from kostyor_dsl.inventory.read import parse_inventory

MAX_BYTES = 32 * 1024 * 1024  # ~250,000 hosts; far beyond what an editor checks as typed

HINT = (
    "the language server reads an inventory only inside the workspace folder or the "
    "spec's folder, a regular file of at most 32 MiB with `hosts:` at the top level"
)


def inside(path: str, folders: list[str]) -> bool:
    real = os.path.realpath(path)
    for folder in folders:
        base = os.path.realpath(folder)
        if real == base or real.startswith(base.rstrip(os.sep) + os.sep):
            return True
    return False


def read_confined(path: str, folders: list[str]) -> InventoryCheck | str:
    """The inventory at `path` read and checked, or why it is refused (a sentence that
    quotes nothing of the file)."""
    if not inside(path, folders):
        return "it is outside the workspace folder and the spec's folder"
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(os.path.realpath(path), flags)
    except OSError as exc:
        return f"it cannot be opened: {exc.strerror or type(exc).__name__}"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "it is not a regular file"
        if info.st_size > MAX_BYTES:
            return f"it is larger than {MAX_BYTES // (1024 * 1024)} MiB"
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_BYTES:  # it grew while being read
            return f"it is larger than {MAX_BYTES // (1024 * 1024)} MiB"
    except OSError as exc:
        return f"it cannot be read: {exc.strerror or type(exc).__name__}"
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if not _is_inventory(raw):
        return "it is not an inventory (a YAML or JSON mapping with `hosts:` at the top level)"
    return parse_inventory(raw, os.path.basename(path))


def _is_inventory(raw: bytes) -> bool:
    """A mapping with `hosts` at the top level.  A document that does not parse counts
    when it starts like one (its own diagnostics then say where it is broken)."""
    try:
        text = strip_bom(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return False
    try:
        document = load_document(text)
    except (DocumentError, RecursionError):
        return _starts_with_hosts(text)
    return isinstance(document, dict) and "hosts" in document


def _starts_with_hosts(text: str) -> bool:
    return any(
        line.startswith("hosts:") or line.lstrip().startswith(('{"hosts"', '"hosts"'))
        for line in text.splitlines()
    )
