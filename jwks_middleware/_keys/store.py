"""`KeyStore`: the trusted issuers and their keys, from a fixed list or a resolver."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from cachetools import LRUCache

from .._config import DEFAULT_RESOLVED_ISSUERS
from .._events import Events
from .._issuer import Issuer
from .fetch import Fetcher, HTTPClient
from .issuer_keys import IssuerKeys, IssuerState, KeysRemoved

__all__ = ["IssuerResolver", "KeyStore"]

#: Decides whether an (unverified) `iss` value is trusted: its `Issuer`, or None.
IssuerResolver = Callable[[str], "Issuer | None"]


class _ResolvedIssuers(LRUCache[str, IssuerKeys]):
    """Issuers found by a resolver; the least recently used are forgotten and stopped."""

    def popitem(self) -> tuple[str, IssuerKeys]:
        iss, keys = super().popitem()
        keys.stop_soon()
        return iss, keys


class KeyStore:
    """Keys of every trusted issuer, looked up by the token's `iss`.

    Issuers listed are trusted and preloaded by `start()`, under their `iss` and its
    `aliases`. Resolvers (alone, or in the list) are offered each other `iss`, in order; the
    issuers they trust are kept in a bounded LRU, so random `iss` values cause no fetch and no
    unbounded growth. A listed `Issuer` wins over resolvers for its `iss`.
    """

    def __init__(
        self,
        issuers: Iterable[Issuer | IssuerResolver] | IssuerResolver,
        *,
        http_client: HTTPClient | None = None,
        clock: Callable[[], float],
        events: Events,
        on_keys_removed: KeysRemoved | None = None,
        max_resolved_issuers: int = DEFAULT_RESOLVED_ISSUERS,
    ) -> None:
        self._fetcher = Fetcher(http_client)
        self._clock = clock
        self._events = events
        self._on_keys_removed = on_keys_removed
        self._resolvers: list[IssuerResolver] = []
        self._fixed: dict[str, IssuerKeys] = {}  # by `iss` and by each alias
        self._listed: list[IssuerKeys] = []
        self._resolved = _ResolvedIssuers(max_resolved_issuers)
        for source in [issuers] if callable(issuers) else issuers:
            if isinstance(source, Issuer):
                self._add_fixed(source)
            elif callable(source):
                self._resolvers.append(source)
            else:
                raise TypeError(f"issuers must hold Issuer objects or resolvers, not {type(source).__name__}")
        if not self._fixed and not self._resolvers:
            raise ValueError("configure at least one issuer")

    def _add_fixed(self, issuer: Issuer) -> None:
        keys = self._keys_for(issuer)
        for iss in (issuer.issuer, *issuer.aliases):
            if iss in self._fixed:
                raise ValueError(f"issuer {iss!r} is configured twice")
            self._fixed[iss] = keys
        self._listed.append(keys)

    def _keys_for(self, issuer: Issuer) -> IssuerKeys:
        return IssuerKeys(
            issuer,
            fetcher=self._fetcher,
            events=self._events,
            clock=self._clock,
            on_keys_removed=self._on_keys_removed,
        )

    def lookup(self, iss: str) -> IssuerKeys | None:
        """The keys of a trusted issuer, or None: an untrusted `iss` is never fetched."""
        keys = self._fixed.get(iss)
        if keys is not None or not self._resolvers:
            return keys
        keys = self._resolved.get(iss)
        if keys is None:
            issuer = self._resolve(iss)
            if issuer is None:
                return None
            keys = self._resolved[iss] = self._keys_for(issuer)
        return keys

    def _resolve(self, iss: str) -> Issuer | None:
        for resolver in self._resolvers:
            issuer = resolver(iss)
            if issuer is not None:
                if iss != issuer.issuer and iss not in issuer.aliases:
                    raise ValueError("the issuer resolver returned an Issuer for another iss")
                return issuer
        return None

    @property
    def listed(self) -> list[Issuer]:
        """The issuers configured by name (not those found by resolvers)."""
        return [keys.issuer for keys in self._listed]

    @property
    def has_resolvers(self) -> bool:
        """Whether resolvers decide about other `iss` values."""
        return bool(self._resolvers)

    def issuers(self) -> list[IssuerKeys]:
        """Every issuer currently known."""
        return [*self._listed, *self._resolved.values()]

    async def start(self) -> None:
        """Preload the keys of every configured issuer concurrently; start the refreshers."""
        await asyncio.gather(*(keys.start() for keys in self._listed))

    async def aclose(self) -> None:
        """Stop every background refresher."""
        await asyncio.gather(*(keys.stop() for keys in self.issuers()))

    def ready(self) -> bool:
        """True when every configured issuer has usable keys (for readiness probes)."""
        return all(keys.ready() for keys in self.issuers())

    def states(self) -> list[IssuerState]:
        """A snapshot of every issuer's keys: counts, ages, failures, last error."""
        return [keys.state() for keys in self.issuers()]
