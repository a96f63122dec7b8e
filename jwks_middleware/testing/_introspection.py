"""A `LocalIssuer`'s opaque tokens, its introspection endpoint (RFC 7662) and its revocation
endpoint (RFC 7009).

The issuer remembers the claims of each opaque token it makes and which tokens were revoked;
the endpoints authenticate the resource server with the one client the issuer made up
(`client_secret_basic` or `client_secret_post`) and answer from that memory. Tokens are kept
by their SHA-256 digest, so nothing here holds a live token for long.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, unquote_plus

from ._endpoints import Answer, json_answer

__all__ = ["IntrospectionService"]

_FORM: Final = "application/x-www-form-urlencoded"
#: RFC 6749 section 5.2: the answer to a client whose authentication failed.
_INVALID_CLIENT: Final = {"error": "invalid_client", "error_description": "Client authentication failed"}


class IntrospectionService:
    """Opaque tokens, revocation, and the answers of the introspection and revocation endpoints.

    `jwt_claims` gives the claims of one of the issuer's own JWTs whose signature holds (None
    otherwise), so that its JWTs can be introspected and revoked too. `clock` decides `exp`.
    """

    def __init__(
        self, *, clock: Callable[[], float], jwt_claims: Callable[[str], Mapping[str, Any] | None]
    ) -> None:
        #: The client the resource server authenticates as.
        self.client_id = "local-resource-server"
        self.client_secret = secrets.token_urlsafe(24)
        self._clock = clock
        self._jwt_claims = jwt_claims
        self._lock = threading.Lock()
        self._opaque: dict[bytes, Mapping[str, Any]] = {}
        self._revoked: set[bytes] = set()

    def issue(self, claims: Mapping[str, Any]) -> str:
        """A new random reference token standing for `claims`."""
        token = secrets.token_urlsafe(32)  # base64url: never a dot, never mistaken for a JWS
        with self._lock:
            self._opaque[_digest(token)] = dict(claims)
        return token

    def revoke(self, token: str) -> None:
        """From now on, introspection says this token (opaque or JWT) is not active."""
        with self._lock:
            self._revoked.add(_digest(token))

    def claims_of(self, token: str) -> dict[str, Any] | None:
        """The claims of an active token, or None: unknown, revoked, expired or not yet valid
        (RFC 7662 section 2.2)."""
        digest = _digest(token)
        with self._lock:
            revoked = digest in self._revoked
            claims = self._opaque.get(digest)
        if revoked:
            return None
        if claims is None:
            claims = self._jwt_claims(token) if token.count(".") == 2 else None
            if claims is None:
                return None
        now = self._clock()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if isinstance(exp, (int, float)) and now >= exp:
            return None
        if isinstance(nbf, (int, float)) and now < nbf:
            return None
        return dict(claims)

    # -- endpoints -----------------------------------------------------------------------------

    def introspection_answer(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        """Answer a POST to the introspection endpoint (RFC 7662 section 2)."""
        form, refusal = self._authenticated_form(body, headers)
        if refusal is not None:
            return refusal
        claims = self.claims_of(form["token"])
        return json_answer(200, {"active": False} if claims is None else {**claims, "active": True})

    def revocation_answer(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        """Answer a POST to the revocation endpoint (RFC 7009 section 2)."""
        form, refusal = self._authenticated_form(body, headers)
        if refusal is not None:
            return refusal
        self.revoke(form["token"])
        return Answer(200, (("Cache-Control", "no-store"),), b"")  # section 2.2: 200, whatever the token

    def _authenticated_form(
        self, body: bytes, headers: Mapping[str, str]
    ) -> tuple[dict[str, str], Answer | None]:
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            pairs = []
        form = dict(pairs)
        # RFC 6749 section 3.2: a parameter sent twice makes the request malformed.
        if media_type != _FORM or len(form) != len(pairs) or not form.get("token"):
            return form, json_answer(400, {"error": "invalid_request"})
        client = _basic_credentials(headers.get("authorization"))
        posted = (form.get("client_id"), form.get("client_secret"))
        if client is not None and posted[1] is not None:
            return form, json_answer(400, {"error": "invalid_request"})  # RFC 6749 section 2.3: one method
        client_id, client_secret = client if client is not None else posted
        if not self._is_client(client_id, client_secret):
            # RFC 7662 section 2.3 and RFC 6749 section 5.2: 401, with a challenge.
            return form, json_answer(401, _INVALID_CLIENT, ("WWW-Authenticate", 'Basic realm="local-issuer"'))
        return form, None

    def _is_client(self, client_id: str | None, client_secret: str | None) -> bool:
        if client_id is None or client_secret is None:
            return False
        same_id = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode()) and same_id


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """The client id and secret of an HTTP Basic header (RFC 6749 section 2.3.1: each one
    form-urlencoded before they were joined), or None."""
    if authorization is None:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        pair = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")  # sent, but unreadable: a failed authentication
    client_id, _, client_secret = pair.partition(":")
    return unquote_plus(client_id), unquote_plus(client_secret)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
