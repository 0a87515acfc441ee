"""Password hashes for ``[[users]]``: scrypt from the standard library, one line of text.

The format is ``scrypt$N$r$p$SALT$HASH`` (SALT and HASH in URL-safe base64 without
padding; HASH is 32 bytes), so the cost travels with the hash and can be raised later
without breaking old ones. ``monitor passwd`` prints one from a password read on stdin.
Verification is constant-time; a malformed hash verifies nothing. Pure, apart from the
random salt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

__all__ = ["check_hash", "hash_password", "verify_password"]

SCHEME = "scrypt"
COST = 2**15  # N: about 30 ms and 32 MB per check on a 2020 laptop
BLOCK = 8  # r
PARALLEL = 1  # p
MAX_COST = 2**20  # a hash file cannot make a sign-in take minutes
LENGTH = 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=128 * n * r * p + 2**20, dklen=LENGTH)


def hash_password(password: str, *, cost: int = COST) -> str:
    """A new ``scrypt$...`` hash of ``password`` with a random 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, cost, BLOCK, PARALLEL)
    return f"{SCHEME}${cost}${BLOCK}${PARALLEL}${_b64(salt)}${_b64(digest)}"


def check_hash(stored: str) -> str | None:
    """Why ``stored`` is no hash this module makes (one line), or None when it is one."""
    parts = stored.strip().split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return "expected scrypt$N$r$p$SALT$HASH (make one with: monitor passwd)"
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, binascii.Error):
        return "malformed scrypt hash (make one with: monitor passwd)"
    if not (2 <= n <= MAX_COST and n & (n - 1) == 0) or not (1 <= r <= 32 and 1 <= p <= 16):
        return f"scrypt cost out of range (N a power of two up to {MAX_COST}, r <= 32, p <= 16)"
    if len(salt) < 8 or len(digest) != LENGTH:
        return "malformed scrypt hash: salt or hash of the wrong length"
    return None


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` hashes (False for a malformed hash)."""
    if check_hash(stored) is not None:
        return False
    _, n, r, p, salt, digest = stored.strip().split("$")
    found = _derive(password, _unb64(salt), int(n), int(r), int(p))
    return hmac.compare_digest(found, _unb64(digest))
