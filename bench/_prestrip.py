"""The pre-parse cut that monitor measured and dropped: comments, styles and non-JSON scripts
removed with regexes before trafilatura parses a page.

monitor never rewrites a document's bytes before handing it to its parser. This cut was
measured by ``bench/extract.py --real`` on 181 real news pages (article-extraction-benchmark):
it saved 3-5% of trafilatura's time and changed one page's date, so extraction now hands
trafilatura the page as fetched. It stays here, outside the package, so the measurement
can be repeated.
"""

from __future__ import annotations

import re

# What trafilatura parses only to throw away: comments, style sheets and scripts, except
# JSON scripts (JSON-LD carries the page's title, author and date). On the 181 real pages
# they are about half of the bytes, but only 3-5% of trafilatura's time.
# Title and textarea hold text, never markup (a raw "<script>" in a title is words), so
# they are passed over whole.
_INERT_OPEN = re.compile(rb"<!--|<(script|style|title|textarea)(?=[\s/>])", re.IGNORECASE)
_INERT_CLOSE = {b"--": re.compile(rb"-->")} | {
    tag: re.compile(rb"</" + tag + rb"\s*>", re.IGNORECASE)
    for tag in (b"script", b"style", b"title", b"textarea")}
_TEXT_ONLY = (b"title", b"textarea")


def strip_inert(content: bytes) -> bytes:
    """``content`` without comments, style sheets and non-JSON scripts (JSON-LD carries
    the page's metadata).

    Linear in the page's size, whatever it holds: each opening is closed by the first
    closing after it (as an HTML parser does for these), and an unclosed one ends the
    stripping there, leaving the rest as it was. Over the golden pages in tests/data the
    extracted article is the same with and without it (tests/test_extract.py)."""
    parts, pos = [], 0
    while (opening := _INERT_OPEN.search(content, pos)) is not None:
        tag, body = (opening[1] or b"--").lower(), opening.end()
        attributes = b""
        if tag != b"--":
            if (end := content.find(b">", body)) < 0:
                break
            attributes, body = content[body:end], end + 1
        closing = _INERT_CLOSE[tag].search(content, body)
        if closing is None:
            break
        keep = tag in _TEXT_ONLY or (tag == b"script" and b"json" in attributes.lower())
        parts.append(content[pos:closing.end() if keep else opening.start()])
        pos = closing.end()
    parts.append(content[pos:])
    return b"".join(parts)
