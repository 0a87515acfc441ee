"""Which ``Host`` headers and ``Origin``\\ s the dashboard answers (DNS rebinding).

Pure: no I/O. A page on any site can make the browser that shows it send requests to
``http://127.0.0.1:8080`` under a name of its own that it re-points at 127.0.0.1 (DNS
rebinding), and read the answers: the browser takes them for that site's own. Such a
request carries the attacker's name in ``Host``, so the dashboard answers only the names it
is reached by:

* listening on loopback: ``localhost``, ``127.0.0.1``, ``[::1]`` and the listen address,
  each with the port it listens on;
* listening on one other address: that address with its port;
* listening on every address (``0.0.0.0``, ``::``): the loopback names with its port;
* and, in every case, each ``allowed_hosts`` entry: ``name`` (any port) or ``name:port``.

Listening on every address with no ``allowed_hosts``, the names clients use are unknown, so
``Host`` is not checked there (the token, required beyond loopback, guards it). A request
other than GET/HEAD that names an ``Origin`` must come from one of those hosts (when
``Host`` is not checked: from the host it was sent to).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.config import is_loopback, parse_host

__all__ = ["HostCheck"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD"})
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class HostCheck:
    """The names a dashboard listening on ``listen`` answers (see the module doc)."""

    listen: str
    allowed_hosts: tuple[str, ...] = ()

    def host_allowed(self, host: str | None, port: int) -> bool:
        """Whether a ``Host`` header (None: absent) may reach a server on ``port``."""
        if host is None or not self.checks_host:
            return True
        try:
            name, given = parse_host(host)
        except ValueError:
            return False
        return self._known(name, given, port)

    def origin_allowed(self, method: str, origin: str | None, host: str | None,
                       port: int) -> bool:
        """Whether a request with this method and ``Origin`` header (None: absent) may
        change anything: a browser names the site of the page that sent it there."""
        if method.upper() in SAFE_METHODS or origin is None:
            return True
        try:
            parts = urlsplit(origin.strip().lower())
            name, given = (parts.hostname or "").removesuffix("."), parts.port
        except ValueError:  # a port that is no number
            return False
        if parts.scheme not in DEFAULT_PORTS or not name:  # "null" among them
            return False
        given = given or DEFAULT_PORTS[parts.scheme]
        if self.checks_host:
            return self._known(name, given, port)
        try:  # Host unchecked: the page must come from the host the request went to
            sent_to, sent_port = parse_host(host or "")
        except ValueError:
            return False
        return sent_to == name and (sent_port or DEFAULT_PORTS[parts.scheme]) == given

    @property
    def checks_host(self) -> bool:
        """False only for every-address listening without ``allowed_hosts``."""
        return bool(self.allowed_hosts) or not _every_address(self.listen)

    def _known(self, name: str, given: int | None, port: int) -> bool:
        listen = self.listen.lower().strip("[]")
        ours = set() if _every_address(listen) else {listen}
        if is_loopback(listen) or _every_address(listen):
            ours.update(LOOPBACK_NAMES)
        if name in ours and (given or 80) == port:
            return True
        for entry in self.allowed_hosts:
            allowed, allowed_port = parse_host(entry)
            if name == allowed and (allowed_port is None or allowed_port == given or (
                    given is None and allowed_port in DEFAULT_PORTS.values())):
                return True
        return False


def _every_address(host: str) -> bool:
    """Whether listening on ``host`` means every address (``0.0.0.0``, ``::``)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False
