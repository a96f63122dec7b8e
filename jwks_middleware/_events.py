"""Events and counters: what the key store and the verifier did, for logs and metrics.

Every event goes to the `jwks_middleware` logger and to an optional hook; counters are
kept per issuer and event so that numbers are readable without a metrics framework.
Tokens never appear in an event.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["AuthEvent", "EventHook", "Events"]

logger: Final = logging.getLogger("jwks_middleware")

#: Event kinds and the log level of each.
LEVELS: Final = {
    "keys_fetched": logging.INFO,
    "keys_not_modified": logging.DEBUG,
    "key_skipped": logging.WARNING,
    "fetch_failed": logging.WARNING,
    "stale_keys_in_use": logging.WARNING,
    "keys_expired": logging.ERROR,
    "unknown_kid": logging.INFO,
    "refresh_cooldown": logging.INFO,
    "plain_http_allowed": logging.WARNING,
    "token_refused": logging.DEBUG,
    "token_verified": logging.DEBUG,
    "unexpected_error": logging.ERROR,
    "introspection_failed": logging.WARNING,
    "introspection_unauthorized": logging.ERROR,
}


@dataclass(frozen=True)
class AuthEvent:
    """Something worth knowing: `kind` is a key of `LEVELS`, `reason` refines refusals;
    `duration` is how long a verification or a key fetch took, in seconds (None for the rest)."""

    kind: str
    issuer: str | None
    detail: str = ""
    reason: str | None = None
    duration: float | None = None


EventHook = Callable[[AuthEvent], None]


class Events:
    """Counts events per (issuer, name) and passes them to `logging` and a hook."""

    def __init__(self, hook: EventHook | None = None) -> None:
        self._hook = hook
        #: Counts by (issuer, event name): refusals as "token_refused:<reason>" (issuer None
        #: when the token names no trusted issuer), first-time verifications as "verified"
        #: (a repeated token answered from the cache costs a lookup and is not counted).
        self.counters: Counter[tuple[str | None, str]] = Counter()

    def emit(
        self,
        kind: str,
        issuer: str | None,
        detail: str = "",
        *,
        reason: str | None = None,
        duration: float | None = None,
    ) -> None:
        """Count an event, log it and pass it to the hook (whose errors are logged, not raised)."""
        self.counters[issuer, kind if reason is None else f"{kind}:{reason}"] += 1
        level = LEVELS[kind]
        if logger.isEnabledFor(level):
            logger.log(level, "%s issuer=%s %s", kind, issuer, detail)
        if self._hook is not None:
            try:
                self._hook(AuthEvent(kind, issuer, detail, reason, duration))
            except Exception:  # a broken hook must never break authentication
                logger.exception("the event hook raised")

    def verified(self, issuer: str, duration: float) -> None:
        """A token verified for the first time: counted, and passed to the hook (not logged:
        this is the path of every new token)."""
        self.counters[issuer, "verified"] += 1
        if self._hook is not None:
            try:
                self._hook(AuthEvent("token_verified", issuer, duration=duration))
            except Exception:  # a broken hook must never break authentication
                logger.exception("the event hook raised")

    def count(self, issuer: str | None, name: str) -> None:
        """Count without logging: the per-request success path."""
        self.counters[issuer, name] += 1
