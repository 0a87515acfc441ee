"""One language's lemma dictionary, read once per process and kept decoded in a disk cache.

simplemma ships each dictionary as an lzma-compressed front-coded stream, which it decodes
record by record in pure Python (about 0.3 s for English), and ``lemmas`` then needs every
word of it once more to know which words are not in it (another 0.2 s): half a second of
every rule set's first build. The decoded form (simplemma's stream index and the words in
lower case) is therefore kept under the cache directory in ``marshal`` format, which reads
back in a few milliseconds.

The cache is never wrong, only missing: its file name and its header carry simplemma's
version, the size and modification time of the shipped dictionary and this module's
``CACHE_FORMAT``; the payload carries a CRC-32. A file that is missing, unreadable, of
another key or corrupt is ignored and rewritten (atomically, by rename). A cache directory
that cannot be written costs only the slow path. ``MONITOR_CACHE_DIR`` names the directory
(default ``$XDG_CACHE_HOME/monitor``, else ``~/.cache/monitor``); set empty, no cache.
"""

from __future__ import annotations

import logging
import marshal
import os
import tempfile
import zlib
from array import array
from collections.abc import Callable, Mapping
from pathlib import Path

import simplemma
from simplemma.strategies.dictionaries.dictionary_factory import DATA_FOLDER
from simplemma.strategies.dictionaries.stream_dictionary_factory import StreamMap

__all__ = ["CACHE_FORMAT", "SLOTS", "Lexicon", "LexiconFactory", "cache_dir"]

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
"""Bumped whenever what the cache holds changes meaning."""

SLOTS = 1 << 20
"""Size of a lexicon's ``slots`` (bytes): about one in six taken for English's words."""

_STATE = ("_data", "_rev", "_count", "_pos", "_firsts", "_blocks")
"""The attributes of simplemma's ``StreamMap`` that the cache keeps (its ``__slots__``)."""


def cache_dir() -> Path | None:
    """The directory of decoded dictionaries, or None when caching is off."""
    root = os.environ.get("MONITOR_CACHE_DIR")
    if root is not None:
        return Path(root) if root.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "monitor"


def _key(lang: str) -> str:
    """What a cached file must have been built from: simplemma's version and dictionary."""
    stat = (DATA_FOLDER / f"{lang}.plzma").stat()
    return (f"lexicon-{lang}-simplemma{simplemma.__version__}-f{CACHE_FORMAT}"
            f"-{stat.st_size}-{stat.st_mtime_ns}")


def _read(path: Path, key: str) -> tuple[StreamMap, list[str]] | None:
    """The stream and lower-case words cached at ``path``, or None if absent or not valid."""
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    try:
        crc, payload = int.from_bytes(blob[:4], "big"), blob[4:]
        if len(blob) < 4 or zlib.crc32(payload) != crc:
            raise ValueError("checksum")
        found_key, state, words = marshal.loads(payload)
        if found_key != key or len(state) != len(_STATE) or not isinstance(words, list):
            raise ValueError("key")
        stream = StreamMap.__new__(StreamMap)
        for name, value in zip(_STATE, state, strict=True):
            setattr(stream, name, value)
    except (ValueError, EOFError, TypeError, AttributeError) as error:
        log.warning("event=lexicon_cache_invalid path=%s error=%s", path, type(error).__name__)
        return None
    return stream, words


def _write(path: Path, key: str, stream: StreamMap, words: list[str]) -> None:
    """Cache ``stream`` and ``words`` at ``path`` (atomically); skipped on any error."""
    try:
        state = tuple(getattr(stream, name) for name in _STATE)
        payload = marshal.dumps((key, state, words))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(zlib.crc32(payload).to_bytes(4, "big") + payload)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, AttributeError, ValueError) as error:
        log.warning("event=lexicon_cache_unwritable path=%s error=%s", path,
                    type(error).__name__)


def _load(lang: str) -> tuple[StreamMap, list[str]]:
    """simplemma's stream of ``lang`` and its words in lower case, from the cache if valid."""
    root = cache_dir()
    if root is not None:
        key = _key(lang)
        path = root / f"{key}.marshal"
        cached = _read(path, key)
        if cached is not None:
            return cached
    stream = StreamMap(lang)
    words = list(map(str.lower, stream))
    if root is not None:
        _write(path, key, stream, words)
    return stream, words


class Lexicon:
    """One language's dictionary: simplemma's compact stream (about 1 MB for English,
    slow to search), and the sorted hashes of its words in lower case, which answer "not
    in it" (names, rare words) without searching the stream. ``slots`` is 1 at
    ``hash & (SLOTS - 1)`` of each such hash: a 0 there says "not in it" with no search
    at all, for many words at once (``lemmas.Folds.forms_of``)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.stream, words = _load(lang)
        self.hashes = array("q", sorted(map(hash, words)))
        del words
        self.slots = bytearray(SLOTS)
        mask = SLOTS - 1
        for h in self.hashes:
            self.slots[h & mask] = 1


class LexiconFactory:
    """A simplemma dictionary factory over the lexicons that ``lexicon`` returns, so that
    lookups search the stream the lexicon read (no second copy in simplemma's own cache)."""

    def __init__(self, lexicon: Callable[[str], Lexicon]) -> None:
        self._lexicon = lexicon

    def get_dictionary(self, lang: str) -> Mapping[str, str]:
        """The dictionary of ``lang`` (simplemma's ``DictionaryFactory`` protocol)."""
        return self._lexicon(lang).stream
