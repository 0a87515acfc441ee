"""The running rule set: the config's rules and the database's (made through the API),
rebuilt when the database's rules version moves, whichever node made the edit.

Each node checks the version every ``CHECK_EVERY`` seconds; a change rebuilds the whole
rule set in the matching thread (off the event loop) and the daemon swaps its pipeline, so
an edit on one node alerts on every node within seconds. A database rule whose name a
config rule now holds is left out (one warning line): the config wins. Channels a rule
names that the running config no longer has are dropped from it (one warning line), so an
edit never breaks routing.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from dataclasses import replace

from monitor.config import Config, WatchSettings
from monitor.config.ruledata import stored_rule
from monitor.errors import MonitorError
from monitor.pipeline import rule_for
from monitor.rules import RuleSet, compile_rules
from monitor.store import Store

log = logging.getLogger(__name__)

CHECK_EVERY = 3.0  # seconds between two looks at the rules version


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


def live_rules(config: Config, store: Store) -> tuple[Config, RuleSet, int]:
    """``config`` with the database's rules added, their compiled set, and the rules
    version they are as of (read first: an edit meanwhile is seen at the next check)."""
    version = store.rules_version()
    web = web_watches(store, config)
    merged = replace(config, watches=config.watches + tuple(web))
    rules = compile_rules(map(rule_for, merged.watches))
    store.remember_rule_ids({w.name: w.id for w in web if w.id is not None})
    return merged, rules, version


async def refreshed(store: Store, config: Config, seen: int, matching: Executor
                    ) -> tuple[Config, RuleSet, int] | None:
    """The rebuilt rules when the version is no longer ``seen`` (None: unchanged, or the
    database failed: logged, the running rules stay)."""
    try:
        if await asyncio.to_thread(store.rules_version) == seen:
            return None
        found = await asyncio.get_running_loop().run_in_executor(
            matching, live_rules, config, store)
    except MonitorError as e:
        log.error("event=rules_refresh_failed error=%r", str(e))
        return None
    log.info("event=rules_refreshed version=%d rules=%d", found[2], len(found[0].watches))
    return found
