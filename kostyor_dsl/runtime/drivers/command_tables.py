"""Command tables: which command a deployment tool runs for which step, as package data.

Each table (`runtime/drivers/commands/<tool>.yaml`) names its source (the
tool's upgrade guide and scripts, with the branch read) and, for every
command, the guide line it follows.  Building a command from a template is a
pure function (`fill`), tested exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import yaml


@functools.cache
def load_table(tool: str) -> Mapping[str, Any]:
    """The command table of `tool`, read once from package data."""
    ref = resources.files("kostyor_dsl") / "runtime" / "drivers" / "commands" / f"{tool}.yaml"
    return yaml.safe_load(ref.read_text(encoding="utf-8"))


def fill(template: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """The argv of `template` with `{name}` words filled in from `values`.

    A word that is exactly one placeholder whose value is empty is left out, and
    so is the option just before it (`-t {project}` without a project: the
    command covers every project).  Values are never split or re-parsed: each
    stays one argument.
    """
    argv: list[str] = []
    for word in template:
        if word.startswith("{") and word.endswith("}") and word.count("{") == 1:
            value = values.get(word[1:-1], "")
            if not value:
                if argv and argv[-1].startswith("-"):
                    argv.pop()
                continue
            argv.append(value)
            continue
        argv.append(word.format_map(values) if "{" in word else word)
    return argv
