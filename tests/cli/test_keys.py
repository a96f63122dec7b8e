"""`jwks-middleware keys`: an issuer's keys as the library sees them, and the skipped ones."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import public_jwk, rsa_key, self_signed_certificate, short_rsa_jwk

from jwks_middleware._cli import main
from jwks_middleware.testing import LocalIssuer

AUDIENCE = "https://api.example.test"
AUTH0_SAMPLE = Path(__file__).parents[1] / "fixtures" / "providers" / "auth0-sample-jwks.json"


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer.serve(algorithm="ES256", audience=AUDIENCE) as served:
        yield served


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*argv: str, stdin: str = "") -> Run:
        status = main(list(argv), stdin=io.StringIO(stdin))
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


def test_keys_lists_each_key_and_the_skipped_ones(cli: Any, issuer: LocalIssuer) -> None:
    auth0 = json.loads(AUTH0_SAMPLE.read_text())["keys"][0]
    expired_certificate = public_jwk(rsa_key(), kid="old-cert", x5c=[self_signed_certificate(rsa_key())])
    issuer.serve_jwks(
        {
            "keys": [
                *issuer.jwks()["keys"],
                auth0,
                expired_certificate,
                {"kty": "oct", "k": "c2VjcmV0", "kid": "shared"},
                short_rsa_jwk(kid="short"),
                {**issuer.jwks()["keys"][0], "kid": "encryption", "use": "enc"},
            ]
        }
    )

    run = cli("keys", "--issuer", issuer.url)

    assert run.status == 0
    assert f"JWKS    {issuer.jwks_uri}\n        (from {issuer.discovery_url})" in run.out
    assert "3 usable keys:" in run.out
    assert (
        f"  kid          '{issuer.kid}'\n  type         EC P-256\n  alg          ES256 (the key's own alg)"
        in run.out
    )
    assert f"  kid          '{auth0['kid']}'\n  type         RSA 2048 bits" in run.out
    assert "  certificate  x5c, expires 2030-08-01 22:22:05 UTC\n" in run.out
    assert "alg          none given; fits PS256, PS384, PS512, RS256, RS384, RS512" in run.out
    assert "expires 2024-12-31 00:00:00 UTC (expired: not enforced, the key still verifies)" in run.out
    assert "use          (not given: signing)" in run.out
    assert "3 skipped (the library ignores them):" in run.out
    assert "  kid 'shared': symmetric keys are never accepted from a key set" in run.out
    assert "  kid 'short': RSA key of 1024 bits is shorter than 2048" in run.out
    assert "  kid 'encryption': key use is 'enc', not 'sig'" in run.out


def test_keys_json_is_for_machines(cli: Any, issuer: LocalIssuer) -> None:
    run = cli("keys", "--issuer", issuer.url, "--jwks-uri", issuer.jwks_uri, "--json")
    result = run.json()

    assert run.status == 0
    assert result["discovery_url"] is None
    assert result["max_age"] == 900
    assert result["skipped"] == []
    assert result["keys"] == [
        {
            "kid": issuer.kid,
            "kty": "EC",
            "alg": "ES256",
            "algorithms": ["ES256"],
            "use": "sig",
            "size": None,
            "crv": "P-256",
            "thumbprint": issuer.kid,  # the local issuer's kids are thumbprints
            "certificate_expires": None,
            "certificate_expired": None,
        }
    ]
    assert issuer.requests[issuer.discovery_url] == 0


def test_keys_with_a_jwks_uri_skip_discovery(cli: Any, issuer: LocalIssuer) -> None:
    run = cli("keys", "--issuer", issuer.url, "--jwks-uri", issuer.jwks_uri)

    assert run.status == 0
    assert f"JWKS    {issuer.jwks_uri}\nCache   900 s" in run.out
    assert "1 usable key:" in run.out
    assert "skipped" not in run.out
    assert issuer.requests[issuer.discovery_url] == 0


def test_keys_beyond_the_hundredth_are_skipped(cli: Any, issuer: LocalIssuer) -> None:
    issuer.serve_jwks(issuer.oversized_jwks(min_bytes=25_000))

    result = cli("keys", "--issuer", issuer.url, "--json").json()

    assert len(result["keys"]) == 100
    assert result["skipped"][0] == {"kid": "padding-0000099", "reason": "more than 100 keys in the set"}


def test_keys_exit_1_when_no_key_is_usable(cli: Any, issuer: LocalIssuer) -> None:
    issuer.serve_jwks({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})

    run = cli("keys", "--issuer", issuer.url)

    assert run.status == 1
    assert "0 usable keys\n" in run.out
    assert "  kid (none): symmetric keys are never accepted from a key set" in run.out
    assert "No usable signing key: every token of this issuer would be refused." in run.out


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("stopped", "openid-configuration could not be fetched (ConnectError); "),
        ("other issuer", "names issuer 'https://evil.example.test', not "),
        ("no jwks_uri", "openid-configuration has no jwks_uri"),
        ("metadata not an object", "openid-configuration is not a metadata object"),
        ("not a jwks", "jwks.json is not a JWKS: expected an object with a 'keys' array"),
    ],
)
def test_keys_exit_2_when_they_cannot_be_fetched(
    cli: Any, issuer: LocalIssuer, fault: str, message: str
) -> None:
    metadata = issuer.metadata()
    if fault == "stopped":
        issuer.stop()
    elif fault == "other issuer":
        issuer.serve_metadata({**metadata, "issuer": "https://evil.example.test"})
    elif fault == "no jwks_uri":
        issuer.serve_metadata({**metadata, "jwks_uri": None})
    elif fault == "metadata not an object":
        issuer.serve_metadata(b"[]")
    else:
        issuer.serve_jwks({"not": "a key set"})

    run = cli("keys", "--issuer", issuer.url)
    as_json = cli("keys", "--issuer", issuer.url, "--json")

    assert (run.status, as_json.status) == (2, 2)
    assert run.err.startswith("jwks-middleware: could not fetch the keys: ")
    assert message in run.err
    assert message in as_json.json()["error"]
