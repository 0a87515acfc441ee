"""Benchmark: match 1,000 / 10,000 / 50,000 watch rules against ~5 KB articles.

Prints one JSON object::

    {"runs": [{"rules": 50000, "build_s": ..., "median_us": ..., "p99_us": ...,
               "baseline_median_us": ..., "speedup": ..., ...}, ...],
     "peak_rss_mb": ...}

Rules and articles are generated (seeded, so runs are comparable): articles are ~5 KB of
Zipf-distributed words (a few hundred real English words plus 20,000 pseudo-words) with
curly quotes, dashes, hyphens, and mentions of named entities drawn from a pool of 200,000
(1-3 capitalised pseudo-words each). Rules watch entities and topic words/phrases (phrases
of 1-4 words, AND/OR/NOT, NEAR/ONEAR, prefixes, title: scopes, 1% case-sensitive, ~0.5%
regexes); some articles quote rule phrases so that those rules match.

The baseline is one compiled ``re`` per rule (its positive terms as a ``\\b...\\b``
alternation, regex rules as themselves), all run on each article; for large rule sets it is
timed on a subset of the articles (``baseline_articles`` says how many). After building,
the bench calls ``gc.freeze()`` as a long-running daemon should after loading its rules.
``build_s`` includes reading the English lemma dictionary, from its decoded copy in the
cache directory (``rules.lexicon``) when an earlier run left one, else from simplemma's
compressed stream (about 0.4 s more, once per machine and simplemma version).

``median_us``/``p99_us`` time each article the first time the rule set sees it, its caches
(canonical forms of words, folded character runs) warmed by 5 articles only, so first-seen
words are looked up in the lemma dictionaries on the way. ``warm_median_us``/``warm_p99_us``
time the same articles again after 400 other articles from the same generator: a daemon
that has been reading for a while, which knows most words it meets.

``explain_median_us`` is the time ``RuleSet.explain`` then takes to say which variant fired
at each hit of an article's matches (what the daemon does for the matches it stores and
alerts on; ``match`` itself never explains), the same articles already explained once:
their rules' queries parsed, their terms' variants and their hits' tokens in the explain
caches, as for a daemon alerting again on the same rules and names. It includes building
the matches' spans and snippets: ``match`` leaves them until a match's terms are first
read (``snippets.LazyMatch``).

Run: ``python bench/match.py`` (about 2 minutes on 2 cores); ``python bench/match.py
1000`` for other rule counts.
"""

from __future__ import annotations

import gc
import json
import random
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable

from monitor.models import Article
from monitor.rules import Regex, Rule, Term, compile_rules, parse_query
from monitor.rules.nodes import iter_terms

SEED = 20260226
ARTICLES = 120
WARMUP = 520  # articles 120..519 warm the caches for the warm_* figures
RULE_COUNTS = (1_000, 10_000, 50_000)
BASELINE_ARTICLES = {1_000: 40, 10_000: 10, 50_000: 5}

ENGLISH = """the of and to a in is it that for on was with as he be at by this had not are
but from or have an they which one you were her all she there would their we him been has
when who will more no if out so said what up its about into than them can only other new
some could time these two may then do first any my now such like our over man me even most
made after also did many before must through back years where much your way well down
should because each just those people how too little state good very make world still own
see men work long get here between both life being under never day same another know while
last might us great old year off come since against go came right used take three states
himself few house use during without again place american around however home small found
thought went say part once general high upon school every does got united left number
course war until always away something fact though water less public put think almost hand
enough far took head yet government system better set told nothing night end why called
didn't eyes find going look asked later knew point next city business give group toward
young days let room president side social given present several order national possible
rather second face per among form important often things looked early white case john
become large big need four within felt along children saw best church ever least power
development light thought market energy defense supply chain risk company military court
policy security report officials production act contract technology artificial
intelligence election budget trade tariff steel bank oil climate health vaccine strike
""".split()

SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


def make_words(rng: random.Random, size: int, seen: set[str]) -> list[str]:
    """``size`` new pseudo-words of 2-4 syllables."""
    words: list[str] = []
    while len(words) < size:
        word = "".join(rng.choices(SYLLABLES, k=rng.choice((2, 2, 3, 3, 4))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf_cum(size: int, s: float) -> list[float]:
    total = 0.0
    return [total := total + 1 / (rank + 1) ** s for rank in range(size)]


class Generator:
    """Seeded rules and articles: general text plus mentions of named entities.

    Articles are Zipf-distributed words of one vocabulary (English words, then 20,000
    pseudo-words) with mentions of entities (1-3 capitalised pseudo-words) drawn, also
    Zipf-like, from a pool of 200,000. Most rules watch an entity (possibly with topic
    words); the rest watch topic phrases of the general vocabulary.
    """

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        seen = set(ENGLISH)
        self.vocab = list(dict.fromkeys(ENGLISH)) + make_words(self.rng, 20_000, seen)
        self.cum = zipf_cum(len(self.vocab), 1.1)
        parts = make_words(self.rng, 60_000, seen)
        self.entities = [" ".join(w.capitalize() for w in self.rng.sample(parts, k))
                         for k in self.rng.choices((1, 2, 2, 3), k=200_000)]
        self.entity_cum = zipf_cum(len(self.entities), 0.8)

    def entity(self) -> str:
        name = self.rng.choice(self.entities)
        return f'"{name}"' if " " in name else name

    def topic(self) -> str:
        """A topic word or phrase (general vocabulary, not the commonest words)."""
        words = [self.vocab[self.rng.randrange(300, len(self.vocab))]
                 for _ in range(self.rng.choice((1, 1, 2, 3)))]
        return f'"{" ".join(words)}"' if len(words) > 1 else words[0]

    def prefix(self) -> str:
        word = self.vocab[self.rng.randrange(300, len(self.vocab))]
        return word[: max(5, len(word) - 2)] + "*" if len(word) >= 7 else word

    def query(self) -> str:
        e, t, r = self.entity, self.topic, self.rng.random()
        if r < 0.30:
            return e()
        if r < 0.45:
            return f"{e()} {t()}" if r < 0.38 else f"{e()} AND {t()}"
        if r < 0.57:
            return " OR ".join(e() for _ in range(self.rng.randint(2, 3)))
        if r < 0.65:
            op = self.rng.choice(("NEAR", "ONEAR"))
            return f"{e()} {op}/{self.rng.randint(1, 8)} {t()}"
        if r < 0.73:
            return f"({e()} OR {e()}) {t()}"
        if r < 0.80:
            return f"{e()} -{t()}"
        if r < 0.87:
            return f"{t()} {t()}" if r < 0.84 else f'"{t().strip(chr(34))} {t().strip(chr(34))}"'
        if r < 0.92:
            return f"{self.prefix()} {e()}"
        if r < 0.995:
            return f"title:{e()}" if r < 0.96 else f"{t()} AND {t()} AND {t()}"
        name = self.rng.choice(self.entities).split()
        return r"/\b" + r"\s+".join(name) + r"(?:'s)?\b/"

    def rules(self, count: int) -> list[Rule]:
        return [Rule(f"r{i}", self.query(), self.rng.random() < 0.01) for i in range(count)]

    def words(self, n: int) -> list[str]:
        return self.rng.choices(self.vocab, cum_weights=self.cum, k=n)

    def sentence(self, quotes: list[str]) -> str:
        words = self.words(self.rng.randint(8, 22))
        if self.rng.random() < 0.6:
            mention = self.rng.choices(self.entities, cum_weights=self.entity_cum)[0]
            words.insert(self.rng.randrange(len(words)), mention)
        if quotes and self.rng.random() < 0.15:
            words.insert(self.rng.randrange(len(words)), quotes.pop())
        if self.rng.random() < 0.2:
            i = self.rng.randrange(len(words) - 1)
            words[i : i + 2] = [words[i] + "-" + words[i + 1]]
        if self.rng.random() < 0.15:
            words.insert(self.rng.randrange(len(words)), "—")
        text = " ".join(words)
        text = text[0].upper() + text[1:]
        return f"“{text},” he said." if self.rng.random() < 0.1 else text + "."

    def article(self, rules: list[Rule], n: int) -> Article:
        quotes = [self.quoted(self.rng.choice(rules).query) for _ in range(self.rng.randint(0, 6))]
        paragraphs: list[str] = []
        while sum(map(len, paragraphs)) < 5_000:
            k = self.rng.randint(3, 6)
            paragraphs.append(" ".join(self.sentence(quotes) for _ in range(k)))
        title = " ".join(self.words(self.rng.randint(6, 10))).title()
        slug = "-".join(self.words(5))
        return Article(url=f"https://news.example.org/2026/{n}/{slug}", title=title,
                       text="\n\n".join(paragraphs)[:5_200], source=f"Wire {n % 7}")

    @staticmethod
    def quoted(query: str) -> str:
        """Plain words of a rule's query, to plant in an article."""
        return " ".join(re.findall(r"[A-Za-z]+", query.replace("title:", "")))[:60]


def baseline_pattern(rule: Rule) -> re.Pattern[str]:
    """One regex approximating a rule: its positive terms as an alternation."""
    parts = []
    for node, negated in iter_terms(parse_query(rule.query, case_sensitive=rule.case_sensitive)):
        if negated:
            continue
        if isinstance(node, Regex):
            parts.append(node.pattern)
        elif isinstance(node, Term):
            words = [re.escape(a.text) + (r"\w*" if a.prefix else "") for a in node.atoms]
            parts.append(r"\b" + r"\W+".join(words) + r"\b")
    return re.compile("|".join(f"(?:{p})" for p in parts), 0 if rule.case_sensitive else re.I)


def timed_us(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def run(rules: list[Rule], articles: list[Article], others: list[Article]) -> dict[str, object]:
    count = len(rules)
    start = time.perf_counter()
    ruleset = compile_rules(rules)
    build_s = time.perf_counter() - start
    gc.collect()
    gc.freeze()  # as a long-running daemon would after loading rules: no full GC pauses
    rss_after_build = rss_mb()
    for article in articles[:5]:
        ruleset.match(article)  # warm the per-character caches
    times = [timed_us(lambda a=a: ruleset.match(a)) for a in articles]
    for article in others:  # a daemon that has read a few hundred articles: words it knows
        ruleset.match(article)
    warm = [timed_us(lambda a=a: ruleset.match(a)) for a in articles]
    found = [ruleset.match(a) for a in articles]
    matched = sum(map(len, found))
    for article, matches in zip(articles, found, strict=True):
        ruleset.explain(article, matches)  # the rules' queries parsed once, as in a daemon
    told = [timed_us(lambda a=a, m=m: ruleset.explain(a, m))
            for a, m in zip(articles, found, strict=True)]
    patterns = [baseline_pattern(rule) for rule in rules]
    subset = articles[: BASELINE_ARTICLES.get(count, 5)]
    base = [timed_us(lambda a=a: [p.search(a.title) or p.search(a.text) for p in patterns])
            for a in subset]
    median, base_median = statistics.median(times), statistics.median(base)
    return {
        "rules": count, "build_s": round(build_s, 3), "median_us": round(median, 1),
        "p99_us": round(percentile(times, 0.99), 1), "mean_us": round(statistics.mean(times), 1),
        "warm_median_us": round(statistics.median(warm), 1),
        "warm_p99_us": round(percentile(warm, 0.99), 1),
        "articles": len(articles), "matches_per_article": round(matched / len(articles), 2),
        "baseline_median_us": round(base_median, 1), "baseline_articles": len(subset),
        "speedup": round(base_median / median, 1),
        "explain_median_us": round(statistics.median(told), 1),
        "rss_after_build_mb": round(rss_after_build, 1),
    }


def main() -> None:
    counts = tuple(int(arg) for arg in sys.argv[1:]) or RULE_COUNTS
    gen = Generator()
    rules = gen.rules(max(*counts, *RULE_COUNTS))  # the same rules and articles whatever runs
    articles = [gen.article(rules[: min(RULE_COUNTS)], n) for n in range(ARTICLES)]
    others = [gen.article(rules[: min(RULE_COUNTS)], n) for n in range(ARTICLES, WARMUP)]
    runs = []
    for count in counts:
        runs.append(run(rules[:count], articles, others))
        # The next run stands for another daemon: let this one's rule set go (frozen by
        # run(), so its cycles would never be collected) before the next one builds.
        gc.unfreeze()
        gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"runs": runs, "article_chars": round(statistics.mean(
        len(a.text) for a in articles)), "peak_rss_mb": round(peak, 1)}))


if __name__ == "__main__":
    main()
