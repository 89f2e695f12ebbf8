"""API keys, held as digests, compared in constant time, re-read from their file when it changes;
and a request rate per key (a token bucket), answered with 429 and Retry-After when spent."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
import time
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("align.service")

CHECK_FILE_EVERY_S = 1.0


def digest(key: str) -> bytes:
    """SHA-256 of a key: what is kept in memory instead of the key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def owner_id(key_digest: bytes) -> str:
    """The owner of what a key creates: 32 hex digits of its digest (stable across rotations
    of other keys)."""
    return key_digest.hex()[:32]


def read_key_file(path: Path) -> list[str]:
    """Keys of a key file: one a line; blank lines and ``#`` comments skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [s for line in lines if (s := line.split("#", 1)[0].strip())]


class KeyRing:
    """The accepted keys: from ``ALIGN_API_KEYS`` (fixed) and ``ALIGN_API_KEYS_FILE`` (re-read
    when its modification time or size changes, at most once a second).

    Only digests are kept. A given key is hashed and compared with every digest by
    :func:`hmac.compare_digest`, without stopping at a match, so the time taken does not say
    which key, or how much of one, was right.
    """

    def __init__(self, keys: Iterable[str] = (), path: Path | None = None):
        self._fixed = [digest(k) for k in keys]
        self._path = path
        self._from_file: list[bytes] = []
        self._stamp: tuple[int, int] | None = None
        self._checked = -math.inf
        self._lock = threading.Lock()
        if path is not None:
            self._reload(force=True)

    @property
    def enabled(self) -> bool:
        """True when keys are required (some configured, even if the file is empty now)."""
        return bool(self._fixed) or self._path is not None

    def __len__(self) -> int:
        self._reload()
        return len(self._fixed) + len(self._from_file)

    def owner(self, key: str | None) -> str | None:
        """The owner id of a valid key, None for a missing or wrong one."""
        if not key:
            return None
        self._reload()
        given = digest(key)
        found = False
        for known in (*self._fixed, *self._from_file):
            found |= hmac.compare_digest(given, known)
        return owner_id(given) if found else None

    def _reload(self, *, force: bool = False) -> None:
        if self._path is None:
            return
        t = time.monotonic()
        if not force and t - self._checked < CHECK_FILE_EVERY_S:
            return
        with self._lock:
            self._checked = t
            try:
                st = self._path.stat()
                stamp = (st.st_mtime_ns, st.st_size)
                if stamp == self._stamp and not force:
                    return
                keys = read_key_file(self._path)
            except (OSError, UnicodeDecodeError) as e:
                # keep the keys read last: a file being replaced must not lock everyone out
                log.error("API key file %s cannot be read (%s); keeping %d keys", self._path, e,
                          len(self._from_file))  # fmt: skip
                return
            self._from_file = [digest(k) for k in keys]
            if self._stamp is not None:
                log.warning("API key file %s re-read: %d keys", self._path, len(keys))
            self._stamp = stamp


class RateLimiter:
    """A token bucket per identity (an owner, or a client address without a valid key):
    ``rate`` requests a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, *, clock: object = time.monotonic):
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # identity -> (tokens, time)
        self._lock = threading.Lock()

    def take(self, identity: str) -> float:
        """Spend one request of ``identity``: 0.0 when allowed, else the seconds to wait."""
        now: float = self._clock()  # type: ignore[operator]
        with self._lock:
            tokens, then = self._buckets.get(identity, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[identity] = (tokens - 1.0, now)
                if len(self._buckets) > 100_000:  # forget full buckets (idle identities)
                    self._forget(now)
                return 0.0
            self._buckets[identity] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _forget(self, now: float) -> None:
        full = [
            k for k, (tok, t) in self._buckets.items() if tok + (now - t) * self.rate >= self.burst
        ]
        for k in full:
            del self._buckets[k]
