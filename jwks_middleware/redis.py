"""A DPoP replay store shared by a fleet, on Redis (``pip install 'jwks-middleware[redis]'``).

Several workers or pods behind one hostname each see only some requests: a proof replayed
to another worker is caught only by a store they share. One atomic ``SET key 1 NX PX ttl``
per proof records its `jti` and says whether it was new, so two workers racing on the same
proof never both accept it::

    import redis.asyncio as redis
    from jwks_middleware.redis import RedisReplayStore

    store = RedisReplayStore(redis.Redis.from_url("redis://replay-cache:6379/0"))
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from ._errors import ReplayStoreUnavailableError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["DEFAULT_PREFIX", "RedisReplayStore"]

#: Prefix of every key the store writes, so it can share a Redis database with other data.
DEFAULT_PREFIX: Final = "jwks-middleware:dpop:"


class RedisReplayStore:
    """A `ReplayStore` on Redis (redis-py's asyncio client; Redis 2.6.12 or later).

    The key lives for ``expires_at - clock()`` milliseconds (``PX``, relative) rather than
    until ``expires_at`` on Redis's own clock (``PXAT``): the window of a proof is counted on
    the clocks of the servers that check it, which need not agree with Redis's clock.

    A failure to reach Redis raises `ReplayStoreUnavailableError` (503): a proof that cannot
    be checked for replay is refused, never accepted. The client's own timeouts bound the
    wait; give it a short ``socket_timeout``.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._errors = _redis_errors()
        self._client = client
        self._prefix = prefix
        self._clock = clock

    def __repr__(self) -> str:
        return f"RedisReplayStore(prefix={self._prefix!r})"

    async def add(self, key: str, expires_at: float) -> bool:
        """Remember `key` until `expires_at`; True if it was not there yet."""
        milliseconds = max(1, math.ceil((expires_at - self._clock()) * 1000))
        try:
            created = await self._client.set(self._prefix + key, b"1", nx=True, px=milliseconds)
        except self._errors as error:
            raise ReplayStoreUnavailableError(f"Redis replay store failed: {type(error).__name__}") from None
        return bool(created)


def _redis_errors() -> tuple[type[Exception], ...]:
    try:
        from redis.exceptions import RedisError
    except ImportError:
        raise ImportError("RedisReplayStore needs redis-py: pip install 'jwks-middleware[redis]'") from None
    # A timeout or a refused connection can surface as OSError from the socket layer.
    return (RedisError, OSError)
