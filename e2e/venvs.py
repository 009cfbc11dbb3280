"""Build (once) and cache one virtualenv per OpenStack release.

The cache lives under ``$KOSTYOR_E2E_CACHE`` (default ``~/.cache/kostyor-e2e``);
a virtualenv is reused when its key (python, packages, constraints) matches and
its ``.complete`` marker exists.  A lock file serialises concurrent builds.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from e2e.releases import CONSTRAINTS_URL, Release, release

PYTHON = os.environ.get("KOSTYOR_E2E_PYTHON", "python3.11")
PIP_VERSION = "pip==25.2"
BUILD_TIMEOUT = 1800


def cache_root() -> Path:
    root = os.environ.get("KOSTYOR_E2E_CACHE") or str(Path.home() / ".cache" / "kostyor-e2e")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def constraints(rel: Release) -> Path:
    shipped = rel.constraints_file()
    if shipped is not None:
        return shipped
    target = cache_root() / "constraints" / f"uc-{rel.name}.txt"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        url = CONSTRAINTS_URL.format(release=rel.name)
        with urllib.request.urlopen(url, timeout=60) as resp:
            data = resp.read()
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target


def _key(rel: Release, uc: Path) -> str:
    h = hashlib.sha256()
    h.update(PYTHON.encode())
    h.update(PIP_VERSION.encode())
    h.update("\n".join([*rel.requirements(), f"neutron=={rel.neutron}"]).encode())
    h.update(uc.read_bytes())
    return h.hexdigest()[:12]


def _run(cmd: list[str], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed (rc {proc.returncode}); see {log}")


def ensure_venv(name: str, *, echo=print) -> Path:
    """Return the path of a complete virtualenv for release ``name``, building it if needed."""
    rel = release(name)
    uc = constraints(rel)
    root = cache_root() / "venvs"
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"{rel.name}-{_key(rel, uc)}"
    marker = venv / ".complete"
    with (root / f".{rel.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return venv
        if venv.exists():
            shutil.rmtree(venv)
        log = root / f"{venv.name}.log"
        log.write_text("")
        started = time.monotonic()
        echo(f"building the {rel.name} virtualenv in {venv} (log: {log})")
        _run([PYTHON, "-m", "venv", str(venv)], log)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        _run([*pip, "install", "-U", PIP_VERSION, "setuptools", "wheel"], log)
        _run([*pip, "install", "-c", str(uc), *rel.requirements()], log)
        # neutron-server (ML2, no agents) answers nova's network calls; it is
        # optional: without it the harness falls back to its stand-in.
        try:
            _run([*pip, "install", "-c", str(uc), f"neutron=={rel.neutron}"], log)
            (venv / ".neutron").write_text(rel.neutron)
        except RuntimeError as exc:
            echo(f"neutron {rel.neutron} did not install ({exc}); the stand-in will answer")
        marker.write_text(f"{time.time()}\n")
        echo(f"{rel.name} virtualenv ready in {time.monotonic() - started:.0f} s")
        return venv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="build the cached release virtualenvs")
    parser.add_argument("releases", nargs="+")
    args = parser.parse_args(argv)
    for name in args.releases:
        print(ensure_venv(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
