"""The ``monitor`` command. Errors are one line on stderr; exit 0 ok, 1 nothing, 2 bad input."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError, MonitorError

EXIT_OK, EXIT_NONE, EXIT_BAD = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``monitor`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    from monitor.log import setup_logging

    setup_logging(args.log_level)
    try:
        return int(args.func(args))
    except ConfigError as e:
        for problem in e.problems:
            print(f"monitor: {problem}", file=sys.stderr)
        return EXIT_BAD
    except MonitorError as e:
        print(f"monitor: {e}", file=sys.stderr)
        return EXIT_BAD
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="monitor", description=__doc__)
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("-c", "--config", required=True)
    run.add_argument("--once", action="store_true", help="poll every feed once, deliver, exit")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check", help="validate a config file")
    check.add_argument("-c", "--config", required=True)
    check.set_defaults(func=cmd_check)

    match = sub.add_parser("match", help="match a query against files or stdin")
    match.add_argument("-q", "--query", required=True)
    match.add_argument("--case-sensitive", action="store_true")
    match.add_argument("files", nargs="*")
    match.set_defaults(func=cmd_match)

    extract = sub.add_parser("extract", help="print the extracted article as JSON")
    extract.add_argument("target", metavar="URL_OR_FILE")
    extract.set_defaults(func=cmd_extract)

    backtest = sub.add_parser("backtest", help="run a query over stored articles")
    backtest.add_argument("-c", "--config", required=True)
    backtest.add_argument("-q", "--query", required=True)
    backtest.add_argument("--case-sensitive", action="store_true")
    backtest.add_argument("--limit", type=int, default=10_000)
    backtest.set_defaults(func=cmd_backtest)

    alerts = sub.add_parser("alerts", help="list alerts, or retry one")
    alerts.add_argument("-c", "--config", required=True)
    state = alerts.add_mutually_exclusive_group()
    state.add_argument("--pending", action="store_const", const="pending", dest="status")
    state.add_argument("--failed", action="store_const", const="failed", dest="status")
    state.add_argument("--sent", action="store_const", const="sent", dest="status")
    alerts.add_argument("--limit", type=int, default=50)
    alerts.add_argument("action", nargs="*", metavar="retry ID")
    alerts.set_defaults(func=cmd_alerts)

    nodes = sub.add_parser("nodes", help="list live daemons sharing the database")
    nodes.add_argument("-c", "--config", required=True)
    nodes.set_defaults(func=cmd_nodes)

    feeds = sub.add_parser("feeds", help="list feeds; import OPML as [[feeds]]; export OPML")
    feeds.add_argument("-c", "--config", required=True)
    feeds.add_argument("action", nargs="?", choices=["list", "import", "export"],
                       default="list")
    feeds.add_argument("file", nargs="?", metavar="FILE.opml", help="the OPML file to import")
    feeds.add_argument("--append", action="store_true",
                       help="import: append the new [[feeds]] to the config file")
    feeds.set_defaults(func=cmd_feeds)

    discover = sub.add_parser("discover", help="find a site's feeds, print [[feeds]] tables")
    discover.add_argument("url", metavar="URL")
    discover.add_argument("--no-probe", action="store_true",
                          help="do not try /feed, /rss.xml ... when the page lists no feed")
    discover.set_defaults(func=cmd_discover)

    parse = sub.add_parser("parse", help="print the entries a feed yields, one JSON line each")
    parse.add_argument("target", metavar="FILE_OR_URL",
                       help="a feed file, - for stdin, or an http(s) URL to fetch")
    parse.set_defaults(func=cmd_parse)

    demo = sub.add_parser("demo", help="run the whole pipeline on local servers")
    demo.set_defaults(func=cmd_demo)
    return p


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import run_daemon

    return asyncio.run(run_daemon(args.config, once=args.once))


def cmd_check(args: argparse.Namespace) -> int:
    from monitor.daemon import load

    config = load(args.config)
    _check_channels(config)
    for warning in config.warnings:
        print(f"monitor: warning: {warning}", file=sys.stderr)
    print(f"{args.config}: ok ({len(config.feeds)} feeds, {len(config.watches)} rules, "
          f"{len(config.channels)} channels)")
    return EXIT_OK


def _check_channels(config: Any) -> None:
    """Build each channel once (nothing is sent) so option clashes are reported too."""
    import httpx

    from monitor.alerts.build import build_channel

    problems = []
    client = httpx.AsyncClient()
    for name, settings in config.channels.items():
        try:
            build_channel(settings, client)
        except ConfigError:
            pass  # unreadable secrets are warnings: they may exist only inside the service
        except ValueError as e:
            problems.append(f"channels.{name}: {e}")
    if problems:
        raise ConfigError(problems)


def cmd_match(args: argparse.Namespace) -> int:
    from monitor.rules import check_query, match_query

    check_query(args.query, case_sensitive=args.case_sensitive)
    sources = args.files or ["-"]
    matched = False
    for name in sources:
        article = _read_article(name)
        match = match_query(args.query, article, case_sensitive=args.case_sensitive)
        if match is None:
            continue
        matched = True
        print(json.dumps({"file": name, "title": article.title, "terms": [
            {"term": t.term, "count": t.count,
             "spans": [{"field": s.field, "start": s.start, "end": s.end} for s in t.spans]}
            for t in match.terms]}, ensure_ascii=False))
    return EXIT_OK if matched else EXIT_NONE


def _read_article(name: str) -> Any:
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
    target = args.target
    if target.startswith(("http://", "https://")):
        article = asyncio.run(_fetch_and_extract(target))
    else:
        article = _read_article(target)
    out = {"url": article.url, "title": article.title, "author": article.author,
           "published": article.published.isoformat() if article.published else None,
           "language": article.language, "text": article.text}
    print(json.dumps(out, ensure_ascii=False, indent=2))
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


def _store(config_path: str) -> Any:
    from monitor.daemon import load
    from monitor.store import Store

    store = Store(load(config_path).monitor.database)
    store.migrate()
    return store


def cmd_backtest(args: argparse.Namespace) -> int:
    from monitor.rules import check_query, match_query
    from monitor.store.codec import as_utc

    check_query(args.query, case_sensitive=args.case_sensitive)
    store = _store(args.config)
    hits = 0
    for row in store.iter_articles(limit=args.limit):
        article = _row_article(row)
        match = match_query(args.query, article, case_sensitive=args.case_sensitive)
        if match is None:
            continue
        hits += 1
        snippet = next((s.text for t in match.terms for s in t.snippets), "")
        date = as_utc(row["published"] or row["created_at"]).date().isoformat()
        print(json.dumps({"title": article.title, "url": article.url, "date": date,
                          "terms": [t.term for t in match.terms], "snippet": snippet},
                         ensure_ascii=False))
    print(f"{hits} stored article(s) would have alerted", file=sys.stderr)
    return EXIT_OK if hits else EXIT_NONE


def _row_article(row: dict[str, Any]) -> Any:
    from monitor.models import Article

    return Article(url=row["url"], title=row["title"], text=row["text"], author=row["author"],
                   published=row["published"], language=row["language"], source=row["source"],
                   from_feed=row["from_feed"])


def cmd_alerts(args: argparse.Namespace) -> int:
    store = _store(args.config)
    if args.action:
        if len(args.action) != 2 or args.action[0] != "retry":
            raise MonitorError("usage: monitor alerts -c FILE retry ID")
        if not store.retry_alert(args.action[1], datetime.now(UTC)):
            raise MonitorError(f"no unsent alert with id {args.action[1]}")
        print(f"alert {args.action[1]} queued for delivery")
        return EXIT_OK
    rows = store.list_alerts(args.status, args.limit)
    for r in rows:
        title = r.payload.get("article", {}).get("title", "")
        print(f"{r.id}  {r.status:<7} {r.channel:<12} attempts={r.attempts} "
              f"rule={r.rule!r} feed={r.feed!r} title={title[:60]!r}"
              + (f" error={r.last_error!r}" if r.last_error else ""))
    return EXIT_OK if rows else EXIT_NONE


def cmd_nodes(args: argparse.Namespace) -> int:
    store = _store(args.config)
    nodes = store.nodes(datetime.now(UTC), alive_within=60)
    for n in nodes:
        print(f"{n['id']}  heartbeat={n['heartbeat_at'].isoformat()} "
              f"feeds_claimed={n['feeds_claimed']} alerts_claimed={n['alerts_claimed']}")
    return EXIT_OK if nodes else EXIT_NONE


def cmd_feeds(args: argparse.Namespace) -> int:
    if args.action == "import":
        return _import_opml(args.config, args.file, append=args.append)
    if args.action == "export":
        return _export_opml(args.config)
    store = _store(args.config)
    feeds = store.feeds()
    for f in feeds:
        last = f.last_polled_at.isoformat() if f.last_polled_at else "never"
        nxt = f.next_poll_at.isoformat() if f.next_poll_at else "now"
        print(f"{f.name!r} state={f.state} last={last} next={nxt} items={f.items_seen}"
              + (f" error={f.last_error!r}" if f.last_error else ""))
    return EXIT_OK if feeds else EXIT_NONE


def _import_opml(config_path: str, opml_path: str | None, append: bool) -> int:
    """Print (or append to the config) one [[feeds]] table per OPML feed not yet configured."""
    from monitor.daemon import load
    from monitor.opml import parse_opml, to_toml

    if not opml_path:
        raise MonitorError("usage: monitor feeds -c FILE import FILE.opml [--append]")
    try:
        data = Path(opml_path).read_bytes()
    except OSError as e:
        raise MonitorError(f"{opml_path}: cannot read: {e.strerror}") from None
    config = load(config_path)
    known = {f.url for f in config.feeds}
    listed = parse_opml(data)
    new = [f for f in listed if f.xml_url not in known]
    snippet = to_toml(new, taken={f.name for f in config.feeds})
    if append and new:
        _append_toml(Path(config_path), snippet)
        print(f"{config_path}: added {len(new)} feed(s)", file=sys.stderr)
    elif new:
        print(snippet, end="")
    print(f"{len(new)} new feed(s), {len(listed) - len(new)} already configured",
          file=sys.stderr)
    return EXIT_OK if new else EXIT_NONE


def _append_toml(path: Path, snippet: str) -> None:
    """Append ``snippet`` to the TOML file at ``path`` atomically, if the result still parses."""
    import os
    import tempfile
    import tomllib

    old = path.read_text(encoding="utf-8")
    text = old + ("" if old.endswith("\n") or not old else "\n") + "\n" + snippet
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MonitorError(f"{path}: appending would make invalid TOML ({e}); "
                           "run without --append and paste the tables") from None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, path.stat().st_mode & 0o7777)
    os.replace(tmp, path)


def _export_opml(config_path: str) -> int:
    """Print the configured feeds as OPML 2.0 (folders by first tag)."""
    from monitor.daemon import load
    from monitor.opml import OpmlFeed, to_opml

    config = load(config_path)
    sys.stdout.buffer.write(to_opml([OpmlFeed(f.name, f.url, f.tags) for f in config.feeds]))
    return EXIT_OK if config.feeds else EXIT_NONE


def cmd_discover(args: argparse.Namespace) -> int:
    from monitor.discover import as_config_snippet

    found = asyncio.run(_discover(args.url, probe=not args.no_probe))
    for f in found:
        print(f"{f.via:<10} {f.url}  {f.title!r}" + (f"  error={f.error!r}" if f.error else ""),
              file=sys.stderr)
    if not found:
        print(f"monitor: no feed found for {args.url}", file=sys.stderr)
        return EXIT_NONE
    print(as_config_snippet(found), end="")
    return EXIT_OK


async def _discover(url: str, probe: bool) -> Any:
    from monitor.discover import discover
    from monitor.fetch import Fetcher

    fetcher = Fetcher(user_agent="monitor/0.1 (discover)")
    try:
        return await discover(url, fetcher, probe_common=probe)
    finally:
        await fetcher.aclose()


def cmd_parse(args: argparse.Namespace) -> int:
    """The entries of one feed as the daemon sees them; the parse warning on stderr."""
    from monitor.feeds import parse_feed

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
    feed = parse_feed(content, url, content_type=content_type)
    if feed.warning:
        print(f"monitor: warning: {feed.warning}", file=sys.stderr)
    lines = (json.dumps({"id": entry.key, "title": entry.title, "link": entry.url,
                         "published": entry.published.isoformat() if entry.published else None,
                         "author": entry.author, "summary_chars": len(entry.summary),
                         "summary": entry.summary[:200]}, ensure_ascii=False)
             for entry in feed.entries)
    _print_lines(lines)
    return EXIT_OK if feed.entries else EXIT_NONE


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


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    return asyncio.run(run_demo())
