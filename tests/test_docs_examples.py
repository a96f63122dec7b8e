"""The runnable examples of the docs (blocks starting ``# Runnable example``) run as shown, each
in a fresh interpreter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "docs"
EXAMPLES = [
    pytest.param(block, id=f"{path.name}:{number}")
    for path in sorted(DOCS.glob("*.md"))
    for number, block in enumerate(
        re.findall(r"```python\n(# Runnable example.*?)```", path.read_text(), re.DOTALL)
    )
]


def test_the_docs_have_their_runnable_examples() -> None:
    named = {param.id.split(":")[0] for param in EXAMPLES}  # type: ignore[union-attr]
    assert {"dpop.md", "introspection.md", "policy.md", "resource-metadata.md"} <= named


@pytest.mark.parametrize("example", EXAMPLES)
def test_a_runnable_example_runs(example: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    completed = subprocess.run(  # noqa: S603 - our interpreter, the docs' own example
        [sys.executable, "-W", "error::DeprecationWarning", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
