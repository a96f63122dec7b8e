"""Client and process helpers for panva's real OpenID provider (`oidc-provider`, Node.js).

`run_provider()` installs the dependencies with `npm ci` from the committed lockfile when
`node_modules` is missing, starts `oidc_provider/provider.mjs` on a random free port of 127.0.0.1,
waits for its one JSON line, and stops the process (SIGTERM, then SIGKILL) on exit.

Key rotation uses the harness-only `/__control/rotate` and `/__control/retire` routes of
`provider.mjs` (see the comment there): same process, same port, same issuer.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import httpx

HARNESS_DIR = Path(__file__).parent / "oidc_provider"
PROVIDER_SCRIPT = HARNESS_DIR / "provider.mjs"

#: Resource indicators the provider knows (each gives a JWT access token with `aud` = resource).
API_RESOURCE = "https://api.example.test"  # signed RS256 by default
ES_RESOURCE = "https://es.api.example.test"  # signed ES256 by default
OTHER_RESOURCE = "https://other.example.test"  # signed RS256, for wrong-audience tests
#: Scopes every resource knows; anything else requested is dropped by the provider.
KNOWN_SCOPES = ("read:items", "write:items")

STARTUP_TIMEOUT = 20.0
NPM_CI_TIMEOUT = 300.0
STOP_TIMEOUT = 5.0

Alg = Literal["RS256", "ES256"]


class ProviderError(RuntimeError):
    """The provider could not be installed or started."""


#: client_id, client_secret per forced algorithm (None: the resource's default algorithm).
_CLIENTS: dict[Alg | None, tuple[str, str]] = {
    None: ("interop-client", "interop-secret"),
    "RS256": ("interop-client-rs256", "interop-secret-rs256"),
    "ES256": ("interop-client-es256", "interop-secret-es256"),
}


@dataclass(frozen=True)
class KeyState:
    """Keys of the running provider: which kid signs per algorithm, and which kids are published."""

    signing: dict[str, str]
    published: tuple[str, ...]
    generation: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyState:
        return cls(
            signing={str(k): str(v) for k, v in data["signing"].items()},
            published=tuple(str(kid) for kid in data["published"]),
            generation=int(data["generation"]),
        )


@dataclass
class OIDCProvider:
    """A running `oidc-provider` on 127.0.0.1 and a small client for it."""

    issuer: str
    port: int
    http: httpx.Client = field(repr=False)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def discovery(self) -> dict[str, Any]:
        response = self.http.get(self.discovery_url)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def jwks(self) -> dict[str, Any]:
        response = self.http.get(str(self.discovery()["jwks_uri"]))
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def token_response(
        self,
        scope: str = "read:items",
        resource: str | None = API_RESOURCE,
        alg: Alg | None = None,
        dpop_proof: str | None = None,
    ) -> httpx.Response:
        """The raw client-credentials token response (for tests of error answers); with a
        `dpop_proof` (for ``POST <issuer>/token``) the token is bound to the proof's key."""
        client_id, client_secret = _CLIENTS[alg]
        form = {"grant_type": "client_credentials", "scope": scope}
        if resource is not None:
            form["resource"] = resource
        headers = {"DPoP": dpop_proof} if dpop_proof is not None else {}
        return self.http.post(
            f"{self.issuer}/token", data=form, auth=(client_id, client_secret), headers=headers
        )

    def opaque_token(self, scope: str = "read:items") -> str:
        """An opaque access token (no `resource`): only introspection can read it."""
        response = self.token_response(scope=scope, resource=None)
        if response.status_code != httpx.codes.OK:
            raise AssertionError(f"token request failed: {response.status_code} {response.text}")
        token = response.json()["access_token"]
        assert isinstance(token, str)
        assert token.count(".") != 2, "expected an opaque token"
        return token

    def revoke(self, token: str) -> None:
        """Revoke a token at the provider (RFC 7009)."""
        client_id, client_secret = _CLIENTS[None]
        response = self.http.post(
            f"{self.issuer}/token/revocation", data={"token": token}, auth=(client_id, client_secret)
        )
        response.raise_for_status()

    @property
    def introspection_client(self) -> tuple[str, str]:
        """The client id and secret an API introspects with (any confidential client may)."""
        return _CLIENTS[None]

    def token(self, scope: str = "read:items", resource: str = API_RESOURCE, alg: Alg | None = None) -> str:
        """A JWT access token (RFC 9068) from the client-credentials grant.

        `alg` None signs with the resource's default algorithm (RS256, or ES256 for
        `ES_RESOURCE`); "RS256" / "ES256" force that algorithm for any resource.
        """
        response = self.token_response(scope=scope, resource=resource, alg=alg)
        if response.status_code != httpx.codes.OK:
            raise AssertionError(f"token request failed: {response.status_code} {response.text}")
        token = response.json()["access_token"]
        assert isinstance(token, str)
        return token

    def _control(self, method: str, route: str, params: dict[str, str] | None = None) -> KeyState:
        response = self.http.request(method, f"{self.issuer}/__control/{route}", params=params)
        response.raise_for_status()
        return KeyState.from_json(response.json())

    def key_state(self) -> KeyState:
        return self._control("GET", "state")

    def rotate(self, alg: Alg | None = None) -> KeyState:
        """Publish new signing keys (both algorithms, or only `alg`) and sign new tokens with them.

        The old keys stay published until `retire()`.
        """
        return self._control("POST", "rotate", {"alg": alg} if alg else None)

    def retire(self) -> KeyState:
        """Remove every published key that no longer signs."""
        return self._control("POST", "retire")


def _ensure_node_modules(npm: str) -> None:
    if (HARNESS_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        return
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HARNESS_DIR,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=NPM_CI_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise ProviderError(
            f"`npm ci` in {HARNESS_DIR} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


def _read_first_line(stream: IO[str], timeout: float) -> str | None:
    """The first line of `stream`, or None on timeout (the reader thread ends at EOF)."""
    lines: queue.Queue[str] = queue.Queue(maxsize=1)
    reader = threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True)
    reader.start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return None


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


@contextmanager
def run_provider(node: str, npm: str, log_path: Path) -> Iterator[OIDCProvider]:
    """Run `provider.mjs` with `node` (after `npm ci` if needed), its stderr going to `log_path`."""
    _ensure_node_modules(npm)
    env = {k: v for k, v in os.environ.items() if k != "PORT"}
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [node, str(PROVIDER_SCRIPT), "0"],
            cwd=HARNESS_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            encoding="utf-8",
            env=env,
        )
    try:
        assert process.stdout is not None
        line = _read_first_line(process.stdout, STARTUP_TIMEOUT)
        if not line:
            _stop(process)
            reason = "timed out" if line is None else f"exited ({process.returncode})"
            log_text = log_path.read_text(encoding="utf-8", errors="replace")
            raise ProviderError(f"oidc-provider {reason} before listening; its log:\n{log_text}")
        info = json.loads(line)
        with httpx.Client(timeout=httpx.Timeout(10.0), follow_redirects=False) as client:
            yield OIDCProvider(issuer=str(info["issuer"]), port=int(info["port"]), http=client)
    finally:
        _stop(process)
