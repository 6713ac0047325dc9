"""Resident memory after 10,000 requests: ``python bench/_rss.py APP`` prints megabytes.

The app serves 2,500 requests of each endpoint in-process (through the same driver as the
instruction counts, every answer checked), then reads its own ``VmRSS`` from ``/proc``: the
framework's share of a worker's memory, without a server's.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import ``bench`` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._cases import CASES
from bench._drive import drive, load
from bench.apps import APPS

__all__ = ["rss_mb"]


def rss_mb() -> float:
    """This process's resident set size in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main(name: str, total: int = 10_000) -> None:
    spec = APPS[name]
    app = load(spec)
    for case in CASES.values():
        case.check(name, drive(spec, app, case, total // len(CASES)))
    print(f"{rss_mb():.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
