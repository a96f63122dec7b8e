"""Developer tasks: `nox -s tests`, `lint`, `typecheck`, `demo`, `bench`."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite with branch coverage (needs Node.js for the interop tests)."""
    session.install("-e", ".", *_group("test"))
    # `coverage run` rather than pytest-cov: the package's pytest plugin is imported through its
    # entry point before pytest-cov would start measuring.
    session.run("coverage", "run", "-m", "pytest", *session.posargs)
    session.run("coverage", "report")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff format --check and ruff check."""
    session.install(*_group("lint"))
    session.run("ruff", "format", "--check", ".")
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, tests, examples and benchmarks."""
    session.install("-e", ".", *_group("test"), *_group("typecheck"))
    session.run("mypy")
    session.run("mypy", "--exclude", "tests/(integration|interop)/", "tests")
    session.run("mypy", "tests/integration")
    session.run("mypy", "tests/interop")


@nox.session
def demo(session: nox.Session) -> None:
    """A protected API and a local issuer on 127.0.0.1, with ready-to-paste curl commands."""
    session.install("-e", ".[demo]")
    session.run("jwks-middleware", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against peers; rewrites benchmarks/RESULTS.md."""
    session.install("-e", ".[fastapi]", *_group("bench"))
    session.run("python", "benchmarks/run.py", *session.posargs)
