"""The ``monitor`` command. Errors are one line on stderr; exit 0 ok, 1 nothing, 2 bad input."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from monitor.cli.alerts import cmd_alerts, cmd_channels
from monitor.cli.common import EXIT_BAD, EXIT_OK
from monitor.cli.feeds import cmd_discover, cmd_feeds, cmd_nodes
from monitor.cli.query import cmd_backtest, cmd_extract, cmd_match, cmd_parse
from monitor.cli.rules import cmd_rules
from monitor.cli.run import cmd_check, cmd_demo, cmd_run
from monitor.cli.users import cmd_passwd
from monitor.errors import ConfigError, MonitorError

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
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe fails here, not at exit past the handler
        return code
    except BrokenPipeError:  # the reader stopped early (`| head`): no traceback, now or at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
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
    match.add_argument("--explain", action="store_true",
                       help="say which variant of each term fired at each hit (lemma, "
                            "spelling, compound, acronym …)")
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
                            description="List alerts and notices (newest first), or queue "
                            "them again: retry ID [ID...], retry --failed, retry --channel "
                            "NAME.")
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

    parse = sub.add_parser("parse", help="print the entries a source yields, one JSON line "
                                          "each")
    parse.add_argument("target", metavar="FILE_OR_URL",
                       help="a document, - for stdin, or an http(s) URL to fetch")
    parse.add_argument("--kind", default="feed",
                       help="the source kind: feed (default), google-news, sitemap, page, json")
    parse.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                       help="a source option of the kind, as in [[feeds]] (links=..., "
                            "preset=...); repeatable")
    parse.set_defaults(func=cmd_parse)

    rules = sub.add_parser("rules", help="export the rules made through the API as TOML")
    _config_option(rules)
    rules.add_argument("action", choices=["export"], help="export: [[watch]] tables with "
                       "their ids, loadable by monitor check")
    rules.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    rules.set_defaults(func=cmd_rules)

    passwd = sub.add_parser("passwd", help="print the hash of a password read on stdin, "
                            "for a [[users]] password_file")
    passwd.set_defaults(func=cmd_passwd)

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
