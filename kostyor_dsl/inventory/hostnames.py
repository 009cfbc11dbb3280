"""What a host name may be.

Host names end up as arguments of ssh, ansible and the deployment tools; a
name such as `-oProxyCommand=...` is read by ssh as an option even when it is
quoted.  So a host name must be a host name: RFC 1123 labels (letters, digits
and `-`, 1-63 characters, neither starting nor ending with `-`) joined by
dots, at most 253 characters.  Checked when an inventory is read, by the
importers, and again by the runtime before a driver sees a name.
"""

from __future__ import annotations

import re

_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")


def host_name_problem(name: object) -> str | None:
    """None for a valid host name, else what is wrong with it (one short phrase)."""
    if not isinstance(name, str):
        return "a host name must be a string"
    if not name:
        return "a host name must not be empty"
    if len(name) > 253:
        return "a host name is at most 253 characters"
    if name.startswith("-"):
        return "a host name must not start with '-' (a command would read it as an option)"
    for label in name.split("."):
        if not _LABEL.match(label):
            return (
                "a host name is made of labels of letters, digits and '-' "
                "(1-63 characters, not starting or ending with '-') joined by '.'"
            )
    return None
