"""Explanations in alerts: the webhook's ``matches[].explain``, the email's "matched …"
line, and the stored terms, end to end (a daemon polling a local feed, a real webhook
receiver and SMTP server) and rendered on their own."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.alerts.apprise_channel import render_markdown
from monitor.alerts.render import (
    MAX_VARIANTS,
    matched_variants,
    render_digest_email,
    render_email,
    webhook_payload,
)
from monitor.daemon import Daemon, load
from monitor.models import Alert, Article, Digest, Explanation, Snippet, Span, TermHit
from monitor.testing import MailServer, NewsServer, WebhookReceiver
from tests.helpers import SECRET, write_config

WATCHES = """
[[watch]]
name = "dpa"
query = '"Defence Production Act"'
channels = CHANNELS

[[watch]]
name = "scr"
query = '"supply chain risks"'
channels = CHANNELS
"""


async def test_webhook_and_email_say_which_variant_fired(
        tmp_path: Path, news: NewsServer, mail: MailServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, mail, hook, watches=WATCHES)
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
        store = daemon.services.store
        stored = {r.rule: r.terms for r in store.list_alerts("sent")}  # read back from the DB
        hits = {h.rule: h.terms for h in store.hits()}
    finally:
        await daemon.close()
    told = Explanation("Defense Production Act", "defense production act", "spelling")
    assert stored["dpa"][0].explained == hits["dpa"][0].explained == (told, told)
    bodies = {b["rule"]["name"]: b for b in hook.bodies()}
    assert sorted(bodies) == ["dpa", "scr"]
    (dpa,) = bodies["dpa"]["matches"]
    assert {"term", "count", "snippets"} <= dpa.keys()  # DESIGN §6's fields stay
    assert dpa["term"] == "defence production act" and dpa["count"] == 2
    assert len(dpa["explain"]) == 2
    for e in dpa["explain"]:
        assert (e["text"], e["form"], e["kind"]) == (
            "Defense Production Act", "defense production act", "spelling")
        assert e["field"] == "body" and e["end"] - e["start"] == len(e["text"])
    (scr,) = bodies["scr"]["matches"]
    assert {(e["text"], e["form"], e["kind"]) for e in scr["explain"]} == {
        ("supply chain risk", "supply chain risk", "lemma")}
    texts = {str(m["Subject"]).split(":")[0]: m.get_body(("plain",)).get_content()
             for m in mail.messages}
    assert ("matched Defense Production Act (spelling of defense production act)"
            in texts["[monitor] dpa"])
    assert "matched supply chain risk (inflection of supply chain risk)" in texts["[monitor] scr"]


def alert(*explained: Explanation, text: str = "...") -> Alert:
    spans = tuple(Span("body", i * 10, i * 10 + len(e.text)) for i, e in enumerate(explained))
    term = TermHit("risk", len(spans), spans, (Snippet("two risks", ((4, 9),)),), explained)
    article = Article(url="https://news.example/a", title="Risks", text=text, language="en")
    return Alert(id="01JEXPLAIN", created_at=datetime(2026, 3, 1, tzinfo=UTC), rule="risk",
                 query="risk", article=article, terms=(term,), channel="ops")


@pytest.mark.parametrize(("explanation", "words"), [
    (Explanation("risks", "risk", "lemma"), "risks (inflection of risk)"),
    (Explanation("Defence", "defense", "spelling"), "Defence (spelling of defense)"),
    (Explanation("supply-chain", "supply chain", "compound"),
     "supply-chain (compound of supply chain)"),
    (Explanation("U.S", "US", "acronym"), "U.S (acronym of US)"),
    (Explanation("risk", "risk's", "possessive"), "risk (possessive of risk's)"),
    (Explanation("Supply-chain risks", "supply chain risk", "compound+lemma"),
     "Supply-chain risks (compound and inflection of supply chain risk)"),
    (Explanation("computers", "comput*", "prefix"), "computers (prefix comput*)"),
    (Explanation("defense", "defen?e", "wildcard"), "defense (wildcard defen?e)"),
    (Explanation("risks", "/ri.ks/", "regex"), "risks (regex /ri.ks/)"),
], ids=["lemma", "spelling", "compound", "acronym", "possessive", "combined", "prefix",
        "wildcard", "regex"])
def test_matched_variants_in_words(explanation: Explanation, words: str) -> None:
    assert matched_variants(alert(explanation).terms[0]) == [words]


def test_matched_variants_skip_exact_hits_and_repeats() -> None:
    term = alert(Explanation("risk", "risk", "exact"), Explanation("risks", "risk", "lemma"),
                 Explanation("Risks", "risk", "lemma"), Explanation("risks\n", "risk", "lemma"),
                 ).terms[0]
    assert matched_variants(term) == ["risks (inflection of risk)"]
    many = alert(*(Explanation(f"risk{'s' * n}", "risk", "lemma") for n in range(1, 9)))
    assert len(matched_variants(many.terms[0])) == MAX_VARIANTS
    assert matched_variants(alert(Explanation("risk", "risk", "exact")).terms[0]) == []


def test_webhook_payload_adds_explain_and_keeps_the_design_fields() -> None:
    told = alert(Explanation("risks", "risk", "lemma"))
    (match,) = webhook_payload(told)["matches"]
    assert match == {"term": "risk", "count": 1, "snippets": ["two risks"],
                     "explain": [{"field": "body", "start": 0, "end": 5, "text": "risks",
                                  "form": "risk", "kind": "lemma"}]}
    (plain,) = webhook_payload(alert())["matches"]  # not explained: DESIGN §6 exactly
    assert plain == {"term": "risk", "count": 0, "snippets": ["two risks"]}


def test_email_and_digest_name_the_variant_escaped() -> None:
    told = alert(Explanation("<b>risks</b>", "risk", "lemma"))
    msg = render_email(told, "monitor@example.org", ["desk@example.org"])
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "  matched <b>risks</b> (inflection of risk)\n" in text
    assert "matched &lt;b&gt;risks&lt;/b&gt; (inflection of risk)</p>" in html
    digest = Digest("01JDIGEST", told.created_at, "ops", (told,))
    dmsg = render_digest_email(digest, "monitor@example.org", ["desk@example.org"])
    assert "matched <b>risks</b> (inflection of risk)" in dmsg.get_body(("plain",)).get_content()
    assert "matched &lt;b&gt;risks&lt;/b&gt;" in dmsg.get_body(("html",)).get_content()
    quiet = render_email(alert(Explanation("risk", "risk", "exact")), "monitor@example.org",
                         ["desk@example.org"])
    assert "matched" not in quiet.get_body(("plain",)).get_content()


def test_apprise_markdown_names_the_variant_escaped() -> None:
    _, body = render_markdown(alert(Explanation("*risks*", "risk", "lemma")))
    assert "matched \\*risks\\* (inflection of risk)\n> two **risks**" in body
    _, plain = render_markdown(alert())
    assert "matched" not in plain
