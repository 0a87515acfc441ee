"""Issue 17's match anchor: a Hyperscan screen on monitor's own tokens, then monitor's own
boolean evaluation; timed against ``RuleSet.match`` on the same articles (bench/compare.py).

The anchor replaces one thing, the screen (``TriggerIndex.candidates``: a set intersection
of the article's tokens and canonical forms with the trigger dict, and pyahocorasick scans
for ``prefix*`` triggers, regex literals and whole words of regexes), by Hyperscan scans
for the very same triggers, one literal pattern each (``HS_FLAG_SINGLEMATCH``, compiled by
``hs_compile_lit_multi``, block mode):

* the token database, on one stream: the folded fields (``TokenText.folded``: words and
  single spaces), the canonical forms that differ from the tokens, the CJK bigrams, all
  space separated; a word trigger ``w`` is `` w ``, a ``pre*`` trigger `` pre``;
* the literal database, on each field's prefiltered regex text (``RegexTexts``): regex
  literals, and whole words of regexes, these counted only in fields that are not plain
  (in plain fields their tokens fire them, as in monitor).

The fired triggers pick the candidates exactly as monitor does (a rule's first and second
trigger of some key; rules without keys always), then ``RuleSet.match`` runs unchanged on
them: the anchor is a ``RuleSet`` sharing the compiled rules, its index this screen. So
both sides build the same article views and run the same evaluation; the ratio is what
monitor's screen costs over Hyperscan's, plus whatever the candidate sets differ by (none:
``identical`` checks every match, with its terms, on every article).

Compiling is cached: ``~/.cache/monitor-bench/hs-<sha256>.db`` (``hyperscan.dumpb``),
keyed by the patterns, their flags, the compiler mode and the binding's version.
"""

from __future__ import annotations

import cProfile
import gc
import hashlib
import pathlib
import pstats
import statistics
import time
from collections.abc import Callable
from itertools import chain
from operator import itemgetter
from typing import Any

from monitor.models import Article, Match
from monitor.rules import RuleSet
from monitor.rules.index import TriggerIndex
from monitor.rules.triggers import REGEX_MARK
from monitor.rules.view import ArticleView, RegexTexts

CACHE = pathlib.Path.home() / ".cache" / "monitor-bench"
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


def database(hs: Any, patterns: list[bytes], flags: int) -> tuple[Any, float, bool]:
    """A block-mode literal database of ``patterns`` (id = position), compile seconds, and
    whether it came from the cache."""
    digest = hashlib.sha256(f"{hs.__version__} lit block {flags}".encode())
    for p in patterns:
        digest.update(len(p).to_bytes(4, "little") + p)
    path = CACHE / f"hs-{digest.hexdigest()[:32]}.db"
    start = time.perf_counter()
    if path.exists():
        try:
            return hs.loadb(path.read_bytes(), hs.HS_MODE_BLOCK), 0.0, True
        except hs.error:  # another Hyperscan build: compile again below
            pass
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(expressions=patterns, ids=list(range(len(patterns))),
               elements=len(patterns), flags=flags, literal=True)
    took = time.perf_counter() - start
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(hs.dumpb(db))
    tmp.replace(path)
    return db, took, False


class HsScreen:
    """``TriggerIndex.candidates`` done by Hyperscan, for the triggers of ``index``."""

    def __init__(self, hs: Any, index: TriggerIndex) -> None:
        entries = index._entries  # the bench reads monitor's own keys
        self.always = index.always
        token_patterns: list[bytes] = []
        token_entries: list[Any] = []
        for trigger, entry in sorted(entries.items()):  # stable ids: a stable cache key
            if trigger.startswith(REGEX_MARK):
                continue
            pattern = " " + trigger[:-1] if trigger.endswith("*") else f" {trigger} "
            token_patterns.append(pattern.encode())
            token_entries.append(entry)
        literal_patterns: list[bytes] = []
        self.literal_entries: list[Any] = []
        for literal, trigger in sorted(index._literals.items()):
            literal_patterns.append(literal.encode())
            self.literal_entries.append(entries.get(trigger))
        self.whole_from = len(literal_patterns)  # ids from here on: whole words of regexes
        for literal, trigger in sorted(index._words.items()):
            literal_patterns.append(literal.encode())
            self.literal_entries.append(entries.get(trigger))
        self.token_entries = token_entries
        flags = hs.HS_FLAG_SINGLEMATCH
        self.tokens_db, took, cached = database(hs, token_patterns, flags)
        self.compile_s, self.cached = took, cached
        self.literals_db = None
        if literal_patterns:
            self.literals_db, took, cached = database(hs, literal_patterns, flags)
            self.compile_s += took
            self.cached = self.cached and cached
        self.scratch = hs.Scratch(self.tokens_db)
        self.literal_scratch = (None if self.literals_db is None
                                else hs.Scratch(self.literals_db))
        self.patterns = {"tokens": len(token_patterns), "literals": len(literal_patterns)}

    def candidates(self, view: ArticleView, regex: RegexTexts) -> list[int]:
        """Ids of the rules worth evaluating on the article, in rule order."""
        fired: list[int] = []
        add = fired.append

        def on_token(pid: int, start: int, end: int, flags: int, context: Any) -> None:
            add(pid)

        stream = [text.folded for text in view.texts]
        stream += view.forms()
        stream += [" ".join(text.pairs) for text in view.texts if text.pairs]
        self.tokens_db.scan((" " + " ".join(stream) + " ").encode(),
                            match_event_handler=on_token, scratch=self.scratch)
        found = list(map(self.token_entries.__getitem__, fired))
        if self.literals_db is not None:
            hits: list[int] = []
            keep = hits.append
            plain = regex.plain()  # as monitor: all fields only if some regex literal
            for f in range(len(regex)) if self.whole_from else regex.not_plain():
                text = regex.prefiltered(f)
                if not text:
                    continue
                whole_from = self.whole_from if plain[f] else len(self.literal_entries)

                def on_literal(pid: int, start: int, end: int, flags: int, context: Any,
                               whole_from: int = whole_from) -> None:
                    if pid < whole_from:
                        keep(pid)

                self.literals_db.scan(text.encode(), match_event_handler=on_literal,
                                      scratch=self.literal_scratch)
            found += filter(None, map(self.literal_entries.__getitem__, hits))
        ids = set(chain.from_iterable(map(_FIRST, found)))
        ids.intersection_update(chain.from_iterable(map(_SECOND, found)))
        ids.update(self.always)
        return sorted(ids)


def anchor_ruleset(hs: Any, ruleset: RuleSet) -> tuple[RuleSet, HsScreen]:
    """A ``RuleSet`` sharing ``ruleset``'s compiled rules, screened by Hyperscan."""
    screen = HsScreen(hs, ruleset._index)
    return RuleSet(ruleset._compiled, screen), screen  # type: ignore[arg-type]


def _read_terms(ruleset: RuleSet) -> Callable[[Article], list[Match]]:
    def run(article: Article) -> list[Match]:
        found = ruleset.match(article)
        for m in found:
            _ = m.terms
        return found
    return run


def _identical(ruleset: RuleSet, anchor: RuleSet, docs: list[Article]) -> dict[str, Any]:
    """Whether both give the same matches (rule, query, terms) on every article."""
    differ, matches = [], 0
    for n, article in enumerate(docs):
        mine, theirs = ruleset.match(article), anchor.match(article)
        matches += len(mine)
        if [m.rule for m in mine] != [m.rule for m in theirs] or mine != theirs:
            differ.append(n)
    return {"identical": not differ, "articles_differing": differ[:10],
            "matches": matches}


def _profile(fn: Callable[[Article], object], docs: list[Article], top: int) -> list[str]:
    """The top functions of ``fn`` over ``docs`` by own time: ``own_ms cum_ms calls name``."""
    profiler = cProfile.Profile()
    profiler.enable()
    for article in docs:
        fn(article)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    out = []
    for (file, line, name), (_, calls, own, cum, _) in rows[:top]:
        where = f"{pathlib.Path(file).name}:{line}" if line else file
        out.append(f"{own * 1e3:8.1f} {cum * 1e3:8.1f} {calls:7d} {name} ({where})")
    return out


def compare(hs: Any, ruleset: RuleSet, docs: list[Article], rounds: int,
            side_by_side: Callable[..., dict[str, list[float]]]) -> dict[str, Any]:
    """monitor against the anchor on ``docs``: medians, ratios, identity, profiles."""
    anchor, screen = anchor_ruleset(hs, ruleset)
    gc.collect()
    gc.freeze()  # as a daemon does after loading its rules (bench/match.py)
    for article in docs[:5]:
        ruleset.match(article), anchor.match(article)
    same = _identical(ruleset, anchor, docs)
    runners: dict[str, Callable[[Article], object]] = {
        "monitor": ruleset.match, "anchor": anchor.match,
        "monitor_terms_read": _read_terms(ruleset), "anchor_terms_read": _read_terms(anchor)}
    medians = side_by_side(docs, runners, rounds)
    per_article = {k: [1e6 * x for x in v] for k, v in medians.items()}

    def ratio(top: str, bottom: str) -> float:
        return round(statistics.median(
            a / b for a, b in zip(per_article[top], per_article[bottom], strict=True)), 3)

    screens = {"monitor": ruleset._index.candidates,
               "anchor": screen.candidates}
    screen_us = {}
    for name, candidates in screens.items():
        times = []
        for article in docs:
            regex = RegexTexts(article)
            view = ArticleView(article, False, regex)
            view.forms()  # the canonical forms, which evaluation needs anyway
            start = time.perf_counter()
            candidates(view, regex)
            times.append(1e6 * (time.perf_counter() - start))
        screen_us[name] = round(statistics.median(times), 1)
    return {
        **same,
        "hyperscan": hs.__version__, "patterns": screen.patterns,
        "hyperscan_compile_s": round(screen.compile_s, 1), "database_cached": screen.cached,
        "median_us": {k: round(statistics.median(v), 1) for k, v in per_article.items()},
        "monitor/anchor": ratio("monitor", "anchor"),
        "monitor_terms_read/anchor_terms_read": ratio("monitor_terms_read",
                                                      "anchor_terms_read"),
        "monitor_terms_read/anchor": ratio("monitor_terms_read", "anchor"),
        "screen_only_median_us": screen_us,
        "profile_monitor": _profile(ruleset.match, docs, 15),
        "profile_anchor": _profile(anchor.match, docs, 15),
        "note": "ratios: median over articles of per-article medians of interleaved rounds; "
                "the anchor is monitor's RuleSet.match with Hyperscan as its screen (same "
                "views, same evaluation); screen_only times the screens alone, the article's "
                "tokens and canonical forms already worked out; profile rows: own ms, "
                "cumulative ms, calls, function, over one pass of the articles"}
