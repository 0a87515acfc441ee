"""Why a fetch failed, in one place: a short stable reason and one line naming the cause.

:func:`loggable` is a URL as logs show it, :func:`log_outcome` a failed fetch's line.
:func:`classify` maps what :mod:`monitor.fetch` raises, or a status code, to one short
stable reason. Network
failures are worded by their cause, not by the Python exception that carried it
(``DNS lookup failed for example.org``, ``connection refused by example.org:8080``): one
function, :func:`diagnose`, reads the cause chain for both.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx
from yarl import URL

from monitor.errors import (
    FetchBlocked,
    FetchError,
    FetchHTTPStatus,
    FetchTimeout,
    FetchTooLarge,
    FetchUnusable,
    NotModified,
)

# what OpenSSL says when the other end does not speak TLS at all (a plain HTTP port)
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
                      "UNKNOWN_PROTOCOL", "HTTP_REQUEST"})


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to connect, and to wait for each read."""

    connect: float | None
    read: float | None


class _Timeouts(Protocol):  # Timeouts, or an httpx.Timeout
    @property
    def connect(self) -> float | None: ...
    @property
    def read(self) -> float | None: ...


class _Where(Protocol):  # a yarl or an httpx URL
    @property
    def scheme(self) -> str: ...
    @property
    def host(self) -> str | None: ...
    @property
    def port(self) -> int | None: ...


def classify(outcome: BaseException | int) -> str:
    """One short stable reason for a fetch outcome (an exception or an HTTP status)."""
    if isinstance(outcome, int | FetchHTTPStatus):
        return _classify_status(outcome if isinstance(outcome, int) else outcome.status)
    if isinstance(outcome, FetchUnusable):
        return outcome.reason
    kinds = ((NotModified, "not_modified"), (FetchTimeout, "timeout"),
             (FetchTooLarge, "too_large"), (FetchBlocked, "blocked"))
    return next((r for k, r in kinds if isinstance(outcome, k)), None) or diagnose(outcome)[0]


def _classify_status(status: int) -> str:
    if status in (401, 403, 404, 410, 429):
        return f"http_{status}"
    ranges = ((304, 305, "not_modified"), (500, 600, "http_5xx"), (400, 500, "http_4xx"),
              (200, 300, "ok"))
    return next((r for low, high, r in ranges if low <= status < high), "http_other")


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and its ``__cause__`` chain, outermost first."""
    chain = [exc]
    while (cause := chain[-1].__cause__) is not None and len(chain) < 16:
        chain.append(cause)
    return chain


def diagnose(exc: BaseException, url: _Where | None = None,
             timeout: _Timeouts | None = None) -> tuple[str, str]:
    """Why a connection or an exchange failed: ``classify``'s reason and one line naming the
    cause (``DNS lookup failed for example.org``), read from ``exc``'s cause chain.

    ``url`` and ``timeout`` (the client's) fill in the host, port and seconds."""
    chain = _causes(exc)
    root, host = chain[-1], (url.host or "the host") if url else "the host"
    where = f"{host}:{port_of(url)}" if url else host
    tls = next((e for e in reversed(chain) if isinstance(e, ssl.SSLError)), None)  # deepest
    if isinstance(tls, ssl.SSLCertVerificationError):
        detail = getattr(tls, "verify_message", None) or tls  # set when ssl raised it
        return "tls", f"TLS certificate of {host} not trusted: {detail}"
    if tls is not None or any(isinstance(e, aiohttp.ClientSSLError) for e in chain):
        if getattr(tls, "reason", None) in _NOT_TLS:
            return "tls", "TLS handshake failed (is this an http-only port?)"
        return "tls", f"TLS handshake with {where} failed: {getattr(tls, 'reason', '') or root}"
    if any(isinstance(e, socket.gaierror | aiohttp.ClientConnectorDNSError) for e in chain):
        return "dns", f"DNS lookup failed for {host}"
    if _is_timeout(root):
        return "timeout", _timed_out(root, where, timeout)
    if isinstance(root, ConnectionRefusedError):
        return "network", f"connection refused by {where}"
    if isinstance(root, ConnectionResetError | aiohttp.ServerDisconnectedError):
        if url is not None and url.scheme == "http":  # a TLS port hangs up on plain HTTP
            return "network", "connection reset (is this an https URL on an http port?)"
        return "network", f"connection reset by {where}"
    if isinstance(root, OSError):
        return "network", f"network error with {where}: {root.strerror or root}"
    if any(isinstance(e, httpx.HTTPError | aiohttp.ClientError) for e in chain):
        return "network", f"bad HTTP exchange with {where}: {_one_line(str(root))}"
    return ("error" if isinstance(exc, FetchError) else "internal"), str(exc)


def _one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line (its runs of whitespace one space), cut to ``limit`` characters:
    aiohttp's parser errors span lines and quote the bytes they choked on, and the cause of
    a failure goes into one log line and a feed's ``last_error``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _timed_out(root: BaseException, where: str, timeout: _Timeouts | None) -> str:
    if isinstance(root, aiohttp.ConnectionTimeoutError | httpx.ConnectTimeout):
        seconds, doing = (timeout.connect if timeout else None), f"connecting to {where}"
    else:
        seconds, doing = (timeout.read if timeout else None), f"waiting for {where}"
    return f"timed out after {seconds:g}s {doing}" if seconds else f"timed out {doing}"


def port_of(url: _Where) -> int:
    """The port ``url`` connects to, the scheme's default when it names none."""
    return url.port or (443 if url.scheme == "https" else 80)


def _is_timeout(root: BaseException) -> bool:
    # httpx-aiohttp (the webhook client) maps every aiohttp ClientConnectionError (refused,
    # reset, DNS) to httpx.ConnectTimeout, so only the root cause tells a timeout apart.
    return isinstance(root, TimeoutError | httpx.TimeoutException)


def loggable(url: str | URL) -> str:
    """The URL without credentials, query or fragment, for logs."""
    try:
        u = url if isinstance(url, URL) else URL(url)
        return f"{u.scheme}://{u.host_port_subcomponent or ''}{u.path}"
    except (ValueError, TypeError):
        return "(invalid)"


def log_outcome(logger: logging.Logger, url: str, exc: BaseException, started: float) -> None:
    """``logger``'s line for a fetch that raised ``exc``: a 304 and most failures at DEBUG,
    a blocked URL at INFO. Nothing is built for a line the level hides (a poll round of
    304s would parse every URL again for nothing: bench/poll.py)."""
    level = logging.INFO if isinstance(exc, FetchBlocked) else logging.DEBUG
    if not logger.isEnabledFor(level):
        return
    ms = (time.monotonic() - started) * 1000
    if isinstance(exc, NotModified):
        logger.debug("event=fetch url=%s status=304 duration_ms=%d", loggable(url), ms)
        return
    logger.log(level, "event=fetch_failed url=%s reason=%s error=%r duration_ms=%d",
               loggable(url), classify(exc), str(exc), ms)
