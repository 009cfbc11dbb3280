"""End-to-end harness: a real OpenStack on this machine, upgraded by kostyorc.

Run it with ``.ci/e2e`` (or ``python -m e2e``); see docs/e2e.md.
"""
