"""The cost of a process: import time, start-up with 200 routes, memory after 10,000 requests.

Times run each command in a fresh interpreter several times and keep the best run minus the best
run of an empty interpreter: the figure least disturbed by a busy machine.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

__all__ = ["IMPORTS", "import_times", "rss", "startup_times"]

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent

# What an app built on each framework has to import before it defines a route.
IMPORTS = {
    "bare": "import json, urllib.parse, pydantic",
    "prow": "from prow import App",
    "starlette": "from starlette.applications import Starlette",
    "fastapi": "from fastapi import FastAPI",
    "litestar": "from litestar import Litestar",
    "flask": "from flask import Flask",
    "django": "import django.core.handlers.wsgi, django.http, django.urls",
}


def _best(command: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=_ROOT, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def _over_empty(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    empty = _best([sys.executable, "-c", "pass"], runs)
    return {app: (_best(command, runs) - empty) * 1000 for app, command in commands.items()}


def import_times(apps: list[str], runs: int = 7) -> dict[str, float]:
    """Milliseconds each framework's import adds to an empty interpreter's start-up."""
    return _over_empty({app: [sys.executable, "-c", IMPORTS[app]] for app in apps}, runs)


def startup_times(apps: list[str], runs: int = 5) -> dict[str, float]:
    """Milliseconds to import, build a 200-route app and answer its first request."""
    script = str(_HERE / "_many.py")
    return _over_empty({app: [sys.executable, script, app] for app in apps}, runs)


def rss(apps: list[str]) -> dict[str, float]:
    """Resident MB of an in-process app after 10,000 checked requests."""
    script = str(_HERE / "_rss.py")
    found = {}
    for app in apps:
        done = subprocess.run(
            [sys.executable, script, app], check=True, cwd=_ROOT, capture_output=True, text=True
        )
        found[app] = float(done.stdout.split()[-1])
    return found
