"""`DPoPPolicy`: what DPoP proofs (RFC 9449) must satisfy, and where the server's own URI and
the replay store come from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, get_args

from ._algorithms import ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS
from ._config import MAX_LEEWAY
from ._dpop_nonce import NonceSource
from ._dpop_url import ForwardedHeaders, check_origin
from ._replay import ReplayStore

__all__ = [
    "DEFAULT_DPOP_ALGORITHMS",
    "DEFAULT_DPOP_LEEWAY",
    "DEFAULT_DPOP_MAX_AGE",
    "DEFAULT_MAX_PROOF_BYTES",
    "DPoPPolicy",
]

#: Proof algorithms accepted by default, in the order announced in `algs` (RFC 9449 section 4.2
#: forbids `none` and MACs); ES256K and Ed448, rare in clients, are accepted when configured.
DEFAULT_DPOP_ALGORITHMS: Final = (
    "ES256", "ES384", "ES512",
    "PS256", "PS384", "PS512",
    "RS256", "RS384", "RS512",
    "EdDSA", "Ed25519",
)  # fmt: skip
#: Oldest proof accepted, in seconds since its `iat`. Proofs are made just before use; five
#: minutes lets clients whose clocks run behind keep working, and replay is prevented by the
#: `jti` store over the whole window, not by the window being short.
DEFAULT_DPOP_MAX_AGE: Final = 300.0
#: How far in the future `iat` may be (clients whose clocks run ahead), in seconds; also the
#: clock difference allowed between servers sharing a replay store.
DEFAULT_DPOP_LEEWAY: Final = 30.0
#: Largest proof accepted, in bytes: an RSA-4096 proof for a long URL is about 3 KiB.
DEFAULT_MAX_PROOF_BYTES: Final = 8 * 1024
_MAX_AGE_LIMIT: Final = 3600.0


@dataclass(frozen=True, kw_only=True)
class DPoPPolicy:
    """What a DPoP proof must satisfy besides the fixed checks of RFC 9449 section 4.3.

    `algorithms`: accepted proof algorithms, asymmetric only, in the order announced in the
    challenge's `algs` (kept as a tuple). A proof is accepted when
    ``now - max_age <= iat <= now + leeway``. `nonces`: when set, every proof must carry a
    current nonce of this source (section 9).

    `replay_store`: where the `jti` of accepted proofs are kept (default: a
    `MemoryReplayStore` of the middleware, right for one process; a fleet shares a
    `RedisReplayStore`). `public_origin` (``"https://api.example.com"``) or `trust_forwarded`
    (``"forwarded"`` or ``"x-forwarded"``, headers set by a trusted proxy): where the origin of
    the URI a proof names (`htu`) comes from; neither: the ASGI scope's scheme and server.
    """

    algorithms: Sequence[str] = DEFAULT_DPOP_ALGORITHMS
    max_age: float = DEFAULT_DPOP_MAX_AGE
    leeway: float = DEFAULT_DPOP_LEEWAY
    max_proof_bytes: int = DEFAULT_MAX_PROOF_BYTES
    nonces: NonceSource | None = None
    replay_store: ReplayStore | None = field(default=None, compare=False)
    public_origin: str | None = None
    trust_forwarded: ForwardedHeaders | None = None

    def __post_init__(self) -> None:
        if isinstance(self.algorithms, str):
            raise TypeError("algorithms must be a list of names, not a string")
        algorithms = tuple(dict.fromkeys(self.algorithms))
        if not algorithms:
            raise ValueError("algorithms must not be empty")
        for name in algorithms:
            if name.lower() == "none" or name in HMAC_ALGORITHMS:
                raise ValueError(
                    f"{name} is not allowed: DPoP proofs are signed by asymmetric keys (RFC 9449 section 4.2)"
                )
            if name not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(f"unsupported JWS algorithm: {name!r}")
        object.__setattr__(self, "algorithms", algorithms)
        if not 0 < self.max_age <= _MAX_AGE_LIMIT:
            raise ValueError(f"max_age must be more than 0 and at most {_MAX_AGE_LIMIT:g} seconds")
        if not 0 <= self.leeway <= MAX_LEEWAY:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY} seconds")
        if self.max_proof_bytes < 512:
            raise ValueError("max_proof_bytes must be at least 512")
        if self.nonces is not None and not isinstance(self.nonces, NonceSource):
            raise TypeError("nonces must be a NonceSource")
        if self.replay_store is not None and not callable(getattr(self.replay_store, "add", None)):
            raise TypeError("replay_store must have an async add(key, expires_at) method")
        if self.public_origin is not None:
            if self.trust_forwarded is not None:
                raise ValueError("give public_origin or trust_forwarded, not both")
            object.__setattr__(self, "public_origin", check_origin(self.public_origin))
        if self.trust_forwarded not in (None, *get_args(ForwardedHeaders)):
            raise ValueError(
                f"trust_forwarded must be 'forwarded', 'x-forwarded' or None, not {self.trust_forwarded!r}"
            )
