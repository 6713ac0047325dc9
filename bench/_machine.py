"""What a result was measured on: package versions, Python, CPU, tools."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib import metadata

__all__ = ["DISTRIBUTIONS", "machine", "versions"]

DISTRIBUTIONS = (
    "prow",
    "starlette",
    "fastapi",
    "litestar",
    "msgspec",
    "flask",
    "werkzeug",
    "django",
    "django-ninja",
    "pyjwt",
    "pydantic",
    "pydantic-core",
    "anyio",
    "uvicorn",
    "granian",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "psycopg",
    "flask-sqlalchemy",
    "advanced-alchemy",
)


def versions() -> dict[str, str]:
    """Installed version of each measured distribution ('missing' when absent)."""
    found = {}
    for name in DISTRIBUTIONS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _tool_version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError:
        return "not installed"
    text = (done.stdout or done.stderr).strip().splitlines()
    return re.sub(r"\s+", " ", text[0]) if text else "unknown"


def machine() -> dict[str, str]:
    """Python, OS, CPU model and count, and the measuring tools' versions."""
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "cpu": _cpu_model(),
        "nproc": str(os.cpu_count()),
        "valgrind": _tool_version(["valgrind", "--version"]),
        "wrk": _tool_version(["wrk", "--version"]),
    }
