#!/usr/bin/env python3
"""A stand-in `juju`: records its argv (one JSON list a line, to $JUJU_RECORD) and
answers like juju 3 from a state file ($JUJU_STATE, a `juju status --format
json` document plus each application's config under `config`).

`status --format json` prints the state; `config APP KEY` prints a value and
`config APP KEY=VALUE` sets it; `refresh APP --channel C` sets the charm channel;
`run UNIT ACTION` and `wait-for` succeed.  A unit named in $JUJU_FAIL fails its
`openstack-upgrade`.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys


def main(argv: list[str]) -> int:
    with open(os.environ["JUJU_RECORD"], "a") as record:
        fcntl.flock(record, fcntl.LOCK_EX)
        record.write(json.dumps(argv) + "\n")
    args = list(argv)
    if len(args) > 2 and args[1] == "-m":
        del args[1:3]
    with open(os.environ["JUJU_STATE"], "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        state = json.load(handle)
        command = args[0] if args else ""
        if command == "status":
            print(json.dumps({k: v for k, v in state.items() if k != "config"}))
            return 0
        if command == "config":
            config = state.setdefault("config", {}).setdefault(args[1], {})
            if "=" in args[2]:
                key, _, value = args[2].partition("=")
                config[key] = value
            else:
                print(config.get(args[2], ""))
                return 0
        elif command == "refresh":
            state["applications"][args[1]]["charm-channel"] = args[args.index("--channel") + 1]
        elif command == "run":
            if args[2] == "openstack-upgrade" and args[1] in os.environ.get("JUJU_FAIL", ""):
                print(f"ERROR action openstack-upgrade failed on {args[1]}", file=sys.stderr)
                return 1
        elif command != "wait-for":
            print(f"ERROR unknown command {command!r}", file=sys.stderr)
            return 2
        handle.seek(0)
        handle.truncate()
        json.dump(state, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
