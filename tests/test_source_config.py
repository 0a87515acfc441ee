"""The source options of a ``[[feeds]]`` table: each kind accepts its own, one clear line
names any other (monitor.config.sourcekinds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import KIND_OPTIONS, load_config
from monitor.errors import ConfigError
from monitor.sources import PARSERS

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
