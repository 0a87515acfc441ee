"""``kind = "json"``: a JSON API's items mapped by paths, the Federal Register and GDELT
presets; end to end, a Federal-Register-shaped API alerts once per document."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from monitor.config import SourceOptions, load_config
from monitor.errors import ConfigError, ParseError
from monitor.sources import PARSERS, parse_source
from monitor.sources.jsonapi import value_at
from monitor.testing import NewsServer, WebhookReceiver, article_page, load_seeds
from tests.helpers import write_config
from tests.sourcekit import (
    DPA_RULE,
    SOURCES,
    alerted,
    document,
    monitor_parse,
    poll_once,
    webhook_secret,  # noqa: F401 - an autouse fixture
)

FR = "https://www.federalregister.gov"
API = f"{FR}/api/v1/documents.json?conditions[term]=%22Defense+Production+Act%22"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def parse(name: str, **options: str) -> list[tuple[object, ...]]:
    parsed = parse_source("json", (SOURCES / name).read_bytes(), API, now=NOW,
                          options=SourceOptions(**options))
    return [(e.title[:40], e.url, e.published, e.summary[:40], e.source) for e in parsed.entries]


def test_the_federal_register_preset() -> None:
    assert parse("federal-register.json", preset="federal-register") == [
        ("Prioritization and Allocation of Artific",
         f"{FR}/documents/2026/02/27/2026-03817/prioritization-and-allocation-of-artificial-"
         "intelligence-computing-resources", datetime(2026, 2, 27, tzinfo=UTC),
         "The Department of Commerce is amending t", ""),
        ("Revisions to the Export Administration R",
         f"{FR}/documents/2026/02/26/2026-03790/revisions-to-the-export-administration-"
         "regulations", datetime(2026, 2, 26, tzinfo=UTC),
         "This rule revises License Exception CCD ", "")]


def test_the_gdelt_preset_names_each_publisher() -> None:
    assert parse("gdelt-artlist.json", preset="gdelt") == [
        ("Anthropic says it cannot in good conscie",
         "https://www.example-news.com/articles/anthropic-pentagon.html",
         datetime(2026, 2, 26, 23, 15, tzinfo=UTC), "", "example-news.com"),
        ("Pentagon weighs Defense Production Act o",
         "https://www.example-wire.org/2026/02/27/pentagon-dpa-order",
         datetime(2026, 2, 27, 7, 15, tzinfo=UTC), "", "example-wire.org")]


def test_keys_written_win_over_the_preset() -> None:
    (first, _) = parse("federal-register.json", preset="federal-register",
                       link="pdf_url", text="agencies.0.name", title="document_number")
    assert first[:2] == ("2026-03817", "https://www.govinfo.gov/content/pkg/FR-2026-02-27/pdf/"
                                       "2026-03817.pdf")
    assert first[3] == "Commerce Department"


@pytest.mark.parametrize(("path", "expected"), [
    ("results.0.agencies.1.id", 241), ("$.results[0].agencies[1].slug",
                                       "industry-and-security-bureau"),
    ("results.5.title", None), ("count.x", None), ("", "whole"),
], ids=["dotted", "jsonpath", "past-the-end", "into-a-number", "empty"])
def test_paths(path: str, expected: object) -> None:
    doc = json.loads((SOURCES / "federal-register.json").read_bytes())
    assert value_at(doc, path) == (doc if expected == "whole" else expected)


@pytest.mark.parametrize(("content", "options", "message"), [
    (b"{not json", {"preset": "gdelt"}, "not JSON"),
    (b'{"articles": {"a": 1}}', {"preset": "gdelt"}, "no list of items at 'articles' (found "
                                                      "dict)"),
    (b'[{"t": "x", "u": "/a"}]', {"title": "t", "link": "u"}, ""),
], ids=["invalid", "not-a-list", "top-level-list"])
def test_documents_that_do_not_fit(content: bytes, options: dict[str, str],
                                   message: str) -> None:
    if not message:
        (entry,) = parse_source("json", content, API, options=SourceOptions(**options)).entries
        assert (entry.title, entry.url) == ("x", f"{FR}/a")
        return
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_source("json", content, API, options=SourceOptions(**options))


@pytest.mark.parametrize(("options", "expected"), [
    ('preset = "nyt"', "feeds[0].preset: unknown preset 'nyt' (known: federal-register, gdelt)"),
    ('items = "data"',
     'feeds[0].link: kind = "json" needs a preset, or link or title (the item paths)'),
    ('preset = "gdelt"\nlinks = "a"',
     "feeds[0].links: not an option of kind = 'json' (only of kind = 'page')"),
], ids=["preset", "no-paths", "page-option"])
def test_json_options_are_checked_at_load(tmp_path: Path, options: str, expected: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[[feeds]]\nurl = "{API}"\nkind = "json"\n{options}\n'
                    '[[watch]]\nname = "r"\nquery = "x"\nchannels = []\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, source_kinds=tuple(PARSERS))
    assert caught.value.problems == [expected]


def test_monitor_parse_reads_an_api_with_a_preset() -> None:
    code, lines, _ = monitor_parse("--kind", "json", "-o", "preset=federal-register",
                                   str(SOURCES / "federal-register.json"))
    assert code == 0 and [line["published"] for line in lines] == [
        "2026-02-27T00:00:00+00:00", "2026-02-26T00:00:00+00:00"]


async def test_a_federal_register_search_alerts_once_per_document(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, httpserver: HTTPServer) -> None:
    base = httpserver.url_for("/").rstrip("/")
    api = json.loads(document("federal-register.json", base, original=FR))
    httpserver.expect_request("/api/v1/documents.json").respond_with_handler(
        lambda _: Response(json.dumps(api), content_type="application/json"))
    seed = load_seeds()[0]  # the Defense Production Act story, as the rule's page
    rule_path = "/documents/2026/02/27/2026-03817/prioritization-and-allocation-of-artificial-" \
                "intelligence-computing-resources"
    httpserver.expect_request(rule_path).respond_with_data(article_page(seed),
                                                           content_type="text/html")
    feed = f'[[feeds]]\nname = "FR"\nkind = "json"\npreset = "federal-register"\n' \
           f'url = "{base}/api/v1/documents.json?conditions[term]=dpa&order=newest"\n'
    path = write_config(tmp_path, news, None, hook, feeds=feed, watches=DPA_RULE)
    await poll_once(path)
    assert alerted(hook) == [("dpa", base + rule_path)]

    # the next answer repeats both and adds one that matches: one more alert (its page is
    # missing, so its abstract is what matches)
    api["results"].insert(0, {"title": "Defense Production Act Committee; Notice of Meeting",
                              "abstract": "The Defense Production Act Committee will meet.",
                              "html_url": f"{base}/documents/2026/02/28/2026-03900/dpac",
                              "publication_date": "2026-02-28"})
    await poll_once(path)
    assert alerted(hook) == sorted([("dpa", base + rule_path),
                                    ("dpa", f"{base}/documents/2026/02/28/2026-03900/dpac")])
