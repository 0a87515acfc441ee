"""The decoded-dictionary cache (``rules.lexicon``): a cached lexicon equals the one decoded
from simplemma's stream, and a cache file that is corrupt, of another key or unwritable
costs only the slow path, never a wrong word."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.rules import lexicon
from monitor.rules.lexicon import Lexicon

WORDS = ["crises", "Häuser", "organisations", "ran", "zzqxv"]


def _files(root: Path) -> list[Path]:
    return sorted(root.glob("lexicon-*.marshal"))


def _same(a: Lexicon, b: Lexicon) -> None:
    assert a.hashes == b.hashes and a.slots == b.slots
    assert list(a.stream) == list(b.stream)
    for word in WORDS:
        assert a.stream.get(word) == b.stream.get(word)
        assert a.stream.get(word.lower()) == b.stream.get(word.lower())


def test_cached_lexicon_equals_the_decoded_one(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_CACHE_DIR", "")
    plain = Lexicon("en")
    assert _files(tmp_path) == []
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(tmp_path))
    first = Lexicon("en")  # decodes, then writes the cache
    [path] = _files(tmp_path)
    assert "simplemma" in path.name and path.stat().st_size > 1_000_000
    again = Lexicon("en")  # reads the cache
    _same(plain, first)
    _same(plain, again)
    assert again.stream.get("crises") == "crisis" and len(again.stream) == len(plain.stream)


def test_corrupt_or_foreign_cache_is_rebuilt(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(tmp_path))
    good = Lexicon("ms")  # the smallest dictionary: a quick test
    [path] = _files(tmp_path)
    blob = path.read_bytes()
    path.write_bytes(blob[:4] + blob[4:-9] + bytes(9))  # a flipped tail: CRC no longer agrees
    _same(good, Lexicon("ms"))
    assert path.read_bytes() == blob  # rewritten whole
    path.write_bytes(blob[: len(blob) // 2])  # truncated
    _same(good, Lexicon("ms"))
    assert path.read_bytes() == blob
    path.write_bytes(b"")
    _same(good, Lexicon("ms"))
    monkeypatch.setattr(lexicon, "CACHE_FORMAT", lexicon.CACHE_FORMAT + 1)
    _same(good, Lexicon("ms"))  # another key: another file, the old one left alone
    assert len(_files(tmp_path)) == 2


def test_unwritable_cache_dir_costs_only_time(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(blocker / "sub"))
    found = Lexicon("ms")
    assert len(found.stream) == len(found.hashes) > 1000
    assert not (blocker / "sub").exists()


def test_default_cache_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert lexicon.cache_dir() == tmp_path / "monitor"
    monkeypatch.setenv("MONITOR_CACHE_DIR", " ")
    assert lexicon.cache_dir() is None
