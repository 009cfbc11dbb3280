"""The operator's Kolla-Ansible values (globals.yml, a --names file), checked before use.

They come from operators' repositories and pull requests: every value of
globals.yml is evaluated up front in the sandbox (`ansible_vars`), and one
that breaks a limit, fails its arithmetic, holds a `{% %}` statement, or an
`enable_` that is not a boolean, is an error at its line (K091) rather than
a traceback, code run, or a project silently left out.
"""

from __future__ import annotations

import os
import re

from kostyor_dsl.importers.ansible_vars import (
    EvaluationError,
    Variables,
    refuse_statements,
    to_bool,
)
from kostyor_dsl.importers.result import ImportFailed
from kostyor_dsl.language.diagnostics import Span, error

HARD_HINT = (
    "Kolla-Ansible's values are booleans, names and simple `{{ expressions }}`; "
    "the import evaluates them in a sandbox, with limits"
)


def hard_error(what: str, exc: EvaluationError, subject: str):
    return error(
        "K091", f"{what} cannot be evaluated safely: {exc}", subject=subject, hints=(HARD_HINT,)
    )


def _key_span(text: str, display: str, key: str) -> Span | None:
    """The line of a top-level `key:` of a YAML file."""
    m = re.search(r"^['\"]?" + re.escape(key) + r"['\"]?\s*:", text, re.M)
    if m is None:
        return None
    line = text.count("\n", 0, m.start()) + 1
    return Span(display, line, 1, line, 1 + len(key))


def check_globals(builder, raw: dict, variables: Variables, display: str, text: str) -> None:
    """Every value of globals.yml evaluated now, in the sandbox: one that breaks a limit
    or fails its arithmetic, or an `enable_` that is not a boolean, is an error at its
    line (never a project silently left out)."""
    for key, value in raw.items():
        key = str(key)
        try:
            refuse_statements(value)
            rendered = variables[key]
            if key.startswith("enable_"):
                to_bool(rendered)
        except EvaluationError as exc:
            if not exc.hard:
                continue  # it needs a host's variables: judged where it is used
            builder.add(
                error(
                    "K091",
                    f"{key}: {exc}",
                    _key_span(text, display, key),
                    subject=key,
                    hints=(HARD_HINT,),
                )
            )


def refuse_unsafe_table(table: dict, names_file: str | None) -> None:
    """A --names file's Kolla sections hold no `{% %}` statement (the shipped table has none)."""
    if names_file is None:
        return
    for section in ("roles", "services", "defaults", "play_defaults"):
        for key, value in table.get(section, {}).items():
            try:
                refuse_statements(value)
            except EvaluationError as exc:
                display = os.path.basename(names_file)
                raise ImportFailed(
                    [
                        error(
                            "K091",
                            f"names file, {section}.{key}: {exc}",
                            subject=display,
                            hints=(HARD_HINT,),
                        )
                    ]
                ) from None
