"""Bounded label values shared by the exporters: no token or claim value ever becomes one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .. import _errors
from .._events import AuthEvent
from .._verify import TokenVerifier

__all__ = ["FETCH_RESULTS", "REASONS", "IssuerLabels", "fetch_result", "reason_label"]

#: Every refusal reason the library gives; anything else is reported as "other".
REASONS: Final = frozenset(
    error.reason
    for error in vars(_errors).values()
    if isinstance(error, type) and issubclass(error, _errors.AuthError)
)
#: Key fetch results, by event kind.
FETCH_RESULTS: Final = {"keys_fetched": "ok", "keys_not_modified": "not_modified", "fetch_failed": "failed"}
OTHER_ISSUER: Final = "other"
NO_ISSUER: Final = "none"


def fetch_result(event: AuthEvent) -> str | None:
    """The fetch result an event reports, or None when it reports no fetch."""
    return FETCH_RESULTS.get(event.kind)


class IssuerLabels:
    """The `issuer` label: watched issuers by name, the rest folded into two fixed values.

    An issuer resolver may trust more issuers than it was asked about; they are labelled as
    they are watched (`watch`) or, with `max_issuers` reached, as "other".
    """

    def __init__(self, issuers: Iterable[str] = (), *, max_issuers: int = 100) -> None:
        self._known: set[str] = set(issuers)
        self._max = max_issuers

    def watch(self, verifier: TokenVerifier) -> None:
        """Label the verifier's configured issuers by name."""
        for keys in verifier.key_store.issuers():
            if len(self._known) < self._max:
                self._known.add(keys.issuer.issuer)

    def __call__(self, issuer: str | None) -> str:
        if issuer is None:
            return NO_ISSUER
        return issuer if issuer in self._known else OTHER_ISSUER


def reason_label(reason: str | None) -> str:
    return reason if reason in REASONS else "other"
