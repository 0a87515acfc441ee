"""Chinese and Japanese: words match inside sentences written without spaces.

Every Han, Hiragana or Katakana character is a token of its own and a word is the phrase of
its characters; a ``BREAK`` token between two runs of them keeps phrases inside one run; the
trigger index screens such phrases by their character bigrams (see ``rules.normalize``).
Includes one end-to-end poll through the real pipeline (local feed server, webhook, SQLite).
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.daemon import Daemon, load
from monitor.errors import QueryError
from monitor.models import Article
from monitor.rules import Rule, compile_rules, match_query, parse_query, tokenize
from monitor.rules.evaluate import Compiler
from monitor.rules.normalize import BREAK, CJK, TokenText, _has_cjk
from monitor.rules.triggers import rule_keys
from monitor.rules.variants import Folding
from monitor.testing import NewsServer, SeedArticle, WebhookReceiver
from tests.helpers import SECRET, write_config

ZH = "中国政府周二表示，将加强供应链安全，应对全球风险。"
JA = "政府は経済安全保障の観点から、半導体のサプライチェーンを強化する方針だ。"


def article(body: str, title: str = "") -> Article:
    return Article(url="https://example.org/news/1", title=title, text=body)


def hits(query: str, body: str) -> dict[str, list[str]] | None:
    """Term -> the original text of each of its spans, or None when the query is false."""
    found = match_query(query, article(body))
    if found is None:
        return None
    return {t.term: [body[s.start : s.end] for s in t.spans] for t in found.terms}


@pytest.mark.parametrize(("query", "body", "matched"), [
    # a word inside a sentence
    ("供应链", ZH, True),
    ("供应链安全", ZH, True),
    ("サプライチェーン", JA, True),
    ("経済安全保障", JA, True),
    ("半導体", JA, True),
    ("title:供应链", ZH, False),  # scopes still hold
    # the characters must stand next to each other, in one run
    ("供应链", "中国加强供应与产业链安全。", False),
    ("供应链", "供应X链", False),
    ("供应链", "供应，链", False),  # punctuation ends a run
    ("供应链", "供应 链", False),  # so does a space
    ('"供应 链"', "供应 链", True),  # a break in the query is a break in the text
    ('"供应 链"', "供应，链", True),
    ('"供应 链"', "供应链", False),
    ("安全保障", "経済安全保障推進法", True),
    ("経済安全保障", "経済安全の保障", False),
    # one character matches as itself, wherever it stands in a run
    ("链", ZH, True),
    ("国", "中国", True),
    ("国", "中华", False),
    # kana keep their voicing marks; half-width kana are made full-width
    ("パス", "バスに乗る", False),
    ("バス", "バスに乗る", True),
    ("サイト", "ｻｲﾄを見る", True),
    ("データ", "ﾃﾞｰﾀを見る", False),  # a half-width voicing mark is lost: ﾃﾞ is テ
    ("テータ", "ﾃﾞｰﾀを見る", True),
    # Boolean operators and negation
    ("供应链 AND 风险", ZH, True),
    ("供应链 -风险", ZH, False),
    ("供应链 OR 半导体", "半导体出口管制", True),
    # mixed with Latin text, whose folding still works
    ('"iPhone 手机"', "苹果公司的iPhone手机销量", True),
    ('"手机 iPhone"', "手机iPhone", True),
    ('"supply chain risk"', "报告指出 supply-chain risks 上升", True),
    ("organization", "联合国 organizations", True),
    ("organ", "联合国 organizations", False),
    ('供应链 "supply chains"', "供应链（supply chain）", True),
    ("risk", "风险risk", True),
])
def test_cjk_table(query: str, body: str, matched: bool) -> None:
    assert (hits(query, body) is not None) is matched, query


@pytest.mark.parametrize(("query", "body", "term", "spans"), [
    ("供应链", ZH, "供应链", ["供应链"]),
    ("サプライチェーン", JA, "サプライチェーン", ["サプライチェーン"]),
    ("链", "产业链和供应链", "链", ["链", "链"]),
    ('"iPhone 手机"', "苹果iPhone手机", "iphone 手机", ["iPhone手机"]),
    ('"供应 链"', "供应，链", "供应 链", ["供应，链"]),
    ("=供应链", ZH, "=供应链", ["供应链"]),
    ("サイト", "ｻｲﾄを見る", "サイト", ["ｻｲﾄ"]),
    # characters that fold to several (ß, ﬁ) or none (a combining accent) before them
    ('"strasse 供应链"', "ﬁne Straße供应链", "strasse 供应链", ["Straße供应链"]),
    ("供应链", "Cafe\u0301 ﬁ 供应链", "供应链", ["供应链"]),
])
def test_spans_are_the_original_characters(query: str, body: str, term: str,
                                           spans: list[str]) -> None:
    assert hits(query, body) == {term: spans}


@pytest.mark.parametrize(("query", "body"), [
    ("Haus", "Die Häuser供应链"),  # a German word glued to Chinese is still lemmatised
    ("Lieferkette", "供应链（Lieferketten）"),
])
def test_latin_words_next_to_cjk_keep_their_lemmas(query: str, body: str) -> None:
    found = match_query(query, Article(url="https://example.org/de", title="", text=body,
                                       language="de"))
    assert found is not None


def test_cjk_characters_take_no_prefix() -> None:
    with pytest.raises(QueryError, match="prefix needs at least 3 characters"):
        parse_query("供应*")


def test_snippet_marks_the_original_text() -> None:
    body = "据报道，" + ZH * 3
    found = match_query("供应链", article(body))
    assert found is not None
    (hit,) = found.terms
    snippet = hit.snippets[0]
    assert snippet.text.strip("\u2026") in body
    assert [snippet.text[a:b] for a, b in snippet.marks] == ["供应链"] * 3


@pytest.mark.parametrize(("query", "body", "matched"), [
    ("=供应链", ZH, True),
    ('="供应链安全"', ZH, True),
    ('="供应链安全"', "供应链的安全", False),
    ("=バス", "バス", True),
    ("=パス", "バス", False),
])
def test_exact_terms(query: str, body: str, matched: bool) -> None:
    assert (hits(query, body) is not None) is matched, query


@pytest.mark.parametrize(("query", "body", "matched"), [
    # distance counts characters between the two terms
    ("供应链 NEAR/0 安全", "供应链安全", True),
    ("供应链 NEAR/0 安全", "供应链的安全", False),
    ("供应链 NEAR/1 安全", "供应链的安全", True),
    ("供应链 NEAR/2 安全", "供应链与其安全", True),
    ("供应链 NEAR/1 安全", "供应链与其安全", False),
    # a break between two runs counts as one more
    ("供应链 NEAR/0 安全", "供应链，安全", False),
    ("供应链 NEAR/1 安全", "供应链，安全", True),
    ("安全 ONEAR/5 供应链", ZH, False),
    ("供应链 ONEAR/5 风险", ZH, False),
    ("供应链 ONEAR/10 风险", ZH, True),
    # with Latin words: a Latin word is one token, like a character
    ("risk NEAR/2 供应链", "supply chain risk 供应链", True),
    ("risk NEAR/0 供应链", "supply chain risk 供应链", True),
    ("供应链 NEAR/0 risk", "供应链的 risk", False),
    ("中国 NEAR/0 iPhone", "中国iPhone", True),  # no break between CJK and other words
    ("中国 NEAR/0 iPhone", "中国，iPhone", True),
])
def test_near_counts_characters(query: str, body: str, matched: bool) -> None:
    assert (hits(query, body) is not None) is matched, query


def test_tokens_and_breaks() -> None:
    text = "苹果iPhone手机，电脑 2024年"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["苹", "果", "iphone", "手", "机", BREAK, "电", "脑",
                                        "2024", "年"]
    words = [text[t.start : t.end] for t in tokens if t.text != BREAK]
    assert words == ["苹", "果", "iPhone", "手", "机", "电", "脑", "2024", "年"]
    assert TokenText(text, False).pairs == {"苹果", "手机", "电脑"}
    assert TokenText("plain ASCII text", False).pairs == frozenset()
    assert [t.text for t in tokenize("供应链。")] == ["供", "应", "链"]  # none at the end


def test_the_fast_cjk_check_misses_no_cjk_character() -> None:
    pattern = re.compile(f"[{CJK}]")
    chars = [chr(c) for c in range(0x3000, 0x31350) if pattern.match(chr(c))]
    assert len(chars) > 90_000
    assert all(_has_cjk(c) for c in chars)
    assert not _has_cjk("Цепочка поставок, ελληνικά, café, 공급망, ห่วงโซ่อุปทาน \u2014 \U0001f600")


def test_term_text_shows_the_word_as_written() -> None:
    folding = Folding()
    compiler = Compiler()
    node = parse_query('"中国 iPhone 手机"')
    assert compiler.term(node, folding).text == "中国 iphone 手机"  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "expected"), [
    ("供应链", [("供应", "应链")]),
    ("=供应链", [("供应", "应链")]),
    ("供应", [("供应",)]),
    ("国", [("国",)]),
    ('"中国 iPhone"', [("iphone", "中国")]),
    ('"供应 链"', [("供应", "链")]),
])
def test_phrases_are_screened_by_bigrams(query: str, expected: list[tuple[str, ...]]) -> None:
    compiler = Compiler()
    keys = rule_keys(parse_query(query), lambda t: compiler.variant_keys(t, Folding()))
    assert keys is not None
    assert sorted(map(sorted, keys)) == sorted(map(sorted, expected))


CHARS = "中国供应链安全风险的产业"
cjk_words = st.text(st.sampled_from(CHARS), min_size=1, max_size=3)
cjk_texts = st.text(st.sampled_from(CHARS + "，。 a"), max_size=30)


@settings(max_examples=200, deadline=None)
@given(words=st.lists(cjk_words, min_size=1, max_size=8), texts=st.lists(cjk_texts, max_size=4),
       latin=st.text(string.ascii_lowercase + " ", max_size=12))
def test_a_word_matches_where_its_characters_stand_together(
        words: list[str], texts: list[str], latin: str) -> None:
    # a word of CJK characters matches exactly where it is a substring of the text, and many
    # rules compiled together (screened by bigrams) agree with each one alone
    ruleset = compile_rules([Rule(f"r{i}", w) for i, w in enumerate(words)])
    for text in [*texts, latin + "".join(texts)]:
        found = {m.rule for m in ruleset.match(article(text))}
        assert found == {f"r{i}" for i, w in enumerate(words) if w in text}


# -- end to end -----------------------------------------------------------------------------

ZH_ARTICLE = SeedArticle(
    "zh-supply-chain", "中国加强供应链安全", "2026-02-26",
    "\n".join([ZH, "商务部发言人在例行记者会上介绍了有关情况，并回答了记者提问。" * 3,
               "分析人士认为，这一举措将对全球半导体产业产生深远影响。" * 3]))
ZH_OTHER = SeedArticle(
    "zh-weather", "北京明天有雨", "2026-02-26",
    "\n".join(["中央气象台预报，北京明天有小到中雨，气温下降五到八度。" * 3,
               "提醒市民出行注意安全，及时增添衣物。" * 3]))


async def test_pipeline_alerts_on_a_chinese_word_inside_a_sentence(
        tmp_path: Path, hook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    news = await NewsServer([ZH_ARTICLE, ZH_OTHER]).start()
    watches = """
[[watch]]
name = "scr-zh"
query = '供应链'
channels = CHANNELS
"""
    path = write_config(tmp_path, news, None, hook, watches=watches)
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
    finally:
        await daemon.close()
        await news.stop()
    bodies = hook.bodies()
    assert [b["rule"]["name"] for b in bodies] == ["scr-zh"]
    assert bodies[0]["article"]["url"] == f"{news.base}/articles/zh-supply-chain.html"
    (term,) = bodies[0]["matches"]
    assert term["term"] == "供应链"
    assert "供应链" in term["snippets"][0]
