"""Data tables for watch-rule folding (vendored, with their sources and licences)."""
