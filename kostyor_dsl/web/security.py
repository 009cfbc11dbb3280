"""Who may read and who may steer: the token, the same-origin check, the Host check.

- Every state-changing request (a control verb) is a POST that carries the
  token (the `kostyor_token` cookie the login link sets, or an
  `Authorization: Bearer` header) and, when it comes from a browser, an
  `Origin` (or `Referer`) that is this server's own: a page of another site
  cannot make the operator's browser pause or cancel a run.
- On a loopback bind (the default) reading needs no token, but the `Host`
  header must name the loopback address or `localhost`: a page of another
  site that points its own name at 127.0.0.1 (DNS rebinding) cannot read the
  runs.  On any other bind every request needs the token.
- Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

COOKIE = "kostyor_token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Guard:
    token: str
    loopback: bool  # bound to a loopback address only
    port: int
    read_only: bool = False

    def token_of(self, headers, cookies) -> str | None:
        header = headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        return cookies.get(COOKIE)

    def valid(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.token.encode())

    def host_allowed(self, headers) -> bool:
        """A loopback server answers only to the loopback names (DNS rebinding)."""
        if not self.loopback:
            return True
        host = headers.get("host", "")
        name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
        if not name:
            name, port = host, ""
        return name in LOOPBACK_NAMES and port in ("", str(self.port))

    def may_read(self, headers, cookies) -> bool:
        if not self.host_allowed(headers):
            return False
        return self.loopback or self.valid(self.token_of(headers, cookies))

    def same_origin(self, headers) -> bool:
        """The request's Origin (or Referer) is the address the request was sent to."""
        source = headers.get("origin") or headers.get("referer")
        if not source:
            # No browser sends a cross-site POST without Origin; a script sends
            # the token in a header, which a page of another site cannot set.
            return headers.get("authorization", "").lower().startswith("bearer ")
        if source == "null":
            return False
        parts = urlsplit(source)
        return parts.scheme in ("http", "https") and parts.netloc == headers.get("host", "")

    def shows_controls(self, headers, cookies) -> bool:
        """Whether a page should offer the verbs (each request is still checked)."""
        return not self.read_only and self.valid(self.token_of(headers, cookies))

    def may_steer(self, headers, cookies) -> str | None:
        """Why this request may not change anything, or None if it may."""
        if self.read_only:
            return "this view is read-only (kostyorc serve --read-only)"
        if not self.host_allowed(headers):
            return "this server does not answer to that host name"
        if not self.valid(self.token_of(headers, cookies)):
            return (
                "a control verb needs the token: open the link `kostyorc serve` printed "
                "(it sets the token), or send `Authorization: Bearer TOKEN`"
            )
        if not self.same_origin(headers):
            return "refused: the request does not come from this page (Origin check)"
        return None
