"""Fixtures that run panva's real OpenID provider (`oidc-provider`, Node.js) on 127.0.0.1.

The provider is started once per test session (see `oidc_harness.py` and
`oidc_provider/provider.mjs`) and stopped at the end of the session. Tests are skipped only when
`node` is not on PATH; any other problem (npm failure, provider crash, start-up timeout) is an
error, never a silent skip.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from oidc_harness import OIDCProvider, ProviderError, run_provider


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    """panva's `oidc-provider` running on 127.0.0.1 for the whole session.

    It has `.issuer`, `.token(scope=..., resource=..., alg=...)`, `.rotate()`, `.retire()`
    (see `oidc_harness.OIDCProvider`).
    """
    node = shutil.which("node")
    if node is None:
        pytest.skip("interop tests need Node.js: `node` is not on PATH")
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("`node` is on PATH but `npm` is not; cannot install oidc-provider", pytrace=False)
    log_path = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    with ExitStack() as stack:
        try:
            provider = stack.enter_context(run_provider(node, npm, log_path))
        except ProviderError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield provider
