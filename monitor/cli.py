"""The ``monitor`` command. Errors are one line on stderr; exit 0 ok, 1 nothing, 2 bad input."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError, MonitorError
from monitor.timeutil import iso

EXIT_OK, EXIT_NONE, EXIT_BAD = 0, 1, 2
BACKTEST_SCAN = 10_000
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LOG_LEVEL_HELP = "how much to log on stderr (default: INFO)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``monitor`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    from monitor.log import setup_logging

    setup_logging(args.log_level)
    if getattr(args, "config_required", False) and not args.config:
        args.config = os.environ.get("MONITOR_CONFIG")
        if not args.config:
            print("monitor: no config file: pass -c FILE or set MONITOR_CONFIG", file=sys.stderr)
            return EXIT_BAD
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


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: it takes ``--log-level`` too, so it works after the command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS,
                          help=LOG_LEVEL_HELP)


def _config_option(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``-c/--config FILE``; $MONITOR_CONFIG stands in for a required one not given."""
    parser.add_argument("-c", "--config", metavar="FILE", help="the config file" + (
        " (default: $MONITOR_CONFIG)" if required else " (optional)"))
    parser.set_defaults(config_required=required)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("monitor")
    except PackageNotFoundError:  # run from a source tree that is not installed
        from monitor import __version__

        return __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="monitor", description=__doc__)
    p.add_argument("--log-level", default="INFO", choices=LOG_LEVELS, help=LOG_LEVEL_HELP)
    p.add_argument("--version", action="version", version=f"monitor {_version()}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_CommandParser)

    run = sub.add_parser("run", help="run the daemon")
    _config_option(run)
    run.add_argument("--once", action="store_true", help="poll every feed once, deliver, exit")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check", help="validate a config file")
    _config_option(check)
    check.set_defaults(func=cmd_check)

    match = sub.add_parser("match", help="match a query against files or stdin")
    match.add_argument("-q", "--query", required=True, help="the watch-rule query")
    match.add_argument("--case-sensitive", action="store_true",
                       help="compare tokens and regexes without case folding")
    match.add_argument("--exact", action="store_true",
                       help="match every term literally (no plurals, spellings … folded)")
    match.add_argument("files", nargs="*", metavar="FILE",
                       help="text or HTML files (default: stdin)")
    match.set_defaults(func=cmd_match)

    extract = sub.add_parser("extract", help="print the extracted article as JSON")
    extract.add_argument("target", metavar="URL_OR_FILE", help="an article URL or HTML file")
    extract.set_defaults(func=cmd_extract)

    backtest = sub.add_parser("backtest", help="run a query over stored articles")
    _config_option(backtest)
    backtest.add_argument("-q", "--query", required=True, help="the watch-rule query")
    backtest.add_argument("--case-sensitive", action="store_true",
                          help="compare tokens and regexes without case folding")
    backtest.add_argument("--limit", type=_positive, default=None, metavar="N",
                          help="print at most N of the articles it would have alerted "
                               "(default: all)")
    backtest.add_argument("--scan", type=_positive, default=BACKTEST_SCAN, metavar="N",
                          help=f"scan the N newest stored articles (default {BACKTEST_SCAN})")
    backtest.set_defaults(func=cmd_backtest)

    alerts = sub.add_parser("alerts", help="list alerts, or retry them",
                            description="List alerts (newest first), or queue them again: "
                            "retry ID [ID...], retry --failed, retry --channel NAME.")
    _config_option(alerts)
    state = alerts.add_mutually_exclusive_group()
    state.add_argument("--pending", action="store_const", const="pending", dest="status",
                       help="only alerts waiting for delivery (retry: make them due now)")
    state.add_argument("--failed", action="store_const", const="failed", dest="status",
                       help="only alerts that failed for good (retry: every one of them)")
    state.add_argument("--sent", action="store_const", const="sent", dest="status",
                       help="only delivered alerts")
    alerts.add_argument("--channel", metavar="NAME",
                        help="only alerts on this channel (retry: its failed and pending ones)")
    alerts.add_argument("--limit", type=_positive, default=50, metavar="N",
                        help="list at most N alerts (default 50)")
    alerts.add_argument("action", nargs="*", metavar="retry ID",
                        help="queue these alerts (or the ones --failed/--channel select) again")
    alerts.set_defaults(func=cmd_alerts)

    nodes = sub.add_parser("nodes", help="list live daemons sharing the database")
    _config_option(nodes)
    nodes.set_defaults(func=cmd_nodes)

    feeds = sub.add_parser("feeds", help="list feeds; poll some now; import OPML as "
                           "[[feeds]]; export OPML")
    _config_option(feeds)
    feeds.add_argument("action", nargs="?", choices=["list", "poll", "import", "export"],
                       default="list",
                       help="list (default), poll NAME..., import FILE.opml or export")
    feeds.add_argument("file", nargs="*", metavar="FILE.opml|NAME",
                       help="import: the OPML file; poll: the names of the feeds to poll now")
    feeds.add_argument("--append", action="store_true",
                       help="import: append the new [[feeds]] to the config file")
    feeds.set_defaults(func=cmd_feeds)

    discover = sub.add_parser("discover", help="find a site's feeds, print [[feeds]] tables")
    discover.add_argument("url", metavar="URL",
                          help="a site, page or feed; without a scheme https:// then http://")
    discover.add_argument("--no-probe", action="store_true",
                          help="do not try /feed, /rss.xml ... when the page lists no feed")
    discover.set_defaults(func=cmd_discover)

    channels = sub.add_parser("channels", help="channel state (disabled after a 410), or "
                              "enable channels again")
    _config_option(channels)
    channels.add_argument("action", nargs="?", choices=["list", "enable"], default="list",
                          help="list (default): every configured channel with its state; "
                               "enable: deliver on the named channels again")
    channels.add_argument("names", nargs="*", metavar="NAME", help="enable: the channels")
    channels.set_defaults(func=cmd_channels)

    parse = sub.add_parser("parse", help="print the entries a feed yields, one JSON line each")
    parse.add_argument("target", metavar="FILE_OR_URL",
                       help="a feed file, - for stdin, or an http(s) URL to fetch")
    parse.set_defaults(func=cmd_parse)

    demo = sub.add_parser("demo", help="run the whole pipeline on local servers")
    demo.set_defaults(func=cmd_demo)
    return p


def _positive(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import run_daemon

    return asyncio.run(run_daemon(args.config, once=args.once))


def cmd_check(args: argparse.Namespace) -> int:
    from monitor.daemon import load

    config = load(args.config)
    _check_channels(config)
    for warning in config.warnings:
        print(f"monitor: warning: {warning}", file=sys.stderr)
    for watch in config.watches:
        _warn_query(watch.query, f"rule {watch.name!r}: ")
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


def _warn_query(query: str, where: str = "") -> None:
    """Print the query's advice lines (lowercase ``or`` and friends) on stderr."""
    from monitor.rules import query_warnings

    for warning in query_warnings(query):
        print(f"monitor: warning: {where}query {warning}", file=sys.stderr)


def cmd_match(args: argparse.Namespace) -> int:
    from monitor.jsonshape import term_json
    from monitor.rules import check_query, match_query

    check_query(args.query, case_sensitive=args.case_sensitive)
    _warn_query(args.query)
    sources = args.files or ["-"]
    matched = False
    for name in sources:
        article = _read_article(name)
        match = match_query(args.query, article, case_sensitive=args.case_sensitive,
                            exact=args.exact)
        if match is None:
            continue
        matched = True
        print(json.dumps({"file": name, "title": article.title,
                          "terms": [term_json(t) for t in match.terms]}, ensure_ascii=False))
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


def _store(config_path: str) -> Any:
    """The database of an existing installation; never creates one (that is ``monitor run``)."""
    from monitor.config import sqlite_file
    from monitor.daemon import load
    from monitor.store import Store

    url = load(config_path).monitor.database
    file = sqlite_file(url)
    if file is not None and not file.exists():
        raise MonitorError(f"no database at {file} (run `monitor run` first, "
                           "or check [monitor] database)")
    store = Store(url)
    store.migrate()
    return store


def cmd_backtest(args: argparse.Namespace) -> int:
    from monitor.backtest import Backtest
    from monitor.jsonshape import hit_json

    backtest = Backtest(args.query, case_sensitive=args.case_sensitive)
    hits = 0
    for stored, match in backtest.run(_store(args.config), args.scan):
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


def cmd_alerts(args: argparse.Namespace) -> int:
    store = _store(args.config)
    if args.action:
        return _retry_alerts(args, store)
    rows = store.list_alerts(args.status, args.limit, channel=args.channel)
    if not rows:
        which = " ".join(filter(None, ("no", args.status, "alerts")))
        print(which + (f" on channel {args.channel}" if args.channel else ""), file=sys.stderr)
        return EXIT_NONE
    states = store.channel_states()
    for r in rows:
        print(_alert_line(r, states))
    return EXIT_OK


def _alert_line(r: Any, states: dict[str, Any]) -> str:
    """One alert: id, status, channel (and its state), times, rule, feed, link, title, error."""
    from monitor.dedup import strip_tracking

    state = states.get(r.channel)
    channel = r.channel + (f" (disabled: {state.reason})" if state and state.disabled else "")
    waiting = r.status == "pending"
    return (f"{r.id}  {r.status:<7} channel={channel} created={_iso(r.created_at)} "
            f"sent={_iso(r.sent_at)} next={_iso(r.next_attempt_at if waiting else None)} "
            f"attempts={r.attempts} rule={r.rule!r} feed={r.feed!r} "
            f"url={strip_tracking(r.article.url) or '-'} "
            f"title={r.article.title[:60]!r}"
            + (f" error={r.last_error!r}" if r.last_error else ""))


def _iso(when: datetime | None) -> str:
    return iso(when) if when else "-"


def _retry_alerts(args: argparse.Namespace, store: Any) -> int:
    """Queue alerts again: by id, or all failed (``--failed``), or a channel's unsent ones.

    One line per alert queued; an alert that cannot be (unknown, sent, its channel disabled
    or gone from the config) is one line on stderr, and the exit status is then 2."""
    from monitor.daemon import load

    verb, ids = args.action[0], args.action[1:]
    if verb != "retry" or bool(ids) == bool(args.status or args.channel):
        raise MonitorError("usage: monitor alerts -c FILE retry ID [ID ...] | retry --failed "
                           "| retry --channel NAME")
    if args.status == "sent":
        raise MonitorError("sent alerts are not sent again: retry takes --failed or --pending")
    config = load(args.config)
    if args.channel is not None and args.channel not in config.channels:
        raise MonitorError(f"unknown channel {args.channel!r}{_configured(config)}")
    rows, problems = _retry_selection(args, store, ids)
    states = store.channel_states()
    now = datetime.now(UTC)
    for row in rows:
        state = states.get(row.channel)
        if row.channel not in config.channels:
            problems.append(f"alert {row.id}: channel {row.channel} is not in the config")
        elif state is not None and state.disabled:
            problems.append(f"alert {row.id}: channel {row.channel} is disabled "
                            f"({state.reason}); run monitor channels -c {args.config} "
                            f"enable {row.channel}")
        elif store.retry_alert(row.id, now):
            print(f"alert {row.id} queued for delivery on {row.channel}")
    for problem in problems:
        print(f"monitor: {problem}", file=sys.stderr)
    if not rows and not problems:
        print(" ".join(filter(None, ("no", args.status or "failed or pending", "alerts")))
              + (f" on channel {args.channel}" if args.channel else ""), file=sys.stderr)
        return EXIT_NONE
    return EXIT_BAD if problems else EXIT_OK


def _retry_selection(args: argparse.Namespace, store: Any, ids: list[str]
                     ) -> tuple[list[Any], list[str]]:
    """The unsent alerts to retry, and a problem per id that names none."""
    if not ids:
        statuses = [args.status] if args.status else ["failed", "pending"]
        return store.list_alerts(statuses, None, channel=args.channel), []
    found = {r.id: r for r in store.list_alerts(None, None, ids=ids)}
    rows, problems = [], []
    for alert_id in dict.fromkeys(ids):
        row = found.get(alert_id)
        if row is None or row.status == "sent":
            problems.append(f"no unsent alert with id {alert_id}")
        else:
            rows.append(row)
    return rows, problems


def _configured(config: Any) -> str:
    names = ", ".join(config.channels)
    return f" (configured: {names})" if names else " (no channels configured)"


def cmd_nodes(args: argparse.Namespace) -> int:
    store = _store(args.config)
    nodes = store.nodes(datetime.now(UTC), alive_within=60)
    for n in nodes:
        print(f"{n.id}  heartbeat={n.heartbeat_at.isoformat()} "
              f"feeds_claimed={n.feeds_claimed} alerts_claimed={n.alerts_claimed}")
    return EXIT_OK if nodes else EXIT_NONE


def cmd_feeds(args: argparse.Namespace) -> int:
    if args.action == "poll":
        return _poll_feeds(args.config, args.file)
    if args.action == "import":
        if len(args.file) > 1:
            raise MonitorError("usage: monitor feeds -c FILE import FILE.opml [--append]")
        return _import_opml(args.config, args.file[0] if args.file else None,
                            append=args.append)
    if args.file:
        raise MonitorError(f"usage: monitor feeds -c FILE {args.action} takes no arguments")
    if args.action == "export":
        return _export_opml(args.config)
    store = _store(args.config)
    feeds = store.feeds()
    for f in feeds:
        last = f.last_polled_at.isoformat() if f.last_polled_at else "never"
        nxt = f.next_poll_at.isoformat() if f.next_poll_at else "now"
        print(f"{f.name!r} state={f.health} last={last} next={nxt} items={f.items_seen}"
              + (f" error={f.last_error!r}" if f.last_error else "")
              + (f" warning={f.warning!r}" if f.warning else ""))
    return EXIT_OK if feeds else EXIT_NONE


def _poll_feeds(config_path: str, names: list[str]) -> int:
    """Make the named feeds due now in the database: any running node polls them next."""
    from monitor.daemon import load

    if not names:
        raise MonitorError("usage: monitor feeds -c FILE poll NAME [NAME...]")
    config = load(config_path)
    unknown = [n for n in names if config.feed(n) is None]
    if unknown:
        raise MonitorError(f"no feed named {', '.join(map(repr, unknown))} in {config_path}")
    store = _store(config_path)
    due = store.poll_now(names, datetime.now(UTC))
    for name in names:
        print(f"{name!r}: " + ("due now; a running daemon polls it within seconds"
                               if name in due else "not in the database yet; it is polled "
                               "when the daemon starts"))
    return EXIT_OK


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


def cmd_channels(args: argparse.Namespace) -> int:
    from monitor.daemon import load

    config = load(args.config)
    store = _store(args.config)
    if args.action == "enable":
        return _enable_channels(config, store, args.names, args.config)
    if args.names:
        raise MonitorError("usage: monitor channels -c FILE [enable NAME ...]")
    if not config.channels:
        print("no channels configured", file=sys.stderr)
        return EXIT_NONE
    from monitor.alerts.build import settings_hash

    states, counts = store.channel_states(), store.count_alerts_by_channel()
    width = max(len(n) for n in config.channels)
    for name, settings in config.channels.items():
        state, count = states.get(name), counts.get(name, {})
        if state is not None and state.disabled:
            said = f"disabled since {_iso(state.changed_at)}: {state.reason}"
            if state.config_hash not in (None, settings_hash(settings)):
                said += " (settings changed since: the daemon enables it on its next load)"
        else:
            said = "enabled"
        print(f"{name:<{width}}  {settings.type:<8} {said}  pending={count.get('pending', 0)} "
              f"failed={count.get('failed', 0)}")
    return EXIT_OK


def _enable_channels(config: Any, store: Any, names: list[str], path: str) -> int:
    """Deliver on ``names`` again; every name must be configured (else nothing changes)."""
    if not names:
        raise MonitorError("usage: monitor channels -c FILE enable NAME [NAME ...]")
    unknown = [n for n in names if n not in config.channels]
    if unknown:
        raise MonitorError(f"unknown channel {unknown[0]!r}{_configured(config)}")
    counts = store.count_alerts_by_channel()
    for name in dict.fromkeys(names):
        if not store.enable_channel(name, datetime.now(UTC)):
            print(f"channel {name} is already enabled")
            continue
        pending, failed = (counts.get(name, {}).get(k, 0) for k in ("pending", "failed"))
        print(f"channel {name} enabled: {pending} pending alert(s) will be delivered"
              + (f"; {failed} failed: monitor alerts -c {path} retry --channel {name}"
                 if failed else ""))
    return EXIT_OK

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
