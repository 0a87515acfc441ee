"""`monitor demo` runs the whole pipeline on local servers and shows what arrived."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_alerts_on_the_seed_and_not_on_the_near_miss() -> None:
    result = subprocess.run([sys.executable, "-m", "monitor", "demo"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    seed = "Anthropic says it cannot in good conscience accede to Pentagon's demands"
    assert "== email: 2 message(s)" in out and "== webhook: 2 POST(s)" in out
    assert f"rule: Defense Production Act   article: {seed}" in out
    assert f"rule: Supply chain risk   article: {seed}" in out
    assert "**Defense Production Act**" in out and "**supply chain risk**" in out
    quiet = out.split("== no alert for", 1)[1]
    assert "Port congestion eases" in quiet  # the near miss: "supply chain", no "risk"
    assert "Port congestion" not in out.split("== no alert for", 1)[0]
