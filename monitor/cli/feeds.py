"""``monitor feeds`` (list, poll, OPML import and export), ``nodes`` and ``discover``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.cli.common import EXIT_NONE, EXIT_OK, open_store
from monitor.errors import MonitorError


def cmd_nodes(args: argparse.Namespace) -> int:
    store = open_store(args.config)
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
    store = open_store(args.config)
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
    store = open_store(config_path)
    due = store.poll_now(names, datetime.now(UTC))
    for name in names:
        print(f"{name!r}: " + ("due now; a running daemon polls it within seconds"
                               if name in due else "not in the database yet; it is polled "
                               "when the daemon starts"))
    return EXIT_OK


def _import_opml(config_path: str, opml_path: str | None, append: bool) -> int:
    """Print (or append to the config) one [[feeds]] table per OPML feed not yet configured."""
    from monitor.daemon import load
    from monitor.sources.opml import parse_opml, to_toml

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
    from monitor.sources.opml import OpmlFeed, to_opml

    config = load(config_path)
    sys.stdout.buffer.write(to_opml([OpmlFeed(f.name, f.url, f.tags, kind=f.kind)
                                     for f in config.feeds]))
    return EXIT_OK if config.feeds else EXIT_NONE


def cmd_discover(args: argparse.Namespace) -> int:
    from monitor.sources.probe import as_config_snippet

    found = asyncio.run(_discover(args.url, probe=not args.no_probe))
    for f in found:
        print(f"{f.via:<10} {f.url}  {f.title!r}" + (f"  error={f.error!r}" if f.error else "")
              + (f"  kind={f.kind}" if f.kind != "feed" else ""), file=sys.stderr)
    if not found:
        print(f"monitor: no feed found for {args.url}", file=sys.stderr)
        return EXIT_NONE
    print(as_config_snippet(found), end="")
    return EXIT_OK


async def _discover(url: str, probe: bool) -> Any:
    from monitor.fetch import Fetcher
    from monitor.sources.probe import discover, other_sources

    fetcher = Fetcher(user_agent="monitor/0.1 (discover)")
    try:
        found = await discover(url, fetcher, probe_common=probe)
        if not probe:
            return found
        has_feeds = any(f.error is None for f in found)
        return found + await other_sources(url, fetcher, has_feeds=has_feeds)
    finally:
        await fetcher.aclose()
