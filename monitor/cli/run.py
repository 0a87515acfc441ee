"""``monitor run``, ``monitor check`` and ``monitor demo``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from monitor.cli.common import EXIT_OK, warn_query
from monitor.errors import ConfigError


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
        warn_query(watch.query, f"rule {watch.name!r}: ")
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


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    return asyncio.run(run_demo())
