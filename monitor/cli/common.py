"""What several command families share: exit statuses, the database, query advice."""

from __future__ import annotations

import sys
from typing import Any

from monitor.errors import MonitorError

EXIT_OK, EXIT_NONE, EXIT_BAD = 0, 1, 2


def open_store(config_path: str) -> Any:
    """The database of an existing installation; never creates one (that is ``monitor run``)."""
    from monitor.config import sqlite_file
    from monitor.daemon import load
    from monitor.store import open_database

    config = load(config_path)
    url = config.monitor.database
    file = sqlite_file(url)
    if file is not None and not file.exists():
        raise MonitorError(f"no database at {file} (run `monitor run` first, "
                           "or check [monitor] database)")
    store = open_database(config.monitor)
    store.migrate()
    return store


def warn_query(query: str, where: str = "") -> None:
    """Print the query's advice lines (lowercase ``or`` and friends) on stderr."""
    from monitor.rules import query_warnings

    for warning in query_warnings(query):
        print(f"monitor: warning: {where}query {warning}", file=sys.stderr)
