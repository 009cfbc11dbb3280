"""kostyor_dsl: a declarative language and compiler for OpenStack rolling-upgrade plans."""

__version__ = "0.1.0"
