"""The full-text area: each stored article's terms, and the candidates of a prefilter.

``article_terms`` (schema version 10) holds one row per article: its terms, encoded and
space separated as ``monitor.rules.prefilter`` makes them (an FTS5 table on SQLite, a
``tsvector`` with a GIN index on PostgreSQL), or ``x`` (``UNINDEXED``) until they are
known: a trigger gives every new article that row, the migration gave it to every article
stored before, and an article edited in place goes back to it. The terms come from the
caller (the store imports no matcher): the pipeline hands them in with each new article,
``index_pending`` computes the missing ones with a function it is given.

A prefilter (alternatives, each a conjunction of terms, ``stem*`` for a prefix) picks the
ids whose terms satisfy it, plus every ``x`` row: a superset of what the query matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from sqlalchemy import Integer, column, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.selectable import TextualSelect

from monitor.models import Article
from monitor.store import schema as t
from monitor.store.base import StoreBase, chunks
from monitor.store.codec import stored_article
from monitor.store.records import StoredArticle

UNINDEXED = "x"
"""The one term no encoded term equals: the article's terms are not known yet."""
MAX_TERMS = 900_000
"""Terms longer than this (PostgreSQL: a tsvector under 1 MB) are not indexed: ``x``."""
MAX_TERM = 1000
"""Nor are the terms of an article with one this long (PostgreSQL: a lexeme under 2 kB)."""
PAGE = 200
"""Candidate articles read per transaction."""


_MATCH = {False: "SELECT rowid AS id FROM article_terms WHERE article_terms MATCH :q",
          True: "SELECT article_id AS id FROM article_terms WHERE terms @@ CAST(:q AS tsquery)"}


def _any_of(alternatives: Sequence[tuple[str, ...]], postgres: bool) -> str:
    """The full-text query true where one of ``alternatives`` (each a conjunction) is."""
    if postgres:
        return " | ".join("(" + " & ".join(
            f"'{term[:-1]}':*" if term.endswith("*") else f"'{term}'" for term in alt)
            + ")" for alt in alternatives)
    return " OR ".join("(" + " AND ".join(
        f'"{term[:-1]}"*' if term.endswith("*") else f'"{term}"' for term in alt)
        + ")" for alt in alternatives)


def all_of(clauses: Sequence[Sequence[tuple[str, ...]]], postgres: bool) -> TextualSelect:
    """The ids (column ``id``) of the indexed articles where every clause (a prefilter:
    alternatives, each a conjunction) is true; an article not indexed yet is not one."""
    q = (" & " if postgres else " AND ").join(
        f"({_any_of(clause, postgres)})" for clause in clauses)
    sql = _MATCH[postgres].replace(":q", ":fulltext_q")
    return text(sql).bindparams(fulltext_q=q).columns(column("id", Integer))


class FullTextMixin(StoreBase):
    """Writing article terms; reading the candidates of a prefilter."""

    def _write_terms(self, conn: Connection, article_id: int, terms: str | None) -> None:
        """Set the terms of ``article_id`` (None, or too long to index: ``x``)."""
        if terms is None or len(terms) > MAX_TERMS or any(
                len(term) > MAX_TERM for term in terms.split()):
            terms = UNINDEXED
        if self.postgres:
            conn.execute(text(
                "INSERT INTO article_terms (article_id, terms) VALUES (:id, CAST(:terms AS "
                "tsvector)) ON CONFLICT (article_id) DO UPDATE SET terms = excluded.terms"),
                {"id": article_id, "terms": terms})
        else:
            conn.execute(text("DELETE FROM article_terms WHERE rowid = :id"), {"id": article_id})
            conn.execute(text("INSERT INTO article_terms (rowid, terms) VALUES (:id, :terms)"),
                         {"id": article_id, "terms": terms})

    def _matching_ids(self, conn: Connection, alternatives: Sequence[tuple[str, ...]],
                      floor: int = 0, before: int | None = None, limit: int | None = None
                      ) -> list[int]:
        """Ids in ``[floor, before)`` matching ``alternatives`` or not indexed, newest
        first (the ``limit`` newest, with one)."""
        q = _any_of([*alternatives, (UNINDEXED,)], self.postgres)
        sql, key = _MATCH[self.postgres], "article_id" if self.postgres else "rowid"
        # bounds only when given: PostgreSQL would AND a bitmap of the whole primary key
        sql += f" AND {key} >= :floor" if floor else ""
        sql += f" AND {key} < :before" if before is not None else ""
        if self.postgres:  # the GIN index first: never a walk down the key testing rows
            sql = f"WITH m AS MATERIALIZED ({sql}) SELECT id FROM m"
        sql += " ORDER BY id DESC" + ("" if limit is None else f" LIMIT {int(limit)}")
        params = {"q": q, "floor": floor, "before": before}
        return [int(i) for i in conn.execute(text(sql), params).scalars()]

    def newest_window(self, limit: int | None) -> tuple[int, int]:
        """(how many articles, the lowest id) of the ``limit`` newest (all, with None)."""
        a = t.articles.c
        with self._begin() as conn:
            count = int(conn.execute(select(func.count()).select_from(t.articles)).scalar()
                        or 0)
            if limit is None or count <= limit:
                return count, 0
            floor = conn.execute(select(a.id).order_by(a.id.desc()).offset(limit - 1)
                                 .limit(1)).scalar()
            return limit, int(floor or 0)

    def iter_candidates(self, alternatives: Sequence[tuple[str, ...]], floor: int = 0
                        ) -> Iterator[StoredArticle]:
        """The articles (id >= ``floor``) whose terms satisfy ``alternatives`` or are not
        known yet, newest first, read ``PAGE`` at a time: the newest page's ids are asked
        for alone (a first page comes back at once), the rest's in one query after it."""
        with self._begin() as conn:
            ids = self._matching_ids(conn, alternatives, floor, limit=PAGE)
        yield from self._read(ids)
        if len(ids) < PAGE:
            return
        with self._begin() as conn:
            rest = self._matching_ids(conn, alternatives, floor, before=ids[-1])
        for page in chunks(rest, PAGE):
            yield from self._read(page)

    def _read(self, ids: list[int]) -> Iterator[StoredArticle]:
        if not ids:
            return
        a = t.articles.c
        with self._begin() as conn:
            rows = conn.execute(select(t.articles).where(a.id.in_(ids))
                                .order_by(a.id.desc())).all()
        yield from (stored_article(r._mapping) for r in rows)

    def index_pending(self, terms_of: Callable[[Article], str], limit: int) -> int:
        """Index up to ``limit`` articles whose terms are not known (``terms_of`` gives
        them); how many were indexed."""
        with self._begin() as conn:
            ids = self._matching_ids(conn, [(UNINDEXED,)], limit=limit)
        done = 0
        for page in chunks(ids, PAGE):
            with self._begin() as conn:
                rows = conn.execute(select(t.articles).where(t.articles.c.id.in_(page))).all()
                for row in rows:
                    stored = stored_article(row._mapping)
                    self._write_terms(conn, stored.id, terms_of(stored.article))
                    done += 1
        return done
