"""The plan's seal, and the rules that tie a step's id to its content.

Reviewers approve a plan in a pull request; what runs must be that plan.
`kostyorc compile` seals the plan it writes, as its last key:

    seal:
      sha256: <the digest of the parts below>
      parts:                 # one digest per top-level key of the plan
        driver: <sha256>
        ...
        steps: <sha256>
      step_count: 17

A part's digest is the SHA-256 of that value's text in the plan's JSON form
(what `kostyorc compile --format json` writes, `json.dumps(plan, indent=2,
ensure_ascii=False)`: the UTF-8 bytes after `"KEY": ` up to the `,` or `}`
that ends the value).  A YAML plan and the JSON plan of the same content load
to the same values and so have the same seal.  `sha256` is the SHA-256 of the
lines `KEY DIGEST\\n`, keys sorted.  The writer hashes each part as it writes
it (`PlanSealer`), so a streamed plan is never held whole for its seal.

The seal says whether a plan was changed after it was written, and the parts
say where (steps, inputs, driver...).  It is a checksum, not a signature:
whoever can edit a plan can recompute it.  `kostyorc run --against SPEC
--inventory INV` is the check that does not trust the file: it recompiles.

`step_id_problems` checks what compile guarantees of every step id (kind,
service, action and host -> id), so a step whose host or service was edited
by hand is named even when its id still reads as the old one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable

from kostyor_dsl.plan.json_text import plan_json_parts

SEAL_KEY = "seal"
# Engines whose upgrade-step ids follow a rule known here; steps of other
# engines (entry points) have ids of their own.
_UPGRADE_ID_RULES = ("node-by-node", "service-by-service", "phased")


class PlanSealer:
    """Digests of a plan's parts, fed with each part's JSON text as it is written."""

    def __init__(self) -> None:
        self._hashes: dict[str, hashlib._Hash] = {}
        self.step_count = 0

    def update(self, key: str, text: str, items: int = 0) -> None:
        hasher = self._hashes.get(key)
        if hasher is None:
            hasher = self._hashes[key] = hashlib.sha256()
        hasher.update(text.encode("utf-8"))
        if key == "steps":
            self.step_count += items

    def parts(self) -> dict[str, str]:
        return {key: self._hashes[key].hexdigest() for key in sorted(self._hashes)}

    def seal(self) -> dict:
        parts = self.parts()
        return {"sha256": parts_digest(parts), "parts": parts, "step_count": self.step_count}


def parts_digest(parts: dict[str, str]) -> str:
    lines = "".join(f"{key} {parts[key]}\n" for key in sorted(parts))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def plan_seal(plan: dict) -> dict:
    """The seal of `plan`'s content (any `seal` it has is left out)."""
    sealer = PlanSealer()
    content = {key: value for key, value in plan.items() if key != SEAL_KEY}
    for key, text, items in plan_json_parts(content):
        if key is not None:
            sealer.update(key, text, items)
    return sealer.seal()


def seal_plan(plan: dict) -> dict:
    """`plan` with its seal (recomputed), as the last key: for tools that make plans."""
    content = {key: value for key, value in plan.items() if key != SEAL_KEY}
    return {**content, SEAL_KEY: plan_seal(content)}


def seal_problems(plan: dict, text: str | None = None) -> list[str]:
    """What differs between the plan and its seal, one phrase each; [] when it matches.

    `text`, the file `plan` was read from, spares writing the plan again to
    hash it when the file is the JSON that compile wrote (`_file_matches_seal`)."""
    stored = plan.get(SEAL_KEY)
    if not isinstance(stored, dict):
        return [
            "the plan has no seal: it was not written by `kostyorc compile` "
            "(or by a kostyorc older than plan seals)"
        ]
    if text is not None and _file_matches_seal(text, plan, stored):
        return []
    actual = plan_seal(plan)
    stored_parts = stored.get("parts") if isinstance(stored.get("parts"), dict) else {}
    problems = []
    for key in sorted(set(actual["parts"]) | set(stored_parts)):
        if key not in stored_parts:
            problems.append(f"`{key}` was added")
        elif key not in actual["parts"]:
            problems.append(f"`{key}` was removed")
        elif stored_parts[key] != actual["parts"][key]:
            problems.append(_changed(key, actual, stored))
    if not problems and stored.get("sha256") != actual["sha256"]:
        problems.append("the seal itself was edited (its sha256 does not match its parts)")
    return problems


_KEY_LINE = re.compile(r'[{,]\n  ("(?:[^"\\\n]|\\.)*"): ')


def _file_matches_seal(text: str, plan: dict, stored: dict) -> bool:
    """Whether `text`, which `plan` was read from, is the JSON text compile sealed.

    A part's digest is that of the value's text after `"KEY": `, which is the
    file's own text when the file is the JSON compile wrote: the file is cut
    at its top-level keys (`{` or `,`, a line break and two spaces, a key),
    each part hashed as it is.  Exact: the cuts must give the plan's keys in
    order and end the file; every part but the seal must hash to its sealed
    digest, so it is the text of the sealed value, and the file is that
    object (the seal's own text must read as the seal).  Any doubt (YAML,
    another layout, an edit) says False, and the caller writes the plan
    again to compare part by part.
    """
    if not (text.startswith("{\n  ") and text.endswith("\n}\n")):
        return False
    parts = stored.get("parts")
    if not isinstance(parts, dict) or stored.get("sha256") != parts_digest(parts):
        return False
    if sorted(parts) != sorted(key for key in plan if key != SEAL_KEY):
        return False
    cuts = list(_KEY_LINE.finditer(text))
    if not cuts or cuts[0].start() != 0:
        return False
    try:
        if [json.loads(cut.group(1)) for cut in cuts] != list(plan):
            return False
    except ValueError:
        return False
    ends = [cut.start() for cut in cuts[1:]] + [len(text) - 3]  # before `\n}\n`
    for key, cut, end in zip(plan, cuts, ends, strict=True):
        if key == SEAL_KEY:  # not hashed: it must be one value, the one read
            try:
                if json.loads(text[cut.end() : end]) != stored:
                    return False
            except ValueError:
                return False
            continue
        digest = hashlib.sha256(text[cut.end() : end].encode("utf-8")).hexdigest()
        if digest != parts[key]:
            return False
    return True


def _changed(key: str, actual: dict, stored: dict) -> str:
    if key == "steps":
        count, sealed = actual["step_count"], stored.get("step_count")
        if isinstance(sealed, int) and sealed != count:
            return f"steps changed: {count} steps, {sealed} were sealed"
        return f"steps changed: the same {count} steps by count, with other content or order"
    if key == "inputs":
        return "inputs changed: the spec or inventory files or digests it was compiled from"
    return f"`{key}` changed"


def expected_step_id(step: dict, engine: str, upgrade_ids: dict[str, list[str]]) -> str | None:
    """The id compile gives `step`, or None when it is right (or no rule is known).

    `upgrade_ids` maps each upgrade step's id to its hosts (service hooks are
    named after the step they wrap).
    """
    kind = step.get("kind")
    sid = step.get("id")
    hosts = step.get("hosts") or []
    if kind in ("pre-upgrade", "post-upgrade"):
        project = f"{step['project']}:" if "project" in step else ""  # a project's own step
        expected = f"{kind}:{project}{step.get('action')}"
        return None if sid == expected else expected
    if kind == "gate":
        if "group" not in step:
            return None
        expected = f"gate:{step['group']}#{step.get('batch')}"
        return None if sid == expected else expected
    if kind == "hook":
        prefix = f"{step.get('when')}:{step.get('action')}:"
        target = sid[len(prefix) :] if isinstance(sid, str) and sid.startswith(prefix) else None
        if target is not None and (hosts == [target] or upgrade_ids.get(target) == hosts):
            return None
        return prefix + (hosts[0] if len(hosts) == 1 else "STEP")
    if kind == "upgrade" and engine in _UPGRADE_ID_RULES:
        service = step.get("service")
        if engine in ("node-by-node", "phased"):
            expected = f"{service}@{hosts[0] if len(hosts) == 1 else '(one host)'}"
            return None if sid == expected else expected
        if sid == service or re.fullmatch(rf"{re.escape(str(service))}#[1-9][0-9]*", str(sid)):
            return None
        return f"{service} (or {service}#N)"
    return None


def step_id_problems(plan: dict, limit: int = 20) -> list[str]:
    """Steps whose id does not follow from their content, as compile writes ids."""
    steps = plan.get("steps") or []
    engine = plan.get("engine", "")
    upgrade_ids = {s["id"]: s.get("hosts") for s in steps if s.get("kind") == "upgrade"}
    problems = []
    count = 0
    for step in steps:
        expected = expected_step_id(step, engine, upgrade_ids)
        if expected is None:
            continue
        count += 1
        if len(problems) < limit:
            problems.append(
                f"step {step.get('id')!r} ({_content(step)}): its id does not match its "
                f"content; compile names it {expected!r}"
            )
    if count > limit:
        problems.append(f"... and {count - limit} more steps whose id does not match")
    return problems


def _content(step: dict) -> str:
    kind = step.get("kind")
    name = step.get("service") or step.get("action") or ""
    hosts: Iterable[str] = step.get("hosts") or []
    on = f" on {', '.join(hosts)}" if hosts else ""
    return f"{kind} {name}{on}".strip()
