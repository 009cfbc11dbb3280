"""Package data (grammar, shipped specs, schemas, templates) loads from an installed wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from support import EXAMPLES, ROOT


def test_wheel_carries_package_data_and_works_installed(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            wheels,
            ROOT,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("kostyor_dsl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "kostyor_dsl/grammar/kostyor.lark",
        "kostyor_dsl/specs/kostyor.kostyor",
        "kostyor_dsl/specs/openstack.kostyor",
        "kostyor_dsl/schemas/plan.schema.json",
        "kostyor_dsl/schemas/inventory.schema.json",
        "kostyor_dsl/templates/celery.py.j2",
        "kostyor_dsl/importers/names/kolla-ansible.yaml",
        "kostyor_dsl/importers/names/openstack-ansible.yaml",
        "kostyor_dsl/web/templates/run.html.j2",
        "kostyor_dsl/web/templates/runs.html.j2",
        "kostyor_dsl/web/static/view.js",
        "kostyor_dsl/web/static/view.css",
    ):
        assert required in names
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, wheel],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import kostyor_dsl; assert kostyor_dsl.__file__.startswith(sys.argv[1]), kostyor_dsl.__file__;"
        "from kostyor_dsl.cli import main; sys.exit(main(['compile', 'kostyor', '-i', sys.argv[2], '--format', 'json']))"
    )
    # Run from an empty folder so nothing comes from the checkout.
    run = subprocess.run(
        [sys.executable, "-I", "-c", script, str(target), str(EXAMPLES / "design-doc.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert '"id": "keystone-wsgi-admin@node-c"' in run.stdout
