"""Imported first by the extraction workers' forkserver, never by the daemon itself.

trafilatura imports py3langid when it is installed (the daemon uses it to detect an
article's language, in its own process), and py3langid imports numpy, whose thread pools
map about 80 MB of address space. The workers never detect languages (trafilatura only does
when asked for a target language, and we never ask), and that address space counts against
their ``extract_memory_mb`` bound (``RLIMIT_DATA``). Marking py3langid as absent before
trafilatura is imported keeps a worker at about 25 MB instead of about 105 MB.
"""

from __future__ import annotations

import sys

sys.modules.setdefault("py3langid", None)  # type: ignore[arg-type]  # None: "not installed"
