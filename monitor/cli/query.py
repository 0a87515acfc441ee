"""``monitor match``, ``extract``, ``backtest`` and ``parse``: one query or one document."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from monitor.cli.common import EXIT_NONE, EXIT_OK, open_store, warn_query
from monitor.errors import MonitorError


def cmd_match(args: argparse.Namespace) -> int:
    from monitor.jsonshape import term_json
    from monitor.rules import check_query, match_query

    check_query(args.query, case_sensitive=args.case_sensitive)
    warn_query(args.query)
    sources = args.files or ["-"]
    matched = False
    for name in sources:
        article = _read_article(name)
        match = match_query(args.query, article, case_sensitive=args.case_sensitive,
                            exact=args.exact, explain=args.explain)
        if match is None:
            continue
        matched = True
        print(json.dumps({"file": name, "title": article.title,
                          "terms": [term_json(t) for t in match.terms]}, ensure_ascii=False))
    return EXIT_OK if matched else EXIT_NONE


def _read_article(name: str) -> Any:
    """The article in a file (or stdin), its language declared or detected."""
    from dataclasses import replace

    from monitor.language import article_language

    article = _read_document(name)
    return replace(article, language=article_language(article))


def _read_document(name: str) -> Any:
    from monitor.extract import article_from_text, extract_article

    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as e:
        raise MonitorError(f"{name}: cannot read: {e.strerror}") from None
    head = data[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in data[:65536].lower():
        return extract_article(data, "" if name == "-" else Path(name).resolve().as_uri())
    return article_from_text(data.decode("utf-8", "replace"), url="")


def cmd_extract(args: argparse.Namespace) -> int:
    from monitor.jsonshape import article_json

    target = args.target
    if target.startswith(("http://", "https://")):
        article = asyncio.run(_fetch_and_extract(target))
    else:
        article = _read_article(target)
    print(json.dumps(article_json(article, text=True), ensure_ascii=False, indent=2))
    return EXIT_OK


async def _fetch_and_extract(url: str) -> Any:
    from monitor.extract import extract_article
    from monitor.fetch import Fetcher

    fetcher = Fetcher(user_agent="monitor/0.1 (extract)")
    try:
        page = await fetcher.fetch(url, trusted=True, html_only=True)
    finally:
        await fetcher.aclose()
    return extract_article(page.content, page.url)


def cmd_backtest(args: argparse.Namespace) -> int:
    from monitor.backtest import Backtest
    from monitor.jsonshape import hit_json

    backtest = Backtest(args.query, case_sensitive=args.case_sensitive)
    hits = 0
    for stored, match in backtest.run(open_store(args.config), args.scan):
        hits += 1
        if args.limit is None or hits <= args.limit:
            print(json.dumps(hit_json(stored.article, match.terms, stored.stored_at),
                             ensure_ascii=False))
    scanned = backtest.scanned
    shown = f", the first {args.limit} shown" if args.limit is not None and hits > args.limit \
        else ""
    newest = f"the {scanned} newest" if scanned >= args.scan else f"{scanned}"
    print(f"{hits} of {newest} stored article(s) would have alerted{shown}", file=sys.stderr)
    return EXIT_OK if hits else EXIT_NONE


def cmd_parse(args: argparse.Namespace) -> int:
    """The entries of one source as the daemon sees them; the parse warning on stderr."""
    from monitor.config.sourcekinds import options_from_pairs
    from monitor.sources import parse_source

    options = options_from_pairs(args.kind, args.option)

    target = args.target
    if target.startswith(("http://", "https://")):
        result = asyncio.run(_fetch_feed(target))
        content, url, content_type = result.content, result.url, result.content_type
    else:
        try:
            content = sys.stdin.buffer.read() if target == "-" else Path(target).read_bytes()
        except OSError as e:
            raise MonitorError(f"{target}: cannot read: {e.strerror}") from None
        url, content_type = "" if target == "-" else Path(target).resolve().as_uri(), ""
    feed = parse_source(args.kind, content, url, content_type=content_type, options=options)
    if feed.warning:
        print(f"monitor: warning: {feed.warning}", file=sys.stderr)
    for child in feed.children:
        print(f"monitor: index: child sitemap {child} (monitor parse it to see its entries)",
              file=sys.stderr)
    lines = (json.dumps({"id": entry.key, "title": entry.title, "link": entry.url,
                         "published": entry.published.isoformat() if entry.published else None,
                         "author": entry.author, "summary_chars": len(entry.summary),
                         "summary": entry.summary[:200]}
                        | ({"source": entry.source} if entry.source else {}),
                        ensure_ascii=False)
             for entry in feed.entries)
    _print_lines(lines)
    return EXIT_OK if feed.entries or feed.children else EXIT_NONE


def _print_lines(lines: Iterable[str]) -> None:
    """Print to stdout; a reader that stops early (``| head``) ends the output quietly."""
    import os

    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


async def _fetch_feed(url: str) -> Any:
    from monitor.fetch import Fetcher

    fetcher = Fetcher(user_agent="monitor/0.1 (parse)")
    try:
        return await fetcher.fetch(url, trusted=True)
    finally:
        await fetcher.aclose()
