"""What is installed here, by entry point name only: nothing is imported.

Drivers (`kostyor_dsl.drivers`) run on the deploy host, which may have one
this machine lacks, so the compiler only warns about an unknown driver;
engines (`kostyor_dsl.engines`) run in the compiler, which loads the chosen
one when it compiles a plan.
"""

from __future__ import annotations

DRIVER_GROUP = "kostyor_dsl.drivers"
ENGINE_GROUP = "kostyor_dsl.engines"
# The drivers this package registers itself (pyproject.toml; a test keeps them in
# step): a spec naming one needs no look at the installed distributions, which
# costs `kostyorc check` the import of importlib.metadata and a scan.
SHIPPED_DRIVERS = ("noop", "shell")


def installed(group: str) -> tuple[str, ...]:
    """The names registered in an entry point group, sorted."""
    from importlib.metadata import entry_points

    return tuple(sorted({ep.name for ep in entry_points(group=group)}))
