"""The running rule set: the config's rules and the database's (made through the API),
kept current when the database's rules version moves, whichever node made the edit.

Each node checks the version every ``CHECK_EVERY`` seconds. An edit does not compile the
whole set again (seconds of CPU with 50,000 rules): the set compiled at start-up or at the
last SIGHUP (the *base*) stays, and only the database rules that differ from what the base
holds (new, edited) are compiled into a small overlay; the base's copies of edited,
disabled and deleted rules are masked (``monitor.rules.overlay``). The result matches as a
full rebuild would, in the same order. Once the overlay holds more than ``OVERLAY_LIMIT``
rules, or once edits have been quiet for ``QUIET_AFTER`` seconds (an overlay costs each
article a second tokenising pass, ~0.2 ms), a full rebuild runs in the reload thread in the
background and is swapped in at a later check; a SIGHUP always rebuilds in full.

A database rule whose name a config rule now holds is left out (one warning line): the
config wins. Channels a rule names that the running config no longer has are dropped from
it (one warning line), so an edit never breaks routing. An edit of a rule's channels,
feeds or digest only (not its query, case, match mode or languages) compiles nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, replace

from monitor.collaborators import RuleSetLike
from monitor.config import Config, WatchSettings
from monitor.config.ruledata import stored_rule
from monitor.errors import MonitorError
from monitor.log import FailureLog
from monitor.pipeline import rule_for
from monitor.rules import Rule, RuleSet, compile_rules
from monitor.rules.overlay import OverlaidRules
from monitor.store import Store

log = logging.getLogger(__name__)

CHECK_EVERY = 3.0  # seconds between two looks at the rules version
OVERLAY_LIMIT = 500  # rules compiled since the base beyond which the base is rebuilt
QUIET_AFTER = 600.0  # seconds without an edit after which an overlay is folded into the base


@dataclass(frozen=True, slots=True)
class Live:
    """The rules a node runs, and what they were built from."""

    source: Config  # the config file's, without the database's rules
    config: Config  # with them: what the pipeline routes by
    rules: RuleSetLike  # what it matches with: ``base``, or ``base`` with an overlay
    version: int  # the rules version they are as of
    base: RuleSet  # the big set compiled in full (start-up, SIGHUP, a rebuild)
    base_web: Mapping[int, Rule]  # the database's rules in ``base``, by id
    overlay: int = 0  # rules compiled since ``base``


def web_watches(store: Store, config: Config) -> list[WatchSettings]:
    """The enabled database rules, as ``[[watch]]`` rules the running config can route."""
    taken = {w.name for w in config.watches}
    out = []
    for row in store.web_rules():
        if not row.enabled:
            continue
        if row.name in taken:
            log.warning("event=web_rule_shadowed rule_id=%d name=%r by=config", row.id, row.name)
            continue
        watch = replace(stored_rule(row.id, row.name, row.query, row.settings),
                        case_sensitive=row.case_sensitive)
        channels = tuple(c for c in watch.channels if c in config.channels)
        if channels != watch.channels:
            log.warning("event=web_rule_channels_missing rule_id=%d missing=%s", row.id,
                        ",".join(sorted(set(watch.channels) - set(channels))))
            watch = replace(watch, channels=channels)
        out.append(watch)
    return out


def _current(config: Config, store: Store) -> tuple[int, Config, dict[int, Rule]]:
    """The rules version, ``config`` with the database's rules added, and those rules by
    id (the version read first: an edit meanwhile is seen at the next check)."""
    version = store.rules_version()
    web = web_watches(store, config)
    merged = replace(config, watches=config.watches + tuple(web))
    store.remember_rule_ids({w.name: w.id for w in web if w.id is not None})
    return version, merged, {w.id: rule_for(w) for w in web if w.id is not None}


def live_rules(config: Config, store: Store) -> Live:
    """``config`` with the database's rules added, all compiled into one set (blocking)."""
    version, merged, web = _current(config, store)
    rules = compile_rules(map(rule_for, merged.watches))
    return Live(config, merged, rules, version, rules, web)


def edited(live: Live, store: Store) -> Live:
    """``live`` brought up to the database's rules: the base kept, the database rules it
    does not hold as they are now compiled alone (blocking, but quick)."""
    version, merged, web = _current(live.source, store)
    kept = {rid for rid, rule in web.items() if live.base_web.get(rid) == rule}
    changed = [rule for rid, rule in web.items() if rid not in kept]
    masked = [rule.name for rid, rule in live.base_web.items() if rid not in kept]
    rules: RuleSetLike = live.base
    if changed or masked:
        order = {w.name: i for i, w in enumerate(merged.watches)}
        rules = OverlaidRules(live.base, compile_rules(changed), masked, order)
    return replace(live, config=merged, rules=rules, version=version, overlay=len(changed))


class Refresher:
    """Keeps one node's rules current (``refreshed`` at each check); starts and takes up
    the background rebuilds of the base, in ``executor`` (the reload thread)."""

    def __init__(self, store: Store, executor: Executor, limit: int = OVERLAY_LIMIT,
                 quiet: float = QUIET_AFTER,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.executor = executor
        self.limit = limit
        self.quiet = quiet
        self.clock = clock
        self.edited_at = clock()
        self.rebuilding: asyncio.Future[Live] | None = None
        self.failures = FailureLog(log, "rules_refresh")  # one line per outage, not per check

    async def refreshed(self, live: Live) -> Live | None:
        """The rules to run instead of ``live``: brought up to an edit, or a finished
        rebuild (None: unchanged, or the database failed: logged, the running rules
        stay). The edit is compiled in a thread of its own, not behind a rebuild."""
        try:
            rebuilt = self._rebuilt(live)
            start = rebuilt or live
            if await asyncio.to_thread(self.store.rules_version) == start.version:
                found = rebuilt
            else:
                found = await asyncio.to_thread(edited, start, self.store)
        except MonitorError as e:
            self.failures.failed(e)
            return None
        self.failures.succeeded()
        running = found or live
        if found is not None and rebuilt is None:
            self.edited_at = self.clock()
        if self.rebuilding is None and (running.overlay > self.limit or (
                running.rules is not running.base
                and self.clock() - self.edited_at >= self.quiet)):
            log.info("event=rules_rebuild_started overlay=%d", running.overlay)
            self.rebuilding = asyncio.get_running_loop().run_in_executor(
                self.executor, live_rules, running.source, self.store)
        if found is not None:
            log.info("event=rules_refreshed version=%d rules=%d overlay=%d rebuilt=%s",
                     found.version, len(found.config.watches), found.overlay,
                     rebuilt is not None)
        return found

    def _rebuilt(self, live: Live) -> Live | None:
        """The background rebuild, when it has finished for ``live``'s config (one for a
        config a SIGHUP has since replaced is dropped); its error propagates."""
        job = self.rebuilding
        if job is None or not job.done():
            return None
        self.rebuilding = None
        built = job.result()
        return built if built.source is live.source else None
