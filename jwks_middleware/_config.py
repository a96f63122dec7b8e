"""Default limits and timings, documented once.

Every number here is a security or availability decision; each can be changed per
`Issuer` or per middleware, but the defaults are what a careful operator would pick.
"""

from __future__ import annotations

import httpx

#: Largest token accepted, in bytes (a real access token is 0.8-4 KiB).
DEFAULT_MAX_TOKEN_BYTES = 16 * 1024
#: Largest JWKS or discovery document read from the network, in bytes.
DEFAULT_MAX_DOCUMENT_BYTES = 128 * 1024
#: Most keys kept for one issuer; the rest of a larger set is skipped.
DEFAULT_MAX_KEYS = 100
#: Timeouts of every fetch: connect 2 s, read 5 s.
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
#: Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
DEFAULT_LEEWAY = 60
#: Largest leeway an issuer may configure, in seconds.
MAX_LEEWAY = 300
#: Key set lifetime when the response has no usable `Cache-Control`.
DEFAULT_KEYS_MAX_AGE = 15 * 60
#: `Cache-Control: max-age` is clamped into this range, in seconds.
MIN_KEYS_MAX_AGE = 5 * 60
MAX_KEYS_MAX_AGE = 24 * 60 * 60
#: Share of the key set lifetime after which a background refresh is due.
REFRESH_AT = 0.8
#: Longest time between two background refreshes, in seconds, whatever `max-age` says: keys
#: that providers publish ahead of use reach every process within it (an ETag makes it a 304).
DEFAULT_MAX_REFRESH_INTERVAL = 60 * 60.0
#: Shortest `max_refresh_interval` an issuer may configure, in seconds.
MIN_REFRESH_INTERVAL = 60.0
#: Least time from a fetch to the next background refresh, as a share of the refresh interval.
REFRESH_GAP = 0.1
#: Longest a whole refresh (discovery, JWKS, `fetch_headers`) may take, in seconds, however
#: slowly the issuer answers.
DEFAULT_FETCH_DEADLINE = 10.0
#: How long the last good keys stay in use while the issuer cannot be reached, in seconds.
DEFAULT_MAX_STALE = 6 * 60 * 60
#: Least time between two unknown-`kid` refreshes of one issuer, in seconds.
DEFAULT_REFRESH_COOLDOWN = 30.0
#: A `kid` refused by the cooldown and presented again at least this many seconds later earns
#: a fetch from a separate budget of one per cooldown: a rotation's new `kid` keeps coming back.
REPEATED_KID_DELAY = 1.0
#: How long an unknown `kid` is refused without a fetch, in seconds.
UNKNOWN_KID_TTL = 10.0
#: How long a `kid` a fetch proved unknown is denied the repeated-`kid` budget, in seconds.
UNKNOWN_KID_MEMORY = 10 * 60.0
#: Most `kid` values remembered per issuer, in each of those memories.
UNKNOWN_KID_CACHE_SIZE = 1024
#: Retry delays after a failed fetch: the first one while no keys are loaded (seconds), the
#: first one while the last good keys are in use (a share of the refresh interval), and the
#: factor between retries; they never exceed the refresh interval.
RETRY_INITIAL = 1.0
RETRY_WITH_KEYS = 0.25
RETRY_FACTOR = 2.0
#: Retry delays are stretched by a random share up to this, so processes that failed together
#: do not retry together.
RETRY_SPREAD = 0.5
#: Verified tokens remembered, so a repeated token costs a lookup and a time check.
DEFAULT_TOKEN_CACHE_SIZE = 10_000
#: Issuers remembered when a resolver decides which `iss` values are trusted.
DEFAULT_RESOLVED_ISSUERS = 256
#: Shortest RSA modulus accepted, in bits (NIST SP 800-131A).
MIN_RSA_BITS = 2048
#: Shortest HMAC secret accepted, in bytes (RFC 7518 section 3.2: at least the hash size).
MIN_HMAC_SECRET_BYTES = 32
#: Longest an introspection answer (RFC 7662) is reused, in seconds; never past the token's `exp`.
#: It is also how long a token revoked at the issuer may still be accepted.
DEFAULT_INTROSPECTION_TTL = 60.0
#: Introspection answers remembered per issuer.
DEFAULT_INTROSPECTION_CACHE_SIZE = 10_000
#: How long past its `cache_ttl` an answer for a token that has not expired is still used while
#: the introspection endpoint cannot be reached, in seconds.
DEFAULT_INTROSPECTION_MAX_STALE = 5 * 60.0
#: How long an `active: false` answer is remembered, in seconds, and how many such answers: a
#: token refused once is refused again without asking, yet a flood of random tokens cannot
#: push the answers of good tokens out.
INACTIVE_TOKEN_TTL = 10.0
INACTIVE_TOKEN_CACHE_SIZE = 1024
#: Lifetime of a `private_key_jwt` client assertion (RFC 7523 section 3), in seconds.
CLIENT_ASSERTION_LIFETIME = 60
#: How long the revocation hook's answer for a token is reused, in seconds (and the longest
#: one may configure): the longest a revoked token can still be accepted.
DEFAULT_REVOCATION_CACHE_TTL = 30.0
MAX_REVOCATION_CACHE_TTL = 3600.0
