"""`python -m jwks_middleware` runs the command line and exits with its status."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from jwks_middleware.testing import LocalIssuer

AUDIENCE = "https://api.example.test"


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer.serve(algorithm="ES256", audience=AUDIENCE) as served:
        yield served


def test_python_m_runs_the_command_line_and_exits_with_its_status(issuer: LocalIssuer) -> None:
    completed = subprocess.run(  # noqa: S603 - our interpreter, our arguments
        [sys.executable, "-m", "jwks_middleware", "verify", "-", "--issuer", issuer.url, "--json"],
        input=issuer.expired_token(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 1, completed.stderr
    assert json.loads(completed.stdout)["reason"] == "expired"
