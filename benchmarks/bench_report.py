"""The machine, the versions, and `RESULTS.md` itself."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

DISTRIBUTIONS = (
    "jwks-middleware",
    "starlette",
    "fastapi",
    "joserfc",
    "cryptography",
    "PyJWT",
    "uvicorn",
    "httptools",
    "httpx",
    "cachetools",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


def machine() -> list[str]:
    """One line each: CPU, OS, Python, OpenSSL."""
    from cryptography.hazmat.backends.openssl.backend import backend

    return [
        f"{_cpu_model()}, {os.cpu_count()} CPUs, {_memory()}",
        f"{platform.system()} {platform.release()} ({platform.machine()})",
        f"Python {platform.python_version()} ({platform.python_implementation()}, {sys.platform})",
        f"{backend.openssl_version_text()}",
    ]


def versions() -> str:
    """`name version` of every package the numbers depend on."""
    found = []
    for name in DISTRIBUTIONS:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    met: bool
    note: str = ""


def table(header: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    """A Markdown table; `align` holds "l" or "r" per column (default: left)."""
    marks = [("---:" if (align[i : i + 1] == "r") else "---") for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def us(seconds: float) -> str:
    """Microseconds, 3 significant digits."""
    value = seconds * 1e6
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def times(value: float) -> str:
    return f"{value:.2f}x"
