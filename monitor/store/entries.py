"""The entries area: which items of a feed were seen before, by GUID or by content.

An entry is seen when its key (GUID, else link) was stored for the feed, or when its
content key (``monitor.dedup.content_key``: link and title) was: a feed that gives every
item a fresh GUID on each request lists nothing new. Each entry the feed still lists has
its ``last_seen`` moved forward (at most once per ``TOUCH_EVERY``, so a poll writes little);
retention deletes entries by it, so an item a feed keeps listing is never forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from monitor.dedup import content_key, dated_entry_version, entry_version, key_hash
from monitor.models import Entry
from monitor.store import schema as t
from monitor.store.base import chunks
from monitor.store.codec import as_utc

if TYPE_CHECKING:
    from monitor.store.base import StoreBase
else:
    StoreBase = object

TOUCH_EVERY = timedelta(days=1)
"""How stale an entry's ``last_seen`` may get while its feed lists it: retention keeps an
entry listed within this of its feed's newest (``monitor.store.retention``)."""


class EntriesMixin(StoreBase):
    """What a poll asks of the entries before fetching anything."""

    def seen_entries(self, feed_id: int, entries: Sequence[Entry],
                     now: datetime) -> dict[str, str | None]:
        """Entry key -> stored version, for the ``entries`` of ``feed_id`` seen before: by
        key, or (a new GUID, the same link and title) by content key, which counts as
        unedited. A version stored before schema 8 (date included) that still fits is
        given as today's. Marks every one of them as still listed (``last_seen``)."""
        by_hash = {key_hash(e.key): e for e in entries}
        e = t.entries.c
        found: dict[str, str | None] = {}
        stale: list[int] = []
        with self._begin() as conn:
            for chunk in chunks(list(by_hash)):
                q = select(e.id, e.key_hash, e.version, e.last_seen).where(
                    e.feed_id == feed_id, e.key_hash.in_(chunk))
                for row_id, hashed, version, last_seen in conn.execute(q):
                    entry = by_hash[hashed]
                    fits = version is not None and version == dated_entry_version(entry)
                    found[entry.key] = entry_version(entry) if fits else version
                    stale += _stale(row_id, last_seen, now)
            by_content: dict[str, list[Entry]] = {}
            for x in entries:
                k = None if x.key in found else content_key(x)
                if k is not None:
                    by_content.setdefault(k, []).append(x)
            for keys in chunks(list(by_content)):
                q = select(e.id, e.content_key, e.last_seen).where(
                    e.feed_id == feed_id, e.content_key.in_(keys))
                for row in conn.execute(q):
                    for x in by_content[str(row.content_key)]:
                        found[x.key] = entry_version(x)
                    stale += _stale(row.id, row.last_seen, now)
        if stale:  # its own transaction: a read turned write can fail on a busy SQLite
            with self._begin() as conn:
                for ids in chunks(sorted(set(stale))):
                    conn.execute(update(t.entries).where(e.id.in_(ids)).values(last_seen=now))
        return found


def _stale(row_id: int, last_seen: datetime | None, now: datetime) -> list[int]:
    return [row_id] if last_seen is None or as_utc(last_seen) < now - TOUCH_EVERY else []
