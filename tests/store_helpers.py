"""Store operations only tests need, written over the Store's public methods."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.models import Match
from monitor.store import (
    AlertedSince,
    ArticleWrite,
    NewArticle,
    RuleChannels,
    SameStory,
    Store,
)


def store_article(store: Store, feed_id: int, feed_name: str, new: NewArticle,
                  rule_channels: RuleChannels, now: datetime,
                  same_story: SameStory | None = None) -> list[str]:
    """Store one article, its matches and their alerts (on ``rule_channels``, whatever the
    rate) in one transaction; the ids of the alerts created."""
    def route(matches: Sequence[Match], alerted: AlertedSince) -> RuleChannels:
        return rule_channels

    write = ArticleWrite(feed_id, feed_name, new, route, now)
    return store.store_articles([write], same_story)[0]


def known_keys(store: Store, feed_id: int, keys: Sequence[str]) -> set[str]:
    """The entry keys of ``feed_id`` among ``keys`` that were seen before."""
    return set(store.known_versions(feed_id, keys))
