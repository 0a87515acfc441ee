"""Hard pages: is the text extracted from a page the article, or a wall in front of it?

``judge_page(text, feed_text)`` is pure: it reads the extracted text (paragraphs, one a
line, as trafilatura writes them) and the feed item's own text, and says why the page is
not the article, or None:

- ``"consent"``: the text is mostly a cookie or consent notice ("We use cookies",
  "Accept all", "Zustimmen", "Accepter", ...);
- ``"paywall"``: mostly a subscription notice, or a short lead that ends in one
  ("Subscribe to continue reading", "Jetzt abonnieren", "Réservé aux abonnés", ...);
- ``"short"``: much shorter than the feed's own text (a teaser where the feed had more).

"Mostly" is by characters: the paragraphs that hold a notice phrase make up at least
``NOTICE_SHARE`` of the text. So a real article that mentions cookies, consent or
subscriptions in passing, whose other paragraphs carry the story, is not a wall. The
phrase lists are small and multilingual (en, de, fr, es, it, nl, pt), matched as whole
words on case-folded text with whitespace collapsed; a one-word button label
("Zustimmen", "Accepter", "Abonnieren") counts only as a paragraph of its own.
"""

from __future__ import annotations

import re
from dataclasses import replace

from monitor.extract import article_from_entry
from monitor.models import Article, Entry

NOTICE_SHARE = 0.4  # notice paragraphs' share of the text that makes it a wall
TEASER_CHARS = 1500  # a text this short that ends in a paywall notice is a teaser
SHORT_FACTOR = 0.5  # page text under this share of the feed's text is a teaser
MIN_FEED_CHARS = 400  # the feed's text must be this long for the length test to apply
MAX_WALL_CHARS = 20_000  # a longer text is read as the article: notices are short

CONSENT = (
    "we use cookies", "this site uses cookies", "this website uses cookies",
    "uses cookies and similar technologies", "accept all", "reject all", "accept cookies",
    "manage preferences", "manage cookies", "cookie settings", "cookie preferences",
    "your privacy choices", "we and our partners", "store and/or access information on a device",
    "we value your privacy", "consent to the use of",
    # de
    "wir verwenden cookies", "wir nutzen cookies", "alle akzeptieren", "zustimmen und weiter",
    "cookie-einstellungen", "ihre einwilligung", "werbefrei lesen",
    # fr
    "nous utilisons des cookies", "tout accepter", "tout refuser", "accepter et fermer",
    "paramétrer les cookies", "vos choix en matière de cookies",
    # es, it, nl, pt
    "utilizamos cookies", "aceptar todas", "aceptar y continuar", "rechazar todas",
    "utilizziamo i cookie", "accetta tutti", "rifiuta tutti",
    "wij gebruiken cookies", "alles accepteren", "utilizamos cookies", "aceitar todos",
)
PAYWALL = (
    "subscribe to continue", "subscribe to read", "to continue reading",
    "continue reading with", "already a subscriber", "already subscribed",
    "this article is for subscribers", "for subscribers only", "subscribers only",
    "become a subscriber", "sign in to continue reading", "start your subscription",
    "unlock this article", "to read the full article",
    # de
    "jetzt abonnieren", "weiterlesen mit", "bereits abonnent", "schon abonnent",
    "exklusiv für abonnenten", "um den artikel weiterzulesen", "artikel freischalten",
    # fr
    "abonnez-vous", "déjà abonné", "réservé aux abonnés", "pour lire la suite",
    # es, it, nl, pt
    "ya eres suscriptor", "contenido exclusivo para suscriptores",
    "sei già abbonato", "riservato agli abbonati",
    "word abonnee", "al abonnee", "já é assinante",
)
CONSENT_BUTTONS = ("zustimmen", "akzeptieren", "einverstanden", "accepter", "j'accepte",
                   "accept", "i agree", "agree", "aceptar", "accetta", "accetto",
                   "accepteren", "aceitar", "ok")
PAYWALL_BUTTONS = ("abonnieren", "subscribe", "subscribe now", "s'abonner", "abbonati",
                   "suscríbete", "assine", "abonneren", "abonnieren sie jetzt")


def _phrases(phrases: tuple[str, ...], buttons: tuple[str, ...]) -> re.Pattern[str]:
    words = "|".join(re.escape(p) for p in phrases)
    alone = "|".join(re.escape(b) for b in buttons)
    return re.compile(rf"(?<!\w)(?:{words})(?!\w)|^\W*(?:{alone})\W*$")


_CONSENT = _phrases(CONSENT, CONSENT_BUTTONS)
_PAYWALL = _phrases(PAYWALL, PAYWALL_BUTTONS)


def judge_page(text: str, feed_text: str = "") -> str | None:
    """Why ``text`` (a page's extracted text) is not the article: ``"consent"``,
    ``"paywall"`` or ``"short"``; None when it reads as the article.

    A text over ``MAX_WALL_CHARS`` is never read for notices (walls are short), so a huge
    page costs the event loop no scan."""
    if len(text) <= MAX_WALL_CHARS and (wall := _notice(text)):
        return wall
    feed = len(" ".join(feed_text.split()))
    if feed < MIN_FEED_CHARS or len(text) >= 2 * feed:  # long enough, whitespace aside
        return None
    return "short" if len(" ".join(text.split())) < SHORT_FACTOR * feed else None


def _notice(text: str) -> str | None:
    paragraphs = [" ".join(p.split()).casefold() for p in text.splitlines()]
    paragraphs = [p for p in paragraphs if p]
    total = sum(len(p) for p in paragraphs)
    if not total:
        return None
    consent = sum(len(p) for p in paragraphs if _CONSENT.search(p))
    paywall = sum(len(p) for p in paragraphs if _PAYWALL.search(p))
    if max(consent, paywall) >= NOTICE_SHARE * total:
        return "consent" if consent >= paywall else "paywall"
    if total < TEASER_CHARS and _PAYWALL.search(paragraphs[-1]):
        return "paywall"
    return None


def past_the_wall(article: Article, entry: Entry) -> tuple[Article, str | None]:
    """``article`` when it reads as the article; else the feed item's own text marked
    ``partial`` (and ``from_feed``), and why (``judge_page``'s answer)."""
    wall = judge_page(article.text, entry.summary)
    if wall is None:
        return article, None
    fallback = article_from_entry(entry, article.source)
    return replace(fallback, url=fallback.url or article.url, language=article.language,
                   partial=True), wall
