"""`--plot`: a PNG and an SVG a person can read (matplotlib, the `plot` extra)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

matplotlib = pytest.importorskip("matplotlib")  # in the `test` extra: CI always has it

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_png_is_a_real_image(cli, plan_file, rolling_plan, tmp_path):
    from matplotlib import image

    target = tmp_path / "window.png"
    code, out, err = cli("simulate", plan_file(rolling_plan), "--plot", target)
    assert (code, err) == (0, "") and out.startswith("simulation:")
    data = target.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    pixels = image.imread(str(target))
    height, width = pixels.shape[:2]
    assert width > 600 and height > 400
    # Not a blank canvas: the bars and the panels draw many colours.
    assert len({tuple(p) for p in pixels.reshape(-1, pixels.shape[2])[::97]}) > 10


def test_svg_parses_as_xml_names_the_hosts_and_is_deterministic(
    cli, plan_file, rolling_plan, tmp_path
):
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    path = plan_file(rolling_plan)
    assert cli("simulate", path, "--plot", first)[0] == 0
    assert cli("simulate", path, "--plot", second)[0] == 0
    root = ElementTree.parse(first).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = first.read_text()
    # Text is drawn as glyphs; the labels are in the SVG's comments and ids.
    for label in ("ctl-1", "cmp-4", "sto-2", "tier compute", "window 1:06:00"):
        assert label in text
    assert first.read_bytes() == second.read_bytes()


def test_a_large_plan_draws_one_row_per_group(tmp_path):
    from simulate_support import batch_plan

    from kostyor_dsl.simulate import Timings, simulate_plan
    from kostyor_dsl.simulate.plot import _timeline

    plan = batch_plan([f"h{i}" for i in range(100)], ("nova-compute",))
    result = simulate_plan(plan, Timings(), 10)
    rows, bars, _ = _timeline(result)
    assert rows == ["compute: 1 batch, 100 hosts"]
    assert bars == [(0, [(0.0, 600.0)], "group compute")]
