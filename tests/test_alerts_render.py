"""Rendering alerts: payloads, highlighted snippets, email messages (no I/O)."""

from __future__ import annotations

import dataclasses
import email
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from monitor.alerts.render import (
    digest_payload,
    environment,
    header_text,
    highlight_html,
    highlight_text,
    message_id,
    render_digest_email,
    render_email,
    webhook_payload,
)
from monitor.models import Alert, Article, Digest, Snippet, Span, TermHit

CREATED = datetime(2026, 2, 26, 18, 30, 5, tzinfo=UTC)
PUBLISHED = datetime(2026, 2, 26, 14, 0, tzinfo=timezone(timedelta(hours=-5)))


def make_alert(alert_id: str = "01JALERT", rule: str = "DPA", title: str = "Pentagon talks",
               url: str = "https://news.example/a", snippet: Snippet | None = None,
               published: datetime | None = PUBLISHED) -> Alert:
    snippet = snippet or Snippet("invoke the Defense Production Act now", ((11, 33),))
    article = Article(url=url, title=title, text="...", author="AP staff", published=published,
                      language="en", source="AP Top News")
    term = TermHit("defense production act", 2, (Span("body", 100, 122),), (snippet,))
    return Alert(id=alert_id, created_at=CREATED, rule=rule, query='"Defense Production Act"',
                 article=article, terms=(term,), also_seen_at=("https://mirror.example/a",),
                 channel="ops-mail")


HIGHLIGHT_CASES = [
    ("abc", (), "abc", "abc"),
    ("Act now", ((0, 3),), "<mark>Act</mark> now", "**Act** now"),
    ("now Act", ((4, 7),), "now <mark>Act</mark>", "now **Act**"),
    ("Act", ((0, 3),), "<mark>Act</mark>", "**Act**"),
    ("DefenseAct x", ((0, 7), (7, 10)), "<mark>DefenseAct</mark> x", "**DefenseAct** x"),
    ("abcdef", ((0, 4), (2, 6)), "<mark>abcdef</mark>", "**abcdef**"),
    ("a b c", ((4, 5), (0, 1)), "<mark>a</mark> b <mark>c</mark>", "**a** b **c**"),
    ("abc", ((-5, 1), (2, 99)), "<mark>a</mark>b<mark>c</mark>", "**a**b**c**"),
    ("abc", ((2, 2), (3, 1)), "abc", "abc"),
    ("<b>x</b> & y", ((3, 4),), "&lt;b&gt;<mark>x</mark>&lt;/b&gt; &amp; y", "<b>**x**</b> & y"),
    ("a<i>\"b\"", ((1, 8),), "a<mark>&lt;i&gt;&#34;b&#34;</mark>", 'a**<i>"b"**'),
    ("line\r\nbreak", ((6, 11),), "line  <mark>break</mark>", "line  **break**"),
]


@pytest.mark.parametrize(
    ("text", "marks", "html", "plain"), HIGHLIGHT_CASES,
    ids=["none", "start", "end", "whole", "adjacent", "overlap", "unsorted", "clamped",
         "empty-and-inverted", "escape-outside", "escape-inside", "line-break"])
def test_highlight(text: str, marks: tuple[tuple[int, int], ...], html: str,
                   plain: str) -> None:
    snippet = Snippet(text, marks)
    rendered = highlight_html(snippet)
    assert isinstance(rendered, Markup)
    assert str(rendered) == html
    assert highlight_text(snippet) == plain


def test_webhook_payload_matches_the_schema() -> None:
    body = webhook_payload(make_alert())
    assert body == {
        "type": "monitor.alert",
        "id": "01JALERT",
        "created_at": "2026-02-26T18:30:05Z",
        "rule": {"name": "DPA", "query": '"Defense Production Act"'},
        "article": {"url": "https://news.example/a", "title": "Pentagon talks",
                    "source": "AP Top News", "published": "2026-02-26T19:00:00Z",
                    "author": "AP staff", "language": "en",
                    "partial": False},
        "matches": [{"term": "defense production act", "count": 2,
                     "snippets": ["invoke the Defense Production Act now"]}],
        "also_seen_at": ["https://mirror.example/a"],
    }


def test_webhook_payload_null_published_and_naive_times_as_utc() -> None:
    alert = make_alert(published=None)
    naive = dataclasses.replace(alert, created_at=datetime(2026, 1, 2, 3, 4, 5))
    body = webhook_payload(naive)
    assert body["article"]["published"] is None
    assert body["created_at"] == "2026-01-02T03:04:05Z"


def test_digest_payload_wraps_alert_bodies() -> None:
    alerts = (make_alert("a1"), make_alert("a2", rule="Other"))
    body = digest_payload(Digest("d1", CREATED, "hook", alerts))
    assert body["type"] == "monitor.digest"
    assert (body["id"], body["channel"], body["created_at"]) == ("d1", "hook",
                                                                 "2026-02-26T18:30:05Z")
    assert body["alerts"] == [webhook_payload(a) for a in alerts]


def test_templates_are_sandboxed_and_html_only_is_autoescaped() -> None:
    env = environment()
    assert isinstance(env, SandboxedEnvironment)
    assert env.get_template("alert.html").render(_ctx("<x>")).count("&lt;x&gt;") >= 1
    assert "<x>" in env.get_template("alert.txt").render(_ctx("<x>"))


def _ctx(title: str) -> dict[str, object]:
    from monitor.alerts.render import alert_context

    return alert_context(make_alert(title=title))


def _parts(msg: EmailMessage) -> tuple[str, str]:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_render_email_headers_and_parts() -> None:
    msg = render_email(make_alert(), "monitor@example.org", ["a@example.org", "b@example.org"],
                       channel="Ops Mail")
    assert msg["Subject"] == "[monitor] DPA: Pentagon talks"
    assert msg["To"] == "a@example.org, b@example.org"
    assert msg["Message-ID"] == "<alert.01JALERT@example.org>"
    assert msg["List-Id"] == "monitor ops-mail <monitor.ops-mail.local>"
    assert msg["X-Monitor-Alert-Id"] == "01JALERT"
    assert msg["Date"]
    text, html = _parts(msg)
    assert "invoke the **Defense Production Act** now" in text
    assert "https://news.example/a" in text and "https://mirror.example/a" in text
    assert "<mark>Defense Production Act</mark>" in html
    assert '<a href="https://news.example/a">Pentagon talks</a>' in html


def test_message_id_is_stable_and_safe() -> None:
    first = render_email(make_alert(), "m@example.org", ["a@example.org"])["Message-ID"]
    again = render_email(make_alert(), "m@example.org", ["a@example.org"])["Message-ID"]
    assert first == again
    odd = message_id("alert", "id with <spaces>\r\n", "no-domain")
    assert odd.endswith("@monitor.local>") and " " not in odd and "\n" not in odd


def test_feed_text_is_inert_in_email() -> None:
    title = "Breaking\r\nBcc: victim@example.org\n<script>alert(1)</script> {{ 7*7 }}"
    alert = make_alert(title=title, url="javascript:alert(1)",
                       snippet=Snippet("{% raw %}{{ 7*7 }} <img src=x>", ((0, 9),)))
    msg = render_email(alert, "m@example.org", ["a@example.org"])
    subject = msg["Subject"]
    assert "\n" not in subject and "\r" not in subject
    assert subject.startswith("[monitor] DPA: Breaking Bcc: victim@example.org <script>")
    assert msg["Bcc"] is None
    text, html = _parts(msg)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "&lt;img src=x&gt;" in html
    assert "{{ 7*7 }}" in html and "{{ 7*7 }}" in text and "49" not in html + text
    assert "{% raw %}" in text
    assert 'href="javascript' not in html


def test_long_titles_are_cut_in_the_subject() -> None:
    msg = render_email(make_alert(title="word " * 200), "m@example.org", ["a@example.org"])
    subject = str(msg["Subject"])
    assert len(subject) <= 200 and subject.endswith("…")


def test_header_text_strips_controls() -> None:
    assert header_text("a\x00b\tc\u2028d\x85e") == "a b c d e"


def test_digest_email_groups_by_rule_and_counts() -> None:
    alerts = (make_alert("a1", rule="DPA", url="https://n.example/1", title="First"),
              make_alert("a2", rule="Supply", url="https://n.example/2", title="Second"),
              make_alert("a3", rule="DPA", url="https://n.example/3", title="Third"))
    msg = render_digest_email(Digest("dg1", CREATED, "ops", alerts), "m@example.org",
                              ["a@example.org"])
    assert msg["Subject"] == "[monitor] digest: 3 articles for 2 rules"
    assert msg["Message-ID"] == "<digest.dg1@example.org>"
    text, html = _parts(msg)
    assert text.index("== DPA ==") < text.index("First") < text.index("Third") \
        < text.index("== Supply ==") < text.index("Second")
    assert html.count("<mark>Defense Production Act</mark>") == 3


def test_digest_subject_counts_articles_once() -> None:
    same = (make_alert("a1", rule="DPA"), make_alert("a2", rule="DPA"))
    msg = render_digest_email(Digest("dg2", CREATED, "ops", same), "m@example.org",
                              ["a@example.org"])
    assert msg["Subject"] == "[monitor] digest: 1 article for 1 rule"
