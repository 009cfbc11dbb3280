#!/usr/bin/env python3
"""A stand-in `openstack-ansible`: records each call and answers like the wrapper.

Each call appends one JSON object a line to $TOOL_RECORD: its argv, and the
step it ran in (the last part of $KOSTYOR_ANSIBLE_STEP, `INDEX-UNIT`).

Like OpenStack-Ansible's `openstack-ansible` (which runs ansible-playbook with
the deployment's inventory): the first argument is a playbook, a file that
must exist (`ERROR! the playbook: ... could not be found`, exit 1, as
ansible-playbook says) or a collection playbook (`openstack.osa.NAME`);
`-e`/`--extra-vars` and `-l`/`--limit` take a value.  A call whose `--limit`
names a host or container in $TOOL_FAIL fails as a playbook does (exit 2).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys

WITH_VALUE = {"-e": "extra", "--extra-vars": "extra", "-l": "limit", "--limit": "limit"}


def main(argv: list[str]) -> int:
    step = os.path.basename(os.environ.get("KOSTYOR_ANSIBLE_STEP", ""))
    with open(os.environ["TOOL_RECORD"], "a") as record:
        fcntl.flock(record, fcntl.LOCK_EX)
        record.write(json.dumps({"argv": argv, "step": step}) + "\n")
    if not argv:
        print("ERROR! You must specify a playbook file to run", file=sys.stderr)
        return 5
    playbook = argv[0]
    collection = re.fullmatch(r"[a-z_]+\.[a-z_]+\.[a-z_.]+", playbook)
    if not collection and not os.path.isfile(playbook):
        print(f"ERROR! the playbook: {playbook} could not be found", file=sys.stderr)
        return 1
    options: dict[str, list[str]] = {}
    words = iter(argv[1:])
    for word in words:
        if word not in WITH_VALUE:
            print(f"ERROR! unrecognized arguments: {word}", file=sys.stderr)
            return 5
        value = next(words, None)
        if value is None:
            print(f"ERROR! argument {word}: expected one argument", file=sys.stderr)
            return 5
        options.setdefault(WITH_VALUE[word], []).append(value)
    limit = ",".join(options.get("limit", [])).split(",")
    failing = set(filter(None, os.environ.get("TOOL_FAIL", "").split(",")))
    for host in limit:
        if host in failing:
            print(f"fatal: [{host}]: FAILED! => {os.path.basename(playbook)} failed")
            return 2
    print(f"PLAY RECAP {os.path.basename(playbook)} on {','.join(filter(None, limit)) or 'all'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
