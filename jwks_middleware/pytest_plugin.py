"""pytest fixtures for testing apps protected by jwks-middleware, with no network.

This plugin is registered automatically through the ``pytest11`` entry point when
jwks-middleware is installed; disable it with ``-p no:jwks_middleware``. Importing it is
cheap: it imports neither FastAPI nor the testing kit, and starts nothing. A fixture does
its work only when a test asks for it.

Fixtures:

``local_issuer``
    A running :class:`jwks_middleware.testing.LocalIssuer` served on ``127.0.0.1`` at a
    random free port (``LocalIssuer.serve()``), stopped after the test. It signs with RS256
    unless parametrized indirectly with an algorithm name or a mapping of ``serve()``
    options::

        @pytest.mark.parametrize("local_issuer", ["ES256", "EdDSA"], indirect=True)
        def test_any_key_type(local_issuer): ...

    Override the ``local_issuer_options`` fixture (a mapping of ``serve()`` options) in a
    ``conftest.py`` to change the defaults of a whole directory.

``local_issuer_config``
    The ``Issuer`` trusting that local issuer (``local_issuer.config()``): keys found
    through its discovery document, audience ``local_issuer.audience``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._issuer import Issuer
    from .testing import LocalIssuer

__all__ = ["local_issuer", "local_issuer_config", "local_issuer_options"]


@pytest.fixture
def local_issuer_options() -> Mapping[str, Any]:
    """Options given to ``LocalIssuer.serve()`` by ``local_issuer``; empty by default."""
    return {}


@pytest.fixture
def local_issuer(
    request: pytest.FixtureRequest, local_issuer_options: Mapping[str, Any]
) -> Iterator[LocalIssuer]:
    """A local issuer served on 127.0.0.1 for the length of one test."""
    from .testing import LocalIssuer  # imported here, so loading the plugin stays cheap

    options = dict(local_issuer_options)
    param = getattr(request, "param", None)
    if isinstance(param, str):
        options["algorithm"] = param
    elif isinstance(param, Mapping):
        options.update(param)
    elif param is not None:
        raise TypeError("parametrize local_issuer with an algorithm name or a mapping of serve() options")
    with LocalIssuer.serve(**options) as issuer:
        yield issuer


@pytest.fixture
def local_issuer_config(local_issuer: LocalIssuer) -> Issuer:
    """The ``Issuer`` configuration trusting ``local_issuer``."""
    return local_issuer.config()
