"""The source options of a ``[[feeds]]`` table: each kind accepts its own, one clear line
names any other (monitor.config.sourcekinds); and every kind, on every document (the others'
and hostile ones), yields entries or one clear ParseError line, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import JSON_PRESETS, KIND_OPTIONS, SourceOptions, load_config
from monitor.errors import ConfigError, ParseError
from monitor.sources import PARSERS, parse_source
from tests.sourcekit import SOURCES

RULE = '[[watch]]\nname = "r"\nquery = "x"\nchannels = []\n'


def load(tmp_path: Path, feed: str) -> object:
    path = tmp_path / "c.toml"
    path.write_text(f"[[feeds]]\n{feed}\n{RULE}")
    return load_config(path, source_kinds=tuple(PARSERS))


def problems(tmp_path: Path, feed: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, feed)
    return caught.value.problems


def test_every_kind_declares_its_options() -> None:
    assert set(KIND_OPTIONS) == set(PARSERS)


@pytest.mark.parametrize(("feed", "expected"), [
    ('url = "https://example.org/rss"\nlinks = "a.story"',
     "feeds[0].links: not an option of kind = 'feed' (only of kind = 'page')"),
    ('url = "https://example.org/rss"\nkind = "feed"\nquery = "x"',
     "feeds[0].query: not an option of kind = 'feed' (only of kind = 'google-news')"),
    ('url = "https://example.org/rss"\nresolve_redirects = "yes"',
     "feeds[0].resolve_redirects: expected true or false, got str"),
], ids=["links-on-feed", "query-on-feed", "resolve-type"])
def test_a_misplaced_option_is_one_line_naming_it(tmp_path: Path, feed: str,
                                                   expected: str) -> None:
    assert problems(tmp_path, feed) == [expected]


def test_resolve_redirects_is_an_option_of_every_kind(tmp_path: Path) -> None:
    config = load(tmp_path, 'url = "https://example.org/rss"\nresolve_redirects = true')
    assert config.feeds[0].options.resolve_redirects  # type: ignore[attr-defined]


HOSTILE = [b"", b"\x00\xff" * 100, b"{" * 100_000, b"[" * 100_000, b"<a>" * 50_000,
           b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;'
           b'&a;&a;&a;&a;&a;&a;&a;">]><urlset><url><loc>&b;</loc></url></urlset>',
           b"\x1f\x8b\x08\x00" + b"\x00" * 50, b"null", b'{"results": [1, null, "x", []]}']


@pytest.mark.parametrize("kind", sorted(KIND_OPTIONS))
def test_every_kind_reads_every_document_or_says_it_cannot(kind: str) -> None:
    options = SourceOptions(preset=next(iter(JSON_PRESETS))) if kind == "json" else \
        SourceOptions()
    documents = [p.read_bytes() for p in sorted(SOURCES.iterdir())] + HOSTILE
    for content in documents:
        try:
            parsed = parse_source(kind, content, "https://www.example-news.com/x",
                                  options=options)
        except ParseError as e:
            assert str(e) and "\n" not in str(e)
            continue
        assert all(e.key for e in parsed.entries)
