"""`KeyRing`: an issuer's usable keys, indexed once so a request needs one dictionary lookup."""

from __future__ import annotations

from collections.abc import Iterable

from .._errors import DisallowedAlgorithmError, UnknownKeyError
from .._jwk import VerificationKey

__all__ = ["KeyRing"]


class KeyRing:
    """An immutable set of keys of one issuer, looked up by (kid, alg).

    Exactly one key must fit: with a `kid`, the key of that `kid` whose type fits the
    algorithm; without one, the only key of the issuer that fits it. Never "try every key".
    """

    __slots__ = ("_index", "keys", "kids")

    def __init__(self, keys: Iterable[VerificationKey], algorithms: frozenset[str]) -> None:
        self.keys = tuple(keys)
        self.kids = frozenset(key.kid for key in self.keys if key.kid is not None)
        index: dict[tuple[str | None, str], VerificationKey | None] = {}
        for key in self.keys:
            for alg in key.algorithms & algorithms:
                slots = [(None, alg)] if key.kid is None else [(key.kid, alg), (None, alg)]
                for slot in slots:
                    # A second key for the same slot makes it ambiguous: None marks that.
                    index[slot] = key if slot not in index else None
        self._index = index

    def find_loaded(self, kid: str | None, alg: str) -> VerificationKey | None:
        """The one key for this `kid` and algorithm, or None for any other case (`find` then
        says why): one dictionary lookup."""
        return self._index.get((kid if kid is None or self.kids else None, alg))

    def find(self, kid: str | None, alg: str) -> VerificationKey:
        """The one key for this `kid` and algorithm; raise if there is none or more than one."""
        # When no key carries a kid (a PEM key or a shared secret), the token's kid names
        # none of them: the one key that fits the algorithm is chosen, as without a kid
        # (Clerk and many HS256 issuers put a kid in every token).
        slot = kid if kid is None or self.kids else None
        try:
            key = self._index[slot, alg]
        except KeyError:
            if kid is not None and kid in self.kids:
                raise DisallowedAlgorithmError(f"key {kid!r} does not fit alg {alg}") from None
            if kid is None:
                raise UnknownKeyError(f"token has no 'kid' and no key fits alg {alg}") from None
            raise UnknownKeyError(f"kid {kid[:64]!r} is not in the key set") from None
        if key is None:
            which = "have this kid" if slot is not None else "fit its alg and no 'kid' tells them apart"
            raise UnknownKeyError(f"several keys {which}; refusing to guess")
        return key

    def __len__(self) -> int:
        return len(self.keys)
