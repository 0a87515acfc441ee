"""Channel settings per type, and the registry that builds each type's Channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from monitor.alerts import AppriseChannel
from monitor.alerts.build import CHANNEL_FACTORIES, build_channel, build_channels, settings_hash
from monitor.alerts.email import EmailChannel
from monitor.alerts.webhook import WebhookChannel
from monitor.config import CHANNEL_TYPES, ChannelSettings, load_config
from monitor.errors import ConfigError
from monitor.models import Alert, Article

FEED = '[[feeds]]\nurl = "http://127.0.0.1/feed"\n'
CHANNELS = """
[channels.m]
type = "email"
to = ["a@example.org", "b@example.org"]
from = "m@example.org"
smtp_host = "127.0.0.1"
smtp_port = 2525
starttls = true
username = "u"
password_env = "SMTP_PASSWORD"
timeout = "45s"
digest = "0 8 * * *"
[channels.h]
type = "webhook"
url = "http://127.0.0.1/h"
secret_env = "HOOK_SECRET"
[channels.a]
type = "apprise"
urls = ["json://127.0.0.1/x"]
urls_env = "APPRISE_URLS"
"""
ENV = {"SMTP_PASSWORD": "pw", "HOOK_SECRET": "s3cret", "APPRISE_URLS": "json://127.0.0.1/y"}


def test_every_channel_type_has_a_factory() -> None:
    assert set(CHANNEL_FACTORIES) == set(CHANNEL_TYPES.values())


async def test_each_table_builds_its_types_channel(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "c.toml").write_text(FEED + CHANNELS)
    config = load_config(tmp_path / "c.toml")
    async with httpx.AsyncClient() as client:
        built = {name: build_channel(s, client) for name, s in config.channels.items()}
        with pytest.raises(ConfigError, match="unknown channel type"):
            build_channel(ChannelSettings(name="x"), client)
    assert [type(c) for c in built.values()] == [EmailChannel, WebhookChannel, AppriseChannel]
    email = built["m"]
    assert isinstance(email, EmailChannel)
    assert (email.to, email.smtp_port, email.starttls, email.username, email.timeout) \
        == (("a@example.org", "b@example.org"), 2525, True, "u", 45.0)


def test_settings_hashes_are_those_of_the_untyped_settings(tmp_path: Path) -> None:
    """Hashes computed by the release before typed channel settings, for this config: an
    upgrade re-enables no channel that a permanent failure disabled."""
    (tmp_path / "c.toml").write_text(FEED + CHANNELS)
    config = load_config(tmp_path / "c.toml", environ=ENV)
    assert {name: settings_hash(s) for name, s in config.channels.items()} == {
        "m": "d6689b5cb1268b12b5e5f6253b62be5e0e5b45ba60d06f933aae3fc57e6d1be1",
        "h": "8a4f1f597671d4ecbd64ef8ab9277c98c7ca73979a9cdeee008d7f1585f40d9c",
        "a": "ee4a14ecc537005a17aa9a62755556f26ac6590ac46ffd5db819506e29e18fa3",
    }


@pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")
async def test_apprise_sends_to_its_urls_and_those_of_urls_env(
        tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("apprise")
    for path in ("/listed", "/from-env"):
        httpserver.expect_request(path, method="POST").respond_with_data("ok")
    base = f"json://127.0.0.1:{httpserver.port}"
    monkeypatch.setenv("MORE_URLS", f"{base}/from-env")
    (tmp_path / "c.toml").write_text(FEED + f'[channels.a]\ntype = "apprise"\n'
                                     f'urls = ["{base}/listed"]\nurls_env = "MORE_URLS"\n')
    article = Article(url="https://news.example/a", title="Talks stall", text="x")
    alert = Alert(id="a1", created_at=datetime(2026, 2, 26, tzinfo=UTC), rule="r",
                  query="x", article=article, terms=())
    async with httpx.AsyncClient() as client:
        channels = build_channels(load_config(tmp_path / "c.toml"), client)
        await channels["a"].send(alert)
    received = sorted((r.path, json.loads(r.get_data())["title"]) for r, _ in httpserver.log)
    assert received == [("/from-env", "[monitor] r: Talks stall"),
                        ("/listed", "[monitor] r: Talks stall")]
