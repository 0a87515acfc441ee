"""The exception tree of monitor.

Every error monitor raises on purpose derives from one root::

    MonitorError                  root; never raised itself
    ├── ConfigError               the configuration is invalid (``problems`` lists key paths)
    ├── FetchError                an HTTP fetch failed (``url``)
    │   ├── FetchTimeout          connect/read timeout or the total deadline passed
    │   ├── FetchTooLarge         the body (raw or decompressed) exceeded the byte cap
    │   ├── FetchHTTPStatus       the server answered a non-success status (``status``)
    │   │   └── FetchPostponed    not sent: the host's Retry-After still runs (``retry_after``)
    │   ├── FetchBlocked          the URL was refused before connecting (SSRF guard, scheme)
    │   └── FetchUnusable         bad URL, not HTML, empty, too many redirects (``reason``)
    ├── ParseError                a feed document could not be parsed at all
    ├── ExtractError              an article page yielded no usable text
    ├── QueryError                a watch-rule query is invalid (``column``, 1-based)
    ├── StorageError              the database failed or is unreachable
    └── DeliveryError             a channel could not deliver (``permanent``, ``retry_after``,
                                  ``disable``)

``NotModified`` is a signal (the server answered 304), not an error; it does not derive
from ``MonitorError``.

A few exceptions never leave their group, and are converted at its boundary:
``monitor.sources.opml._Refused`` stops the XML parser and becomes ``ParseError``;
``monitor.netguard.BodyDecodeError`` (a bad content-encoding) becomes ``FetchUnusable`` in
``fetch``; ``monitor.rules.regex_chars.Unsupported`` (a construct RE2 cannot run) becomes
``QueryError``; ``monitor.extractpool.WorkerError`` and its kinds
``monitor.extractpool.DeadlineExceeded``, ``monitor.extractpool.OutOfMemory`` and
``monitor.extractpool.WorkerDied`` (an extraction worker was replaced) become
``ExtractError`` in ``extract``. Every other exception class lives here
(tests/test_errors.py checks it).
"""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error monitor raises on purpose."""


class ConfigError(MonitorError):
    """Raised when a configuration file is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class FetchError(MonitorError):
    """Raised when fetching ``url`` failed."""

    def __init__(self, message: str, url: str = "") -> None:
        self.url = url
        super().__init__(message)


class FetchTimeout(FetchError):
    """Raised when a connect/read timeout or the total deadline of a request passed."""


class FetchTooLarge(FetchError):
    """Raised when a body exceeded the byte cap, raw or after decompression."""


class FetchHTTPStatus(FetchError):
    """Raised when the server answered a status that is not success (``status``)."""

    def __init__(self, message: str, url: str = "", status: int = 0,
                 retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(message, url)


class FetchBlocked(FetchError):
    """Raised when a URL is refused before any connection (SSRF guard, scheme, credentials)."""


class FetchUnusable(FetchError):
    """Raised when the URL or response cannot be used; ``reason``: invalid_url, not_html,
    empty, redirects or decode."""

    def __init__(self, message: str, url: str = "", reason: str = "unusable") -> None:
        self.reason = reason
        super().__init__(message, url)


class FetchPostponed(FetchHTTPStatus):
    """Raised without connecting while a host's Retry-After runs: the request was not sent.
    ``status`` is the 429/503 that asked for the pause, ``retry_after`` the seconds left."""


class ParseError(MonitorError):
    """Raised when a feed document yields nothing usable (not a feed at all)."""


class ExtractError(MonitorError):
    """Raised when an article page yields no usable text."""


class QueryError(MonitorError):
    """Raised when a watch-rule query is invalid; ``column`` is 1-based (0 when unknown)."""

    def __init__(self, message: str, column: int = 0) -> None:
        self.message = message
        self.column = column
        super().__init__(f"{message} at column {column}" if column else message)


class StorageError(MonitorError):
    """Raised when the database fails or cannot be reached."""


class DeliveryError(MonitorError):
    """Raised by a channel that could not deliver; ``permanent`` means do not retry."""

    def __init__(self, message: str, permanent: bool = False,
                 retry_after: float | None = None, disable: bool = False) -> None:
        self.permanent = permanent or disable
        self.retry_after = retry_after  # seconds the receiver asked us to wait, if it did
        self.disable = disable  # the receiver is gone for good (HTTP 410): disable the channel
        super().__init__(message)


class NotModified(Exception):  # a signal, not an error
    """Signal: the server answered 304 Not Modified; nothing to parse."""
