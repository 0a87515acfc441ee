"""Persistence: SQLAlchemy Core on SQLite (one node) or PostgreSQL (several nodes).

``Store`` is the only way the rest of monitor touches the database. Work is claimed with
leases (``claimed_by``, ``lease_until``); on PostgreSQL the claims use
``FOR UPDATE SKIP LOCKED`` so several daemons share feeds and alerts without doubling any.
"""

from monitor.store.db import Store
from monitor.store.records import AlertRow, ChannelState, FeedState, NewArticle, PollRecord

__all__ = ["AlertRow", "ChannelState", "FeedState", "NewArticle", "PollRecord", "Store"]
