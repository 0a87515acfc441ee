"""One backtest (monitor/backtest.py): `monitor backtest` and the search box run the same
code over a real run's stored articles, the query compiled once."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.backtest import Backtest
from monitor.cli import main
from monitor.daemon import Daemon
from monitor.errors import QueryError
from monitor.rules import matcher
from monitor.web import create_app


def cli_backtest(path: Path, query: str, capsys: pytest.CaptureFixture[str]
                 ) -> tuple[int, list[dict[str, Any]], str]:
    capsys.readouterr()
    code = main(["backtest", "-c", str(path), "-q", query])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


async def api_search(daemon: Daemon, query: str) -> dict[str, Any]:
    app = create_app(daemon.services.store, lambda: daemon.config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as http:
        answer = await http.get("/api/search", params={"q": query})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


@pytest.mark.parametrize("query", ['"supply chain"', "/./"], ids=["phrase", "every"])
async def test_the_cli_and_the_search_box_find_the_same_hits(
        ran_once: tuple[Daemon, Path], query: str, capsys: pytest.CaptureFixture[str]) -> None:
    daemon, path = ran_once
    code, lines, err = cli_backtest(path, query, capsys)
    api = await api_search(daemon, query)
    assert code == 0 and lines and lines == api["hits"]  # same hits, same order, same shape
    found = re.match(r"(\d+) of (\d+) stored article\(s\) would have alerted", err)
    assert found and int(found.group(1)) == api["matched"] == len(lines)
    assert int(found.group(2)) == api["scanned"] == len(list(daemon.services.store
                                                             .iter_articles()))
    for hit in lines:
        assert set(hit) == {"article", "stored_at", "terms"}
        assert hit["article"]["url"].startswith("http://127.0.0.1")
        assert hit["stored_at"].endswith("Z") and hit["terms"][0]["spans"]


async def test_the_query_is_compiled_once_per_backtest(
        ran_once: tuple[Daemon, Path], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`monitor backtest` used to compile the query again for every stored article."""
    daemon, path = ran_once
    compiled: list[str] = []
    real = matcher._compile_one

    def counting(rule: matcher.Rule, *args: Any) -> Any:
        compiled.append(rule.query)
        return real(rule, *args)

    monkeypatch.setattr(matcher, "_compile_one", counting)
    code, lines, _ = cli_backtest(path, "/./", capsys)
    assert code == 0 and len(lines) >= 3 and compiled == ["/./"]
    compiled.clear()
    assert len((await api_search(daemon, "/./"))["hits"]) == len(lines)
    assert compiled == ["/./"]


async def test_a_backtest_is_lazy_and_counts_what_it_read(
        ran_once: tuple[Daemon, Path]) -> None:
    daemon, _ = ran_once
    store = daemon.services.store
    backtest = Backtest("/./")
    hits = backtest.run(store, scan=2)
    assert backtest.scanned == 0  # nothing read until asked
    first = next(hits)
    assert backtest.scanned == 1 and first[0].id == next(store.iter_articles()).id
    assert len([first, *hits]) == 2 and backtest.scanned == 2


def test_a_bad_query_fails_before_any_read() -> None:
    with pytest.raises(QueryError) as caught:
        Backtest('"supply chain')
    assert caught.value.column == 1 and "rule" not in str(caught.value)
