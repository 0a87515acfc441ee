"""Secrets: the one place that reads a ``*_file`` or ``*_env`` key's secret.

A config never holds a secret inline. It names where one is: a file (``password_file``,
relative to the config's folder) or an environment variable (``password_env``). A
``Secret`` is that reference; ``read`` fetches the value when it is needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Secret:
    """Where the secret ``name`` is: ``file`` (an absolute path) or ``env``; never its value."""

    name: str  # the key without its suffix: "password" for password_file / password_env
    file: str | None = None
    env: str | None = None

    def __bool__(self) -> bool:
        """Whether the config names a place for this secret."""
        return self.file is not None or self.env is not None

    def read(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The secret now (a file's text without surrounding whitespace); None when unset.

        ConfigError, naming the key, when the file cannot be read or the variable is unset.
        """
        environ = os.environ if environ is None else environ
        if self.file is not None:
            try:
                return Path(self.file).read_text(encoding="utf-8-sig").strip()  # BOM: Notepad
            except (OSError, UnicodeDecodeError) as e:
                reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
                raise ConfigError(f"{self.name}_file: cannot read {self.file}: {reason}") from None
        if self.env is not None:
            if self.env not in environ:
                raise ConfigError(f"{self.name}_env: environment variable {self.env} is not set")
            return environ[self.env]
        return None
