"""``monitor alerts`` (list, retry) and ``monitor channels`` (state, enable)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from monitor.cli.common import EXIT_BAD, EXIT_NONE, EXIT_OK, open_store
from monitor.errors import MonitorError
from monitor.timeutil import iso


def cmd_alerts(args: argparse.Namespace) -> int:
    store = open_store(args.config)
    if args.action:
        return _retry_alerts(args, store)
    rows = store.list_outbox(args.status, args.limit, channel=args.channel)
    if not rows:
        which = " ".join(filter(None, ("no", args.status, "alerts")))
        print(which + (f" on channel {args.channel}" if args.channel else ""), file=sys.stderr)
        return EXIT_NONE
    states = store.channel_states()
    for r in rows:
        print(_alert_line(r, states))
    return EXIT_OK


def _alert_line(r: Any, states: dict[str, Any]) -> str:
    """One alert: id, status, channel (and its state), times, rule, feed, link, title, error;
    a notice shows its kind, feed (or a spike's rule), link and message where an alert shows
    rule and article."""
    from monitor.dedup import strip_tracking

    state = states.get(r.channel)
    channel = r.channel + (f" (disabled: {state.reason})" if state and state.disabled else "")
    waiting = r.status == "pending"
    n = getattr(r, "notice", None)
    about = f"rule={n.rule!r}" if n and n.rule else f"feed={n.feed!r}" if n else ""
    what = (f"notice={n.kind} {about} url={n.url or '-'} message={n.message[:80]!r}"
            if n else f"rule={r.rule!r} feed={r.feed!r} "
            f"url={strip_tracking(r.article.url) or '-'} title={r.article.title[:60]!r}")
    return (f"{r.id}  {r.status:<7} channel={channel} created={_iso(r.created_at)} "
            f"sent={_iso(r.sent_at)} next={_iso(r.next_attempt_at if waiting else None)} "
            f"attempts={r.attempts} {what}"
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
            kind = "notice" if hasattr(row, "notice") else "alert"
            print(f"{kind} {row.id} queued for delivery on {row.channel}")
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
        return store.list_outbox(statuses, None, channel=args.channel), []
    found = {r.id: r for r in store.list_outbox(None, None, ids=ids)}
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


def cmd_channels(args: argparse.Namespace) -> int:
    from monitor.daemon import load

    config = load(args.config)
    store = open_store(args.config)
    if args.action == "enable":
        return _enable_channels(config, store, args.names, args.config)
    if args.names:
        raise MonitorError("usage: monitor channels -c FILE [enable NAME ...]")
    if not config.channels:
        print("no channels configured", file=sys.stderr)
        return EXIT_NONE
    from monitor.alerts.build import settings_hash

    states, counts = store.channel_states(), store.count_alerts_by_channel()
    # a channel gone from the config whose alerts are still pending: no node sends them
    gone = [n for n, c in sorted(counts.items())
            if n not in config.channels and c.get("pending", 0)]
    width = max(len(n) for n in (*config.channels, *gone))
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
    for name in gone:
        print(f"{name:<{width}}  {'-':<8} not configured: its alerts wait until it is again  "
              f"pending={counts[name].get('pending', 0)} failed={counts[name].get('failed', 0)}")
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
