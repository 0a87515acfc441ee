"""bench/compare.py ``pages``: changedetection.io's first check of watches, as the anchor of
monitor's first check of the same pages (not a benchmark itself).

Runs in changedetection.io's own virtualenv (its pins are not monitor's), stdlib and
``changedetectionio`` only, driven over stdin/stdout by bench/_pages.py: it reads one JSON
line ``{"urls": [...], "keyword": "..."}``, then answers each ``round`` line with one JSON
line. A round is a fresh datastore in a temporary directory with one watch per URL, the
``text_json_diff`` processor and ``trigger_text = [keyword]``, and the first check of every
watch as its worker (changedetectionio/worker.py) runs one: the requests fetcher (no
browser) fetches the page, ``run_changedetection`` turns the HTML into text (inscriptis),
checksums it and evaluates the trigger, the watch is updated and, a first check, its text
snapshot and fetched HTML are saved (brotli). What is timed is that loop's CPU
(``RUSAGE_SELF``, every thread: the fetcher runs in an executor); the interpreter start,
the imports and adding the watches are not (as monitor's config loading and worker start
are not). Its Flask UI, API and scheduler are not started, so nothing of them runs and
nothing phones home; every socket this process connects must be to 127.0.0.1 (a guard
below raises otherwise).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import socket
import sys
import tempfile
import time

os.environ.setdefault("ALLOW_IANA_RESTRICTED_ADDRESSES", "true")  # the pages are on loopback
os.environ.setdefault("REQUESTS_RETRY_MAX_COUNT", "0")
_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if host not in ("127.0.0.1", "::1", "localhost") and self.family != socket.AF_UNIX:
        raise OSError(f"bench/_cdio.py: refusing a connection off loopback to {address!r}")
    _connect(self, address)


socket.socket.connect = _loopback_only  # type: ignore[method-assign]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_round(urls: list[str], keyword: str) -> dict[str, object]:
    from changedetectionio import store
    from changedetectionio.processors.text_json_diff.processor import perform_site_check

    folder = tempfile.mkdtemp(prefix="bench-cdio-")
    try:
        datastore = store.ChangeDetectionStore(datastore_path=folder,
                                               include_default_watches=False)
        uuids = [datastore.add_watch(url=u, extras={"trigger_text": [keyword],
                                                   "processor": "text_json_diff",
                                                   "fetch_backend": "html_requests"})
                 for u in urls]
        started, wall = cpu(), time.perf_counter()
        found, errors = asyncio.run(check_all(datastore, perform_site_check, uuids))
        spent, seconds = cpu() - started, time.perf_counter() - wall
        datastore.stop_thread = True
        return {"cpu_s": spent, "seconds": seconds, "found": found, "errors": errors}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def check_all(datastore: object, processor: type, uuids: list[str]) -> tuple[int, list[str]]:
    """Each watch's first check, as worker.py's loop runs it; how many found the keyword."""
    found, errors = 0, []
    for uuid in uuids:
        watch = datastore.data["watching"][uuid]  # type: ignore[attr-defined]
        stamp = round(time.time())
        watch["last_checked"] = stamp
        try:
            handler = processor(datastore=datastore, watch_uuid=uuid, worker_id=0)
            await handler.call_browser()
            changed, update_obj, contents = handler.run_changedetection(watch=watch)
            datastore.update_watch(uuid=uuid, update_obj=update_obj)  # type: ignore[attr-defined]
            if changed or not watch.history_n:
                watch.save_history_blob(contents=contents, timestamp=stamp,
                                        snapshot_id=update_obj.get("previous_md5", "none"))
                watch.save_last_fetched_html(contents=handler.fetcher.content, timestamp=stamp)
        except Exception as e:  # reported in the round's result, as its UI shows last_error
            errors.append(f"{type(e).__name__}: {e}"[:200])
            continue
        found += bool(changed)  # on a first check, "changed" unless the trigger blocked it
    return found, errors


def main() -> None:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    import changedetectionio

    setup = json.loads(sys.stdin.readline())
    one_round(setup["urls"][:2], setup["keyword"])  # its lazy imports (inscriptis...) happen
    print(json.dumps({"version": changedetectionio.__version__}), flush=True)
    for line in sys.stdin:
        if line.strip() != "round":
            break
        print(json.dumps(one_round(setup["urls"], setup["keyword"])), flush=True)


if __name__ == "__main__":
    main()
