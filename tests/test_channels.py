"""A webhook that answers 410 disables its channel, visibly, until `enable` or a new config.

End to end: the daemon polls a local feed and delivers to a local webhook receiver that
answers 410; `monitor channels`, `monitor alerts` and `alerts retry` (real subprocesses on
the same SQLite file) show the channel disabled; `channels enable` (or a changed channel
config, reloaded) makes the next delivery reach the receiver, which now answers 200.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from monitor.alerts.build import settings_hash
from monitor.config import Secret, WebhookSettings
from monitor.daemon import Daemon, load
from monitor.store import Store
from monitor.store import schema as t
from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import SECRET, write_config

ROOT = Path(__file__).resolve().parent.parent
GONE = "receiver answered 410 Gone: ok"


def monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
async def disabled(tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
                   monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Daemon, Path]]:
    """A daemon that polled once and found its webhook gone (410): the channel is disabled."""
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    hook.script = [410] * 20
    path = write_config(tmp_path, news, None, hook)
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
        assert hook.received, "the receiver was never asked"
        hook.script = []  # from now on the receiver answers 200
        yield daemon, path
    finally:
        await daemon.close()


async def test_410_disables_until_enabled(disabled: tuple[Daemon, Path],
                                          hook: WebhookReceiver) -> None:
    daemon, path = disabled
    store, cfg = daemon.services.store, ["-c", str(path)]
    alerts = store.list_alerts()
    assert alerts and {a.status for a in alerts} == {"pending"}  # held, not lost
    assert store.disabled_channels() == {"hook": GONE}

    listed = monitor("channels", *cfg)
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()
    assert line.startswith("hook  webhook  disabled since ")
    assert line.endswith(f": {GONE}  pending={len(alerts)} failed=0")

    shown = monitor("alerts", *cfg)
    assert shown.returncode == 0
    assert all(f"channel=hook (disabled: {GONE})" in row for row in shown.stdout.splitlines())
    first = alerts[0].id
    refused = monitor("alerts", *cfg, "retry", first)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == (f"monitor: alert {first}: channel hook is disabled ({GONE}); "
                              f"run monitor channels -c {path} enable hook\n")

    asked = len(hook.received)
    await daemon.deliver()
    assert len(hook.received) == asked  # a disabled channel is not tried

    unknown = monitor("channels", *cfg, "enable", "nope")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr == "monitor: unknown channel 'nope' (configured: hook)\n"
    assert store.disabled_channels() == {"hook": GONE}

    enabled = monitor("channels", *cfg, "enable", "hook")
    assert enabled.returncode == 0, enabled.stderr
    assert enabled.stdout == f"channel hook enabled: {len(alerts)} pending alert(s) will be " \
                             "delivered\n"
    assert monitor("channels", *cfg, "enable", "hook").stdout == \
        "channel hook is already enabled\n"

    await daemon.deliver()
    delivered = {h["webhook-id"] for h, _ in hook.received[asked:]}
    assert delivered == {a.id for a in alerts}
    assert {a.status for a in store.list_alerts()} == {"sent"}
    after = monitor("channels", *cfg)
    assert after.stdout == "hook  webhook  enabled  pending=0 failed=0\n"


async def test_changed_channel_config_enables_it(disabled: tuple[Daemon, Path],
                                                 hook: WebhookReceiver) -> None:
    daemon, path = disabled
    store = daemon.services.store
    asked = len(hook.received)
    daemon.reload()  # the same settings: still disabled
    await daemon.deliver()
    assert len(hook.received) == asked and store.disabled_channels() == {"hook": GONE}

    text = path.read_text()
    path.write_text(text.replace(f'url = "{hook.url}"', f'url = "{hook.url}?v=2"'))
    listed = monitor("channels", "-c", str(path))
    assert "(settings changed since: the daemon enables it on its next load)" in listed.stdout

    daemon.reload()
    await daemon.deliver()
    assert store.disabled_channels() == {}
    assert len(hook.received) > asked
    assert {a.status for a in store.list_alerts()} == {"sent"}


NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_upgrade_from_v3_keeps_a_disabled_channel_disabled(db_url: str) -> None:
    store = Store(db_url)
    store.migrate()
    with store.engine.begin() as conn:  # back to version 3: no config_hash column
        conn.execute(sqlalchemy.text("ALTER TABLE channel_state DROP COLUMN config_hash"))
        conn.execute(t.schema_version.update().values(version=3))
        conn.execute(sqlalchemy.text(
            "INSERT INTO channel_state (name, disabled, reason) VALUES ('hook', true, '410')"))
    assert store.migrate() == t.CURRENT_VERSION >= 4
    (state,) = store.channel_states().values()
    assert (state.name, state.disabled, state.reason, state.config_hash) == \
        ("hook", True, "410", None)
    assert store.enable_changed_channels({"hook": "any"}, NOW) == []  # unknown: kept
    assert store.enable_channel("hook", NOW) and not store.enable_channel("hook", NOW)
    assert store.disabled_channels() == {}


def test_enable_changed_channels_compares_the_hash(db_url: str) -> None:
    store = Store(db_url)
    store.migrate()
    store.disable_channel("a", "gone", NOW, "h1")
    store.disable_channel("b", "gone", NOW, "h1")
    store.disable_channel("c", "gone", NOW, "h1")
    assert store.enable_changed_channels({"a": "h1", "b": "h2"}, NOW) == ["b"]
    assert store.disabled_channels() == {"a": "gone", "c": "gone"}  # same, not configured
    assert store.channel_states()["b"].changed_at == NOW


def channel(**options: Any) -> WebhookSettings:
    return dataclasses.replace(WebhookSettings(name="hook", url="https://h.example/x",
                                               secret=Secret("secret", env="HOOK_SECRET")),
                               **options)


def test_settings_hash_changes_with_any_setting_but_not_the_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = settings_hash(channel())
    monkeypatch.setenv("HOOK_SECRET", "one")
    assert settings_hash(channel()) == base
    monkeypatch.setenv("HOOK_SECRET", "two")
    assert settings_hash(channel()) == base  # the secret's value is never read
    for changed in (channel(url="https://h.example/y"), channel(timeout=5.0),
                    channel(secret=Secret("secret", env="OTHER")), channel(digest="0 8 * * *")):
        assert settings_hash(changed) != base


async def test_removed_channel_keeps_its_alerts_pending(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A channel taken out of the config (or not yet in this node's, during a rollout)
    keeps its alerts pending and untried, shown by `monitor channels`; putting it back
    sends them."""
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    hook.script = [500] * 20
    path = write_config(tmp_path, news, None, hook)
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
        store, asked = daemon.services.store, len(hook.received)
        alerts = store.list_alerts()
        assert asked and alerts and {a.status for a in alerts} == {"pending"}
        hook.script = []
        original = path.read_text()
        path.write_text(original.replace('["hook"]', '["other"]')
                        .replace("[channels.hook]", "[channels.other]"))
        daemon.reload()
        for a in alerts:  # due now, not at their backoff
            store.retry_alert(a.id, datetime.now(UTC))
        await daemon.deliver()
        assert len(hook.received) == asked  # no node has "hook" now: nothing tried
        rows = store.list_alerts()
        assert {(a.status, a.attempts) for a in rows} == {("pending", 1)}
        listed = monitor("channels", "-c", str(path))
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines() == [
            "other  webhook  enabled  pending=0 failed=0",
            "hook   -        not configured: its alerts wait until it is again  "
            f"pending={len(alerts)} failed=0"]

        path.write_text(original)
        daemon.reload()
        await daemon.deliver()
        assert {h["webhook-id"] for h, _ in hook.received[asked:]} == {a.id for a in alerts}
        assert {a.status for a in store.list_alerts()} == {"sent"}
    finally:
        await daemon.close()
