"""monitor: a media-monitoring daemon (feeds in, matched articles out as alerts)."""

__version__ = "0.1.0"
