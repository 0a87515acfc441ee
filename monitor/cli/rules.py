"""``monitor rules export``: the rules made through the API, as ``[[watch]]`` TOML."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from monitor.cli.common import EXIT_OK, open_store


def cmd_rules(args: argparse.Namespace) -> int:
    """Print (or write to ``--output``) every enabled web rule as a ``[[watch]]`` table with
    its id, so a config that includes the file keeps the rules' ids, hits and alerts
    (a disabled rule is left out: a ``[[watch]]`` table has no ``enabled``)."""
    from monitor.config.ruledata import rule_toml, stored_rule

    store = open_store(args.config)
    try:
        rules = [replace(stored_rule(r.id, r.name, r.query, r.settings),
                         case_sensitive=r.case_sensitive)
                 for r in store.web_rules() if r.enabled]
    finally:
        store.close()
    text = (f"# {len(rules)} rules made through the API, exported by monitor rules export\n\n"
            + rule_toml(rules))
    if args.output and args.output != "-":
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK
