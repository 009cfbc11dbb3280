"""A `hosts` block whose hosts an earlier block already holds is an error (K077):
its settings would otherwise silently not apply (checker finding on issue 19)."""

from __future__ import annotations

import pytest

from kostyor_dsl.compiler import CompileError, compile_plan

GENTLE_OLD_STYLE = """\
import openstack

strategy gentle extends rolling-computes {
  hosts compute {
    batch  1, 2
  }
}
"""

GENTLE = GENTLE_OLD_STYLE.replace("hosts compute", "hosts service=nova-compute")


def _write(tmp_path, spec: str) -> tuple[str, str]:
    (tmp_path / "gentle.kostyor").write_text(spec)
    hosts = ["- name: ctl1\n  services: [mariadb, rabbitmq, keystone, nova-api, nova-conductor]"]
    hosts += [f"- name: cmp{i}\n  services: [nova-compute]" for i in range(1, 11)]
    (tmp_path / "inv.yaml").write_text("hosts:\n" + "\n".join(hosts) + "\n")
    return str(tmp_path / "gentle.kostyor"), str(tmp_path / "inv.yaml")


def test_a_block_shadowed_by_the_inherited_hypervisor_block_is_an_error(tmp_path):
    spec, inv = _write(tmp_path, GENTLE_OLD_STYLE)
    with pytest.raises(CompileError) as caught:
        compile_plan(spec, inv, strategy="gentle")
    [d] = [d for d in caught.value.diagnostics if d.code == "K077"]
    assert d.severity.value == "error"
    assert d.message == (
        "hosts compute selects only hosts that the earlier block hosts service=nova-compute "
        "already holds; its settings would not apply"
    )
    assert (d.span.line, d.span.column) == (4, 3)
    assert "hosts service=nova-compute { ... }" in d.hints[-1]


def test_the_same_block_with_the_inherited_selectors_merges(tmp_path):
    spec, inv = _write(tmp_path, GENTLE)
    plan = compile_plan(spec, inv, strategy="gentle").plan
    [group] = [g for g in plan["groups"] if "nova-compute" in g["name"]]
    # The inherited hooks are kept and the new ramp applies: 10 hypervisors in
    # 1, 2, 2, 2, 2, 1 (within the budget's 20%).
    batches = {s["batch"] for s in plan["steps"] if s.get("group") == group["name"]}
    assert batches == {1, 2, 3, 4, 5, 6}
    evacuated = {s["hosts"][0] for s in plan["steps"] if s.get("action") == "evacuate"}
    assert evacuated == {f"cmp{i}" for i in range(1, 11)}


def test_a_block_shadowed_inside_its_own_strategy_stays_a_warning(tmp_path):
    """The shipped rolling-computes on a cloud whose every controller is also a
    hypervisor: its own `hosts controller` block holds nothing, which is no mistake."""
    (tmp_path / "inv.yaml").write_text(
        "hosts:\n"
        + "".join(
            f"- name: hc{i}\n  services: [mariadb, rabbitmq, keystone, nova-api, nova-compute]\n"
            for i in range(1, 6)
        )
    )
    compiled = compile_plan("openstack", str(tmp_path / "inv.yaml"), strategy="rolling-computes")
    codes = [d.code for d in compiled.warnings]
    assert "K077" not in codes
    assert "K037" in codes
