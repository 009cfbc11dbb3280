#!/usr/bin/env python3
"""A stand-in `kolla-ansible`: records each call and answers like the tool's CLI.

Each call appends one JSON object a line to $TOOL_RECORD: its argv, and the
step it ran in (the last part of $KOSTYOR_ANSIBLE_STEP, `INDEX-UNIT`, which the
ansible drivers set for every process of a step), so a test can put the calls
of parallel lanes in plan order.

Like kolla-ansible (kolla_ansible/cli/commands.py, kolla_ansible/ansible.py):
only its commands are known (exit 2, cliff's usage error, for another), `-i`
must name an existing inventory (exit 1), `-t`/`--tags`, `-l`/`--limit` and
`-e` take a value.  A call whose `--limit` names a host in $TOOL_FAIL fails as
a playbook does (exit 2, `fatal: [HOST]: FAILED!`).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys

# kolla-ansible master pyproject.toml, [project.entry-points."kolla_ansible.cli"].
COMMANDS = frozenset(
    {
        "bootstrap-servers", "certificates", "check", "deploy", "deploy-bifrost",
        "deploy-containers", "deploy-servers", "destroy", "gather-facts", "genconfig",
        "install-deps", "mariadb-backup", "mariadb-recovery", "migrate-container-engine",
        "nova-libvirt-cleanup", "octavia-certificates", "post-deploy", "prechecks",
        "prune-images", "pull", "rabbitmq-reset-state", "reconfigure", "stop", "upgrade",
        "upgrade-bifrost", "validate-config",
    }
)  # fmt: skip
WITH_VALUE = {"-i": "inventory", "--inventory": "inventory", "-t": "tags", "--tags": "tags",
              "-l": "limit", "--limit": "limit", "-e": "extra", "--extra-vars": "extra"}  # fmt: skip


def main(argv: list[str]) -> int:
    step = os.path.basename(os.environ.get("KOSTYOR_ANSIBLE_STEP", ""))
    with open(os.environ["TOOL_RECORD"], "a") as record:
        fcntl.flock(record, fcntl.LOCK_EX)
        record.write(json.dumps({"argv": argv, "step": step}) + "\n")
    if not argv or argv[0] not in COMMANDS:
        print(f"kolla-ansible: '{argv[0] if argv else ''}' is not a kolla-ansible command.",
              file=sys.stderr)  # fmt: skip
        return 2
    options: dict[str, list[str]] = {}
    words = iter(argv[1:])
    for word in words:
        if word not in WITH_VALUE:
            print(f"kolla-ansible {argv[0]}: error: unrecognized arguments: {word}",
                  file=sys.stderr)  # fmt: skip
            return 2
        value = next(words, None)
        if value is None:
            print(f"kolla-ansible {argv[0]}: error: argument {word}: expected one argument",
                  file=sys.stderr)  # fmt: skip
            return 2
        options.setdefault(WITH_VALUE[word], []).append(value)
    for inventory in options.get("inventory", []):
        if not os.path.exists(inventory):
            print(f"ERROR: inventory {inventory} does not exist", file=sys.stderr)
            return 1
    limit = ",".join(options.get("limit", [])).split(",")
    failing = set(filter(None, os.environ.get("TOOL_FAIL", "").split(",")))
    for host in limit:
        if host in failing:
            print(f"fatal: [{host}]: FAILED! => {argv[0]} of {options.get('tags')} failed")
            return 2
    tags = ",".join(options.get("tags", [])) or "all"
    print(f"{argv[0]} ({tags}) on {','.join(filter(None, limit)) or 'every host'}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
