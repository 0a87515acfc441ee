"""Load and validate the TOML configuration into typed, frozen settings.

Every problem is collected and reported at once, one line each, naming its key path
(``watch[1].query: unbalanced quote at column 7``). Query syntax is checked by a
``query_checker`` passed in by the caller, so this package depends on nothing above it.
Secrets come from ``*_file`` or ``*_env`` keys, never inline (``secrets``). Relative paths
(a SQLite database, ``*_file``, watchlist files, includes) are taken from the folder of the
file that names them, never from the current directory. ``monitor check`` and the daemon's
start-up and reload all call ``load_config``, so they refuse the same configs.

Modules, bottom up: ``durations``, ``addresses``, ``secrets`` and ``watchlists`` (values),
``keys`` (how a settings field declares its key), ``channels`` (settings per channel type),
``settings`` (the rest), ``validate`` (tables to settings), ``loader`` (files to tables).
This module is the public face: import from ``monitor.config``.
"""

from monitor.config.addresses import (
    database_url,
    is_loopback,
    parse_address,
    parse_host,
    sqlite_file,
)
from monitor.config.channels import (
    CHANNEL_TYPES,
    AppriseSettings,
    ChannelSettings,
    EmailSettings,
    WebhookSettings,
    email_problems,
)
from monitor.config.durations import cron_trigger, parse_duration
from monitor.config.loader import load_config
from monitor.config.secrets import Secret
from monitor.config.settings import (
    JSON_PRESETS,
    KIND_OPTIONS,
    RESTART_KEYS,
    ROLES,
    ClusterSettings,
    Config,
    DeliverySettings,
    FeedSettings,
    FetchSettings,
    HealthSettings,
    MonitorSettings,
    PollSettings,
    RetentionSettings,
    SourceOptions,
    UserSettings,
    WatchSettings,
    WebSettings,
)
from monitor.config.spikes import Spike
from monitor.config.validate import (
    CHANNEL_KEYS,
    FEED_KEYS,
    MONITOR_KEYS,
    WATCH_KEYS,
    WATCHLIST_KEYS,
    QueryChecker,
    check_query_with,
)
from monitor.config.watchlists import watchlist_lines

__all__ = [
    "CHANNEL_KEYS", "CHANNEL_TYPES", "FEED_KEYS", "JSON_PRESETS", "KIND_OPTIONS", "MONITOR_KEYS",
    "RESTART_KEYS", "ROLES", "WATCHLIST_KEYS",
    "WATCH_KEYS", "AppriseSettings", "ChannelSettings", "ClusterSettings", "Config",
    "DeliverySettings", "EmailSettings", "FeedSettings", "FetchSettings", "HealthSettings",
    "MonitorSettings", "PollSettings", "QueryChecker", "RetentionSettings", "Secret",
    "SourceOptions", "Spike", "UserSettings", "WatchSettings", "WebSettings", "WebhookSettings",
    "check_query_with",
    "cron_trigger", "database_url", "email_problems", "is_loopback", "load_config",
    "parse_address", "parse_duration", "parse_host", "sqlite_file", "watchlist_lines",
]
