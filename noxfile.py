"""Developer tasks: `nox -s tests`, `lint`, `typecheck`, `demo`, `bench`, `build`."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

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
    # run.py rewrites RESULTS.md whole; the fleet simulation, the other token kinds and the DPoP
    # breakdown then put their sections back.
    session.run("python", "benchmarks/bench_fleet.py")
    session.run("python", "benchmarks/bench_token_kinds.py")
    session.run("python", "benchmarks/bench_dpop.py")


@nox.session
def build(session: nox.Session) -> None:
    """The sdist and wheel, checked (metadata, README rendering, contents), then the wheel
    installed into a fresh virtual environment where the demo's smoke test runs."""
    session.install("build", "twine")
    dist = Path("dist")
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist))
    artifacts = sorted(str(path) for path in dist.iterdir())
    session.run("twine", "check", "--strict", *artifacts)
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    if "jwks_middleware/py.typed" not in names:
        session.error("the wheel lacks jwks_middleware/py.typed")
    if any(name.startswith(("tests/", "examples/", "benchmarks/")) for name in names):
        session.error("the wheel holds tests, examples or benchmarks")
    fresh = Path(session.create_tmp()) / "fresh-venv"
    shutil.rmtree(fresh, ignore_errors=True)
    session.run("python", "-m", "venv", str(fresh))
    python = str((fresh / "bin" / "python").absolute())
    session.run(python, "-m", "pip", "install", "--quiet", f"{wheel.resolve()}[demo]", external=True)
    session.run(str(fresh / "bin" / "jwks-middleware"), "demo", "--smoke", external=True)
    # A user's own project, tested as docs/testing.md says: the `testing` extra, plain pytest,
    # no configuration of ours, and no warning allowed.
    session.run(python, "-m", "pip", "install", "--quiet", f"{wheel.resolve()}[testing]", external=True)
    # Outside this checkout, so that no configuration of ours is found above it.
    project = Path(tempfile.mkdtemp(prefix="user-project-"))
    for name in ("starlette_app.py", "test_my_app.py"):
        shutil.copy(Path("examples") / name, project / name)
    with session.chdir(project):
        session.run(python, "-m", "pytest", "-W", "error", "-q", "-p", "no:cacheprovider", external=True)
    shutil.rmtree(project)
    # Other frameworks' users: the Litestar and Quart examples with their tests, on the wheel.
    frameworks = f"{wheel.resolve()}[testing,fastapi]"
    session.run(python, "-m", "pip", "install", "--quiet", frameworks, "litestar", "quart", external=True)
    project = Path(tempfile.mkdtemp(prefix="framework-project-"))
    (project / "examples").mkdir()
    (project / "tests").mkdir()
    for name in ("litestar_app.py", "quart_app.py"):
        shutil.copy(Path("examples") / name, project / "examples" / name)
    shutil.copy(Path("tests") / "test_examples_frameworks.py", project / "tests")
    with session.chdir(project):
        session.run(python, "-m", "pytest", "-W", "error", "-q", "-p", "no:cacheprovider", external=True)
    shutil.rmtree(project)
