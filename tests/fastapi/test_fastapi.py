"""`jwks_middleware.fastapi` is imported only when asked for, and says how to install FastAPI."""

import importlib
import subprocess
import sys

import pytest


def test_importing_the_package_does_not_import_fastapi() -> None:
    code = "import sys, jwks_middleware; sys.exit('fastapi' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0  # noqa: S603


def test_without_fastapi_the_module_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.delitem(sys.modules, "jwks_middleware.fastapi")
    with pytest.raises(ImportError, match=r'pip install "jwks-middleware\[fastapi\]"'):
        importlib.import_module("jwks_middleware.fastapi")
