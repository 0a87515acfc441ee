"""The users' password hash files, read once and again only when they change.

``monitor.web.auth`` needs a user's stored hash on every request with a session cookie
(the cookie's signature covers a digest of it). Rather than open the file each time, the
text read is kept with the file's ``(st_mtime_ns, st_size, st_ino)``: each request costs
one ``stat``, and a file edited in place or replaced (``monitor passwd > ed.hash``, an
editor's rename) is read again on the next request, no restart needed. A file changed
less than ``RACY_SECONDS`` before it was read is not kept: a rewrite within the file
system's timestamp granularity, same size, same inode, would look unchanged (as git's
"racy" index entries). A hash from an environment variable is read as before, each time.
A missing or unreadable file raises the same ``ConfigError`` as ``Secret.read``, every
time it is asked for (nothing stale is served).
"""

from __future__ import annotations

import os
import threading
import time

from monitor.config import Secret

RACY_SECONDS = 2.0
"""A file modified this recently is read again next time rather than trusted by its stat."""

Stamp = tuple[int, int, int]  # st_mtime_ns, st_size, st_ino


class HashFiles:
    """The text of each hash file, by path, with the stat it was read under."""

    def __init__(self) -> None:
        self._texts: dict[str, tuple[Stamp, str | None]] = {}
        self._lock = threading.Lock()  # requests check sessions in worker threads too

    def read(self, secret: Secret) -> str | None:
        """``secret.read()``, from the kept text while the file's stat is unchanged."""
        if secret.file is None:
            return secret.read()
        path = str(secret.file)
        try:
            st = os.stat(path)
        except OSError:
            with self._lock:
                self._texts.pop(path, None)
            return secret.read()  # raises the ConfigError naming the key and the file
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            kept = self._texts.get(path)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        text = secret.read()
        settled = time.time_ns() - st.st_mtime_ns > RACY_SECONDS * 1e9
        with self._lock:
            if settled:
                self._texts[path] = (stamp, text)
            else:
                self._texts.pop(path, None)
        return text
