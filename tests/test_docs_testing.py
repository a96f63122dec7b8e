"""docs/testing.md's code: the copy-paste test modules pass under a plain pytest of their own,
and the other blocks run as shown."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).parent.parent / "docs" / "testing.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
TEST_MODULES = [block for block in BLOCKS if "\ndef test_" in block]
SCRIPTS = [block for block in BLOCKS if "\ndef test_" not in block]


def test_the_doc_has_its_examples() -> None:
    assert (len(TEST_MODULES), len(SCRIPTS)) == (2, 3)


@pytest.mark.parametrize("module", TEST_MODULES, ids=["starlette", "fastapi"])
def test_a_copy_pasted_test_module_passes_with_plain_pytest(module: str, tmp_path: Path) -> None:
    (tmp_path / "test_app.py").write_text(module, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # the user's own, empty
    completed = subprocess.run(  # noqa: S603 - our interpreter, our test module
        [sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "passed" in completed.stdout
    assert "warning" not in completed.stdout.lower()


@pytest.mark.parametrize(
    "script", SCRIPTS, ids=["provider-shaped-tokens", "rotation-and-faults", "opaque-tokens"]
)
def test_a_script_runs_as_shown(script: str) -> None:
    exec(compile(script, str(DOC), "exec"), {"__name__": "docs_testing"})  # noqa: S102 - our own docs
