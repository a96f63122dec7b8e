"""The introspectors of a verifier's issuers (RFC 7662), and which issuer opaque tokens go to.

Routing is explicit (never decided by the token): a compact JWS goes to the keys of its `iss`;
anything else goes to the one listed issuer whose `Introspection` takes opaque tokens. Two
such issuers are a configuration error, raised at construction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cachetools import LRUCache

from ._events import Events
from ._introspection import Introspector
from ._issuer import Issuer
from ._keys.fetch import HTTPClient

__all__ = ["Introspectors"]


class Introspectors:
    """One `Introspector` per issuer that introspects, made on first use; `opaque_issuer` is
    where tokens that are not JWTs go (None: they are refused as malformed)."""

    def __init__(
        self,
        listed: Iterable[Issuer],
        *,
        http_client: HTTPClient | None,
        clock: Callable[[], float],
        events: Events,
        size: int,
    ) -> None:
        takers = [
            issuer
            for issuer in listed
            if issuer.introspection is not None and issuer.introspection.opaque_tokens
        ]
        if len(takers) > 1:
            names = ", ".join(repr(issuer.issuer) for issuer in takers)
            raise ValueError(
                f"opaque tokens can go to one issuer only, not to each of {names}: give the others "
                "Introspection(..., opaque_tokens=False)"
            )
        self.opaque_issuer: Issuer | None = takers[0] if takers else None
        self._http_client = http_client
        self._clock = clock
        self._events = events
        # Bounded like the resolver's issuers, which may introspect too (`all_tokens`).
        self._made: LRUCache[int, tuple[Issuer, Introspector]] = LRUCache(size)

    def of(self, issuer: Issuer) -> Introspector:
        """The introspector of `issuer`, which has an `Introspection`."""
        made = self._made.get(id(issuer))
        if made is None or made[0] is not issuer:
            config = issuer.introspection
            if config is None:  # pragma: no cover - callers ask only for issuers that introspect
                raise ValueError(f"{issuer.issuer} has no introspection configured")
            introspector = Introspector(
                issuer.issuer,
                config,
                http_client=self._http_client,
                clock=self._clock,
                events=self._events,
                discovery_url=issuer.discovery_url,
                allow_http=issuer.allow_http,
                timeout=issuer.timeout,
                fetch_deadline=issuer.fetch_deadline,
                max_bytes=issuer.max_document_bytes,
            )
            made = self._made[id(issuer)] = (issuer, introspector)
        return made[1]
