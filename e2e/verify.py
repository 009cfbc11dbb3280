"""The checks of a run, as grenade makes them and beyond, and the summary.

Every check reads what was recorded (kostyorc's run record, the API probe's
samples, nova's database samples) after the fact; none waits on time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

# A sample is taken about once a second: an event seen in a sample happened at
# most this long before it.
SLACK = 2.5
# Which steps may take an API down: its own restart; keystone's restart takes
# every API's token validation with it.
RESTARTS = {
    "keystone": ({"keystone"}, set()),
    "placement": ({"placement-api"}, {"keystone"}),
    "glance": ({"glance-api"}, {"keystone"}),
    "nova": ({"nova-api"}, {"keystone"}),
}
RELOADS = {"nova": {"nova-reload-services"}}


@dataclass
class Report:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append((name, ok, detail))

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


def ts(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


def service_versions(cloud) -> dict[str, int]:
    out = cloud._mysql(
        f"SELECT host, version FROM `{cloud.db('nova')}`.services "
        "WHERE deleted=0 AND `binary`='nova-compute'"
    )
    return {h: int(v) for h, v in (line.split("\t") for line in out.splitlines() if line)}


def canary_ok(cloud, document: dict, expected: int | None) -> None:
    """Before resuming past the canary gate: the canary compute runs the new code."""
    done = [
        s["hosts"][0]
        for s in document["steps"]
        if s["kind"] == "upgrade" and s["state"] == "succeeded" and s["hosts"][0].startswith("cmp")
    ]
    versions = service_versions(cloud)
    for host in done:
        if versions.get(host) is None:
            raise RuntimeError(f"canary {host}: no nova-compute service")
        if expected is not None and versions[host] != expected:
            raise RuntimeError(f"canary {host}: service version {versions[host]}, not {expected}")
    if not done:
        raise RuntimeError("the run paused at a gate before any compute was upgraded")


def _step_windows(status: dict):
    for step in status["steps"]:
        start, end = ts(step["started"]), ts(step["finished"])
        if start is not None and end is not None:
            yield step, start, end


def _service_of(step: dict, plan_steps: dict) -> str:
    return plan_steps.get(step["step"], {}).get("service") or ""


def check_all(
    report,
    *,
    cloud,
    plan,
    status,
    before,
    after,
    old_versions,
    new_release,
    probe,
    sampler,
    simulate,
):
    plan_steps = {s["id"]: s for s in plan["steps"]}
    # 1. servers: every one kept, ACTIVE, on an upgraded host
    versions = service_versions(cloud)
    new_version = new_release.compute_service_version or max(versions.values())
    upgraded = {h for h, v in versions.items() if v == new_version}
    ids_before = {s["id"] for s in before}
    ids_after = {s["id"] for s in after}
    report.add(
        "every server kept",
        ids_before == ids_after,
        f"{len(ids_before & ids_after)}/{len(ids_before)}",
    )
    bad = [s for s in after if s["status"] != "ACTIVE" or s["host"] not in upgraded]
    report.add(
        "every server ACTIVE on an upgraded host",
        not bad and bool(after),
        ", ".join(f"{s['name']}: {s['status']}@{s['host']}" for s in bad) or f"{len(after)} ok",
    )
    # 2. service versions: new only after the compute's step began, never with servers on it
    report.add(
        "every compute on the new service version",
        set(versions) == set(old_versions) and all(v == new_version for v in versions.values()),
        f"{old_versions} -> {versions}",
    )
    upgrade_step = {
        step["hosts"][0]: (start, end)
        for step, start, end in _step_windows(status)
        if step["kind"] == "upgrade" and _service_of(step, plan_steps) == "nova-compute"
    }
    for host, old in sorted(old_versions.items()):
        change = next(
            (i for i, (_, v, _) in enumerate(sampler.samples) if v.get(host, old) != old), None
        )
        if change is None:
            report.add(f"{host}: version changed during the run", False, "never seen changing")
            continue
        t_change = sampler.samples[change][0]
        window = upgrade_step.get(host)
        inside = window is not None and window[0] - SLACK <= t_change <= window[1] + SLACK
        before_change = sampler.samples[change - 1][2].get(host, []) if change else []
        report.add(
            f"{host}: new version only during its step, with no server on it",
            inside and not before_change,
            f"changed at +{t_change - window[0]:.1f} s into its step"
            if window
            else "no upgrade step for it"
            + (f"; servers still on it: {before_change}" if before_change else ""),
        )
    disabled = cloud._mysql(
        f"SELECT host FROM `{cloud.db('nova')}`.services WHERE deleted=0 AND disabled=1"
    ).split()
    report.add("no compute left disabled", not disabled, ", ".join(disabled) or "all enabled")
    # 3. the plan's order in the run record: a later stage starts after an earlier ends
    timed = list(_step_windows(status))
    broken = []
    for i, (a, _, a_end) in enumerate(timed):
        for b, b_start, _ in timed[i + 1 :]:
            if b["stage"] != a["stage"] and b["index"] > a["index"] and b_start < a_end - 0.01:
                broken.append(f"{b['id']} started before {a['id']} finished")
    report.add(
        "plan order held in the run record",
        not broken,
        "; ".join(broken[:3]) or f"{len(timed)} steps",
    )
    # 4. budget: at most one compute down (disable-scheduling .. enable-scheduling) at once
    down: dict[str, list[float]] = {}
    for step, start, end in timed:
        if step["kind"] == "hook" and step["hosts"] and step["hosts"][0] in old_versions:
            span = down.setdefault(step["hosts"][0], [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
    events = sorted([(s, 1) for s, _ in down.values()] + [(e, -1) for _, e in down.values()])
    most = level = 0
    for _, delta in events:
        level += delta
        most = max(most, level)
    report.add("at most 1 compute down at any moment", most <= 1, f"most at once: {most}")
    # 5. API outages, each inside a step restarting that service (or keystone)
    outages = probe.outages()
    for service, windows in outages.items():
        own, deps = RESTARTS[service]
        for start, end in windows:
            found = _restarts_covering(timed, plan_steps, service, own, deps, start, end)
            report.add(
                f"{service} outage {end - start:.1f} s inside a restart",
                found is not None,
                f"during {found}"
                if found
                else f"no restarting step around it ({_near(timed, start, end)})",
            )
    servers_seen = [
        s.detail for s in probe.samples if s.service == "nova" and s.ok and "servers=" in s.detail
    ]
    short = [d for d in servers_seen if d.split("servers=")[1] != str(len(before))]
    report.add(
        "every successful nova poll listed every server", not short, f"{len(short)} short lists"
    )
    # 6. simulate --from-run predicts the window within 20%
    actual = _window(status)
    predicted = simulate.get("duration")
    if isinstance(predicted, (int, float)) and actual:
        error = abs(predicted - actual) / actual
        report.add(
            "simulate --from-run within 20% of the real window",
            error <= 0.20,
            f"predicted {predicted:.0f} s, real {actual:.0f} s ({error:.0%})",
        )
    else:
        report.add("simulate --from-run gave a window", False, json.dumps(simulate)[:300])


def _restarts_covering(timed, plan_steps, service, own, deps, start, end):
    """The restarting steps (the service's own, or keystone's) whose run, back to
    back, covers the outage [start, end]; None when none does."""
    spans = []
    for step, s_start, s_end in timed:
        svc = _service_of(step, plan_steps)
        action = plan_steps.get(step["step"], {}).get("action") or ""
        restarts = svc in own or action in RELOADS.get(service, ()) or svc in deps
        if restarts and s_start - SLACK <= end and start <= s_end + SLACK:
            why = "its own restart" if svc in own or action else "keystone's restart"
            spans.append((s_start - SLACK, s_end + SLACK, f"{step['id']} ({why})"))
    spans.sort()
    covered_to, names = start, []
    for s_start, s_end, name in spans:
        if s_start > covered_to:
            break
        covered_to = max(covered_to, s_end)
        names.append(name)
        if covered_to >= end:
            return ", ".join(names)
    return None


def _near(timed, start, end) -> str:
    """The steps running around an outage, with its times relative to them."""
    near = [
        f"{step['id']} {start - s_start:+.1f}..{end - s_end:+.1f} s"
        for step, s_start, s_end in timed
        if s_start - 30 <= end and start <= s_end + 30
    ]
    return "; ".join(near[:4]) or "none within 30 s"


def _window(status: dict) -> float:
    spans = [(start, end) for _, start, end in _step_windows(status)]
    if not spans:
        return 0.0
    return max(e for _, e in spans) - min(s for s, _ in spans)


def summary(report, status, probe, before, after, times, args) -> str:
    lines = [
        f"kostyor e2e: {args.from_release} -> {args.to_release}: "
        + ("PASSED" if report.ok else "FAILED"),
        f"upgrade window (first step start to last step end): {_window(status):.0f} s",
        "phases: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()),
        f"servers kept: {len({s['id'] for s in before} & {s['id'] for s in after})}/{len(before)}",
        "API outage seconds: "
        + ", ".join(
            f"{svc} {sum(e - s for s, e in windows):.1f} ({len(windows)} window"
            f"{'s' if len(windows) != 1 else ''})"
            for svc, windows in probe.outages().items()
        ),
        f"API polls: {len(probe.samples)} ({sum(not s.ok for s in probe.samples)} failed)",
        "steps:",
    ]
    for step in status["steps"]:
        duration = f"{step['duration']:.1f} s" if step["duration"] is not None else "-"
        lines.append(f"  {step['index']:>3} {step['state']:<10} {duration:>8}  {step['id']}")
    lines.append("checks:")
    for name, ok, detail in report.checks:
        lines.append(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}")
    return "\n".join(lines) + "\n"
