"""What a host name, and a target (the name a tool addresses a service by), may be.

Host names and targets end up as arguments of ssh, `ansible-playbook --limit`,
`kolla-ansible --limit`, `openstack-ansible --limit` and `juju run`.  The rule
is what the deployment tools themselves allow for a host, minus everything
that one of those command lines would read as something else:

- letters, digits, `_`, `-` and `.` only (OpenStack-Ansible's own examples
  name hosts `az1_compute1`; Ansible inventory names allow `_`).  Refused,
  with the reason:
  - a leading `-`: ssh and every tool read `-oProxyCommand=...` as an
    option, even quoted;
  - whitespace and control characters: an argument split in two, a log line
    forged by a line break;
  - `,` and `:`: Ansible's `--limit` reads them as "or" (`a,b`, `a:b`), so
    one name selects several hosts;
  - `!` and `&`: `--limit` reads `!x` as "all but x" and `&x` as "and x";
  - `*`, `?`, `[`, `]`: `--limit` reads them as a glob (`*` is every host)
    and a subscript (`grp[0]`);
  - `~`: `--limit ~regex` is a regular expression;
  - `@`: `--limit @file` reads the hosts from a file;
  - `/`, `\\`, quotes, `$`, `;`, `|`, `<`, `>`, ``` ` ```, `(`, `)`, `{`,
    `}`, `=`, `%`, `+`, `#`, non-ASCII: meaningful to a shell, a path, a
    Jinja2 or Ansible template or a YAML reader, and in no tool's host names
    (a non-ASCII dash also passes for `-` to a reader);
- not the Ansible patterns that are names by themselves: `all` and
  `ungrouped` select every host (`--limit all` runs a playbook everywhere),
  in any case;
- at most 253 characters, not `.` or `..`, no empty part (`a..b`).

A target may also hold `/` (Juju units: `keystone/0`) and `@` after its
first character (cinder-volume's `host@backend`): neither has a meaning in
`--limit` past the first character.  A target starts with a letter, digit
or `_`.

Checked when an inventory is read (K046), by the importers (K054), and again
by the runtime before a driver sees a host or a target.
"""

from __future__ import annotations

import re

MAX_LENGTH = 253
# Names Ansible reads as a pattern by themselves, whatever the inventory holds.
PATTERN_NAMES = frozenset({"all", "ungrouped"})

HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
# Exactly the names `host_name_problem` accepts, in one match (the importers'
# fast path; a test checks the two agree).
VALID_HOST_NAME = re.compile(
    r"(?=.{1,253}\Z)(?!(?i:all|ungrouped)\Z)(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_.-]*\Z", re.S
)
VALID_TARGET = re.compile(
    r"(?=.{1,253}\Z)(?!(?i:all|ungrouped)\Z)(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_.@/-]*\Z", re.S
)
TARGET = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@/-]*\Z")

_REASONS = {
    ",": "Ansible's --limit reads ',' as 'or'",
    ":": "Ansible's --limit reads ':' as 'or' (and a port)",
    "!": "Ansible's --limit reads '!' as 'all but'",
    "&": "Ansible's --limit reads '&' as 'and'",
    "*": "Ansible's --limit reads '*' as a glob (every host)",
    "?": "Ansible's --limit reads '?' as a glob",
    "[": "Ansible's --limit reads '[' as a subscript",
    "]": "Ansible's --limit reads ']' as a subscript",
    "~": "Ansible's --limit reads '~' as a regular expression",
    "@": "Ansible's --limit reads '@' as a file of hosts",
}


def host_name_problem(name: object) -> str | None:
    """None for a valid host name, else what is wrong with it (one short phrase)."""
    return _problem(name, "host name", HOST_NAME, "letters, digits, '_', '-' and '.'")


def target_problem(name: object) -> str | None:
    """None for a valid target (`infra1-nova-api-container-4a917c47`, `keystone/0`,
    `storage1@lvm`), else what is wrong with it."""
    return _problem(name, "target", TARGET, "letters, digits, '_', '-', '.', '/' and '@'")


def _problem(name: object, what: str, rule: re.Pattern, allowed: str) -> str | None:
    if not isinstance(name, str):
        return f"a {what} must be a string"
    if not name:
        return f"a {what} must not be empty"
    if len(name) > MAX_LENGTH:
        return f"a {what} is at most {MAX_LENGTH} characters"
    if name.startswith("-"):
        return f"a {what} must not start with '-' (a command would read it as an option)"
    if name.lower() in PATTERN_NAMES:
        return f"{name!r} is an Ansible pattern for every host, not a {what}"
    if rule.match(name):
        if ".." in name:
            return f"a {what} has no empty part between dots"
        return None
    first = name[0]
    if rule.match(first + "a") is None and rule.match("a" + first) is not None:
        return f"a {what} starts with a letter, a digit or '_', not {first!r}"
    bad = next(c for c in name if rule.match("a" + c) is None)
    if bad.isspace() or not bad.isprintable():
        return f"a {what} holds no whitespace or control character (found {bad!r})"
    reason = _REASONS.get(bad, "not in any deployment tool's host names")
    return f"a {what} is made of {allowed}: {bad!r} is refused ({reason})"
