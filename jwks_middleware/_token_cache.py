"""`TokenCache`: verified tokens, so that a repeated token costs a lookup and a time check."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

from ._claims import Claims
from ._jwk import VerificationKey

__all__ = ["NO_KEYS", "TokenCache", "Verified"]


class _UsableKeys(Protocol):
    @property
    def usable_until(self) -> float: ...


class _NoKeys:
    """The "keys" of a verdict that no key made (an introspection answer): always usable."""

    usable_until = math.inf


#: See `_NoKeys`.
NO_KEYS = _NoKeys()


# Characters at the end of a token that key the cache (see `TokenCache`).
_KEY_CHARS = 32


class Verified:
    """A verified token, its claims, and what bounds the verdict."""

    __slots__ = ("claims", "key", "keys", "token", "valid_from", "valid_until")

    def __init__(
        self,
        token: str | bytes,
        claims: Claims,
        keys: _UsableKeys,
        key: VerificationKey | None,
        valid_from: float,
        valid_until: float,
    ) -> None:
        self.token = token
        self.claims = claims
        self.keys = keys
        self.key = key
        self.valid_from = valid_from
        self.valid_until = valid_until


class TokenCache:
    """Verified tokens, so that a repeated token costs a dictionary lookup and a time check.

    Guarantees: at most `size` tokens (two generations of at most `size // 2`); an entry is
    served only from the token's `nbf` until before its `exp` (leeway included) and while the
    keys of its issuer are usable, and is dropped when the key that verified it leaves the JWKS.

    Why not cachetools' `TLRUCache` (the first design): every lookup and insert there goes
    through a timer context, an expiry heap and an LRU linked list, about 3 us a request,
    more than the rest of the cached path. Here a lookup is one or two `dict.get` calls:

    - Generations: new entries go to `young`; when it is full it becomes `old` and the previous
      `old` is dropped whole (O(1), no per-entry bookkeeping). A hit in `old` copies the entry
      into `young`, so tokens in use survive; roughly LRU.
    - Key: the last 32 characters of the token (the end of its signature), a cheap string to
      hash instead of the whole ~1 KiB token; the entry keeps the whole token and a hit
      requires it to be equal, so a forged token sharing a signature's end is a miss and is
      verified in full. Only verified tokens are stored, and distinct valid signatures do not
      share 192 bits, so one token cannot push out another.
    - Lifetime: the validity is checked on every hit; an entry found past its `exp` is
      dropped, the others go with their generation at the latest.
    """

    __slots__ = ("_clock", "_generation_size", "_old", "_young")

    def __init__(self, size: int, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._generation_size = max(1, size // 2)
        self._young: dict[str | bytes, Verified] = {}
        self._old: dict[str | bytes, Verified] = {}

    def get(self, token: str | bytes) -> Claims | None:
        """The claims of `token` if it is cached and still valid now, else None. A token
        given as bytes is the digest of an opaque token (`_introspection_cache.token_key`):
        bytes never equal a string, so no token can pass for another's digest."""
        key = token[-_KEY_CHARS:]
        entry = self._young.get(key)
        if entry is None:
            entry = self._old.get(key)
            if entry is None or entry.token != token:
                return None
            self._insert(key, entry)  # in use: keep it through the next generation change
        elif entry.token != token:
            return None
        now = self._clock()
        # RFC 7519 section 4.1.4: valid strictly before `exp` (plus leeway), as on first sight.
        if entry.valid_from <= now < entry.valid_until and now <= entry.keys.usable_until:
            return entry.claims
        if now >= entry.valid_until:  # expired for good
            self._young.pop(key, None)
            self._old.pop(key, None)
        return None

    def put(self, entry: Verified) -> None:
        """Remember a verified token."""
        self._insert(entry.token[-_KEY_CHARS:], entry)

    def _insert(self, key: str | bytes, entry: Verified) -> None:
        young = self._young
        if len(young) >= self._generation_size:
            self._old = young
            young = self._young = {}
        young[key] = entry

    def forget(self, removed: frozenset[VerificationKey]) -> None:
        """Drop every token verified by one of these keys."""
        for generation in (self._young, self._old):
            for key in [key for key, entry in generation.items() if entry.key in removed]:
                del generation[key]
