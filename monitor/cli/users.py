"""``monitor passwd``: print the scrypt hash of a password read on stdin, for ``[[users]]``."""

from __future__ import annotations

import argparse
import getpass
import sys

from monitor.cli.common import EXIT_BAD
from monitor.config.passwords import hash_password


def cmd_passwd(args: argparse.Namespace) -> int:
    """Read one password (a prompt on a terminal, else the first line of stdin), print its
    hash: save it as a user's ``password_file``."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("monitor: empty password", file=sys.stderr)
        return EXIT_BAD
    print(hash_password(password))
    return 0
