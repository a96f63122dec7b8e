"""The tests mirror the package: each module has its own test module, found by its path.

`jwks_middleware/_jws.py` is tested in `tests/test_jws.py`; a subpackage has a test directory
(`jwks_middleware/_keys/store.py` -> `tests/keys/test_store.py`, its `__init__.py` ->
`tests/keys/test_keys.py`). Test module names are unique across directories (pytest's default
import mode needs it), so a subpackage's test module whose name another directory already uses
takes the subpackage's name as a prefix (`tests/testing/test_testing_dpop.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
PACKAGE: Final = ROOT / "jwks_middleware"
TESTS: Final = ROOT / "tests"

#: Modules tested under another name, each with why.
RENAMED: Final = {
    "__init__.py": "test_public_api.py",  # the package's public names
    "providers/_entra.py": "providers/test_entra_id.py",  # named after the preset, `entra_id`
    "fastapi/_claims_dependency.py": "fastapi/test_dependencies.py",  # with the dependencies it makes
}

#: Modules without a test module of their own, each with where its behaviour is tested.
UNMIRRORED: Final = {
    "_cli/__init__.py": "a docstring only",
    "_keys/__init__.py": "a docstring only",
    "providers/__init__.py": "re-exports the presets, each tested in tests/providers/",
    "_algorithms.py": "the allowed algorithms per key: test_issuer.py, test_verify.py, test_cross_library.py",
    "_authorization.py": "the guards' checks: test_decorators.py, fastapi/test_dependencies.py",
    "_config.py": "default limits, each tested where it applies (test_jws.py, keys/test_fetch.py, ...)",
    "_errors.py": "the refusals' RFC 6750 answers: test_responses.py, test_middleware.py",
    "_events.py": "events and counters: metrics/, integration/ (EventLog), test_verify.py",
    "_request.py": "the scope's authentication state: test_middleware.py, fastapi/test_auth.py",
    "_keys/ring.py": "the kid index: keys/test_issuer_keys.py, test_verify.py",
    "_keys/schedule.py": "the fleet's refresh slots: integration/test_fleet.py, integration/test_refresh.py",
    "_cli/demo_app.py": "the demo's API: cli/test_demo.py",
    "_cli/format.py": "the command line's output: cli/test_commands.py, cli/test_keys.py, cli/test_tokens.py",
    "metrics/_labels.py": "bounded labels: metrics/test_prometheus.py (no token value in a label)",
    "providers/_combine.py": "one resolver from the presets: providers/test_common.py",
    "testing/_mtls.py": "the test certificate authority: test_mtls.py, integration/test_mtls_server.py",
    "uvicorn.py": "uvicorn's TLS extension: integration/test_mtls_server.py on a real uvicorn",
    "_introspection_config.py": "the introspection settings: test_introspection.py",
    "_public.py": "public classes under their public path: test_public_api.py",
    "_dpop_policy.py": "the DPoP policy's checks: test_dpop.py (with the proofs it governs)",
    "_client_auth.py": "introspection client authentication: test_introspection.py",
    "_introspection_cache.py": "the answer cache: test_introspection.py, integration/",
    "_introspection_endpoint.py": "finding the endpoint: test_introspection.py",
    "testing/_asgi.py": "the in-memory issuer app: testing/test_server.py",
    "testing/_controls.py": "the issuer's fault controls: testing/test_server.py",
    "testing/_endpoints.py": "endpoints: testing/test_server.py, testing/test_testing_introspection.py",
    "testing/_issuer.py": "LocalIssuer: testing/test_testing.py",
    "testing/_signing.py": "the issuer's keys and tokens: testing/test_testing.py",
}


def _bare(name: str) -> str:
    return name.removesuffix(".py").strip("_")


def candidates(module: Path) -> list[str]:
    """The test module paths (relative to tests/) that may mirror `module`."""
    relative = module.relative_to(PACKAGE)
    if len(relative.parts) == 1:
        return [f"test_{_bare(relative.name)}.py"]
    directory = _bare(relative.parts[0])
    name = directory if relative.name == "__init__.py" else _bare(relative.name)
    return [f"{directory}/test_{name}.py", f"{directory}/test_{directory}_{name}.py"]


def test_every_module_has_its_test_module() -> None:
    missing = []
    for module in sorted(PACKAGE.rglob("*.py")):
        key = module.relative_to(PACKAGE).as_posix()
        if key in UNMIRRORED:
            continue
        paths = [RENAMED[key]] if key in RENAMED else candidates(module)
        if not any((TESTS / path).is_file() for path in paths):
            missing.append(f"{key} -> tests/{paths[0]}")
    assert missing == []


def test_the_exceptions_name_modules_that_exist() -> None:
    for key in [*RENAMED, *UNMIRRORED]:
        assert (PACKAGE / key).is_file(), key
    for path in RENAMED.values():
        assert (TESTS / path).is_file(), path


def test_test_module_names_are_unique_across_directories() -> None:
    names = [path.name for path in TESTS.rglob("test_*.py")]
    assert sorted({name for name in names if names.count(name) > 1}) == []
