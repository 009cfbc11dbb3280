from __future__ import annotations

import platform

import yaml

import kostyor_dsl


def version_text() -> str:
    loader = (
        "libyaml (C)"
        if getattr(yaml, "__with_libyaml__", False)
        else ("pure Python (libyaml not found: YAML inventories load slower)")
    )
    return (
        f"kostyorc {kostyor_dsl.__version__} (Python {platform.python_version()}; YAML: {loader})"
    )
