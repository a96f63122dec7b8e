"""Introspection answers, remembered by the SHA-256 of their token.

Why a hash and not the token: the token is a live bearer credential, and the cache lives as
long as the process; a digest in memory (a heap dump, a debugger, a `repr`) lets nobody call
the API, and it is 32 bytes whatever the token's size. The full digest is the key, so two
tokens never share an entry.

Why not cachetools' `TLRUCache`: the same reason as the verified-token cache (`_verify.py`):
a lookup there costs more than the rest of the cached path. Two generations of plain
dictionaries give a bounded, roughly LRU cache whose lookup is one or two `dict.get` calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["AnswerCache", "CachedAnswer", "token_key"]


def token_key(token: str) -> bytes:
    """The cache key of a token: its SHA-256 digest."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class CachedAnswer:
    """An answer (None: `active: false`), fresh until `fresh_until`, usable while the
    endpoint is down until `usable_until` (seconds since the epoch)."""

    claims: Mapping[str, Any] | None
    fresh_until: float
    usable_until: float


class AnswerCache:
    """At most `size` answers (two generations of at most `size // 2`), each dropped once
    `usable_until` has passed."""

    __slots__ = ("_clock", "_generation_size", "_old", "_young")

    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._generation_size = max(1, size // 2)
        self._young: dict[bytes, CachedAnswer] = {}
        self._old: dict[bytes, CachedAnswer] = {}

    def get(self, key: bytes) -> CachedAnswer | None:
        """The entry for `key` if it is still usable now."""
        entry = self._young.get(key)
        if entry is None:
            entry = self._old.get(key)
            if entry is None:
                return None
            self._insert(key, entry)  # in use: keep it through the next generation change
        if self._clock() < entry.usable_until:
            return entry
        self.forget(key)
        return None

    def put(self, key: bytes, entry: CachedAnswer) -> None:
        """Remember an answer (replacing any earlier one for the same token)."""
        self._old.pop(key, None)
        self._insert(key, entry)

    def forget(self, key: bytes) -> None:
        """Drop the answer for `key`, if any."""
        self._young.pop(key, None)
        self._old.pop(key, None)

    def clear(self) -> None:
        """Drop every answer."""
        self._young = {}
        self._old = {}

    def __len__(self) -> int:
        return len(self._young) + len(self._old.keys() - self._young.keys())

    def _insert(self, key: bytes, entry: CachedAnswer) -> None:
        young = self._young
        if len(young) >= self._generation_size and key not in young:
            self._old = young
            young = self._young = {}
        young[key] = entry
