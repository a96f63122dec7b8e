"""`jwks-middleware decode`: a token's parts, marked as not verified, with what the library would
refuse.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from jwks_middleware._cli import main
from jwks_middleware.testing import LocalIssuer

AUDIENCE = "https://api.example.test"


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


def assert_not_echoed(token: str, run: Run) -> None:
    # Header and claims are fine; the token itself (or its signature) never is.
    signature = token.rsplit(".", 1)[-1]
    assert token not in run.out + run.err
    assert not signature or signature not in run.out + run.err


def test_decode_marks_the_result_as_not_verified(cli: Any, issuer: LocalIssuer) -> None:
    token = issuer.issue(sub="alice")

    run = cli("decode", token)

    assert run.status == 0
    assert "NOT VERIFIED: decoded only." in run.out
    assert '"sub": "alice"' in run.out
    assert '"alg": "ES256"' in run.out
    assert re.search(r"exp       .* UTC \(in 4 min\)", run.out)
    assert "refuses this token" not in run.out
    assert_not_echoed(token, run)


def test_decode_shows_tokens_the_library_would_refuse_and_why(cli: Any, issuer: LocalIssuer) -> None:
    run = cli("decode", issuer.issue(headers={"jku": "https://evil.example.test/keys"}))

    assert run.status == 0
    assert '"jku": "https://evil.example.test/keys"' in run.out
    assert "jwks-middleware refuses this token before looking at any key (unsupported token):" in run.out
    assert "header parameter 'jku' is never followed or trusted" in run.out


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("not-a-token", "a signed JWT has 3 parts separated by '.', this one has 1"),
        ("e30.!!!.sig", "the payload is not base64url-encoded JSON"),
        ("W10.e30.sig", "the header is not a JSON object"),
        (
            "e30.e30.e30.e30.e30",
            "an encrypted token (JWE, 5 parts): its claims cannot be read without the key",
        ),
    ],
)
def test_decode_exit_1_when_the_token_cannot_be_decoded(cli: Any, token: str, problem: str) -> None:
    run = cli("decode", token)
    as_json = cli("decode", token, "--json")

    assert (run.status, as_json.status) == (1, 1)
    assert f"Cannot decode: {problem}" in run.out
    assert problem in as_json.json()["problems"]


def test_decode_json_from_stdin(cli: Any, issuer: LocalIssuer) -> None:
    token = issuer.issue(sub="alice", iat=1_700_000_000, exp=1_700_000_600)

    run = cli("decode", "-", "--json", stdin=token)
    result = run.json()

    assert run.status == 0
    assert result["verified"] is False
    assert result["claims"]["sub"] == "alice"
    assert result["times"]["exp"]["utc"] == "2023-11-14 22:23:20 UTC"
    assert result["refused_before_keys"] is None
    assert_not_echoed(token, run)


def test_decode_shows_times_in_hours_and_days_and_skips_impossible_ones(
    cli: Any, issuer: LocalIssuer
) -> None:
    token = issuer.issue(expires_in=10 * 86400 + 60, iat=int(time.time()) - 3 * 3600 - 60, nbf=10**20)

    times = cli("decode", token, "--json").json()["times"]

    assert (times["iat"]["relative"], times["exp"]["relative"]) == ("3 h ago", "in 10 days")
    assert "nbf" not in times
