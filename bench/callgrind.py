"""Instructions per request, counted by callgrind: the figure prow's targets are judged on.

For each app and endpoint, ``_drive.py`` runs under callgrind twice, serving ``N`` and ``2N``
requests; ``(I(2N) - I(N)) / N`` cancels interpreter start-up, imports and the app's own start-up,
leaving the steady-state cost of one request. Counts are deterministic on a shared machine, unlike
wall-clock time. ``PYTHONHASHSEED`` is pinned so dict layouts are the same in both runs.

``python bench/callgrind.py [APP ...] [--n 500] [--endpoints plaintext,json]`` prints a table;
``--endpoints db,db_list --db postgresql`` measures the database endpoints on PostgreSQL (the rows
are stored first, once).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import ``bench`` from the repository root,
    # and drop bench/ itself from the path so its modules cannot shadow top-level ones
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import _db
from bench._cases import ENDPOINTS
from bench.apps import APPS

__all__ = ["count", "measure"]

_ROOT = Path(__file__).resolve().parent.parent
_DRIVER = Path(__file__).resolve().parent / "_drive.py"
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def count(app: str, endpoint: str, n: int, database: str = "sqlite") -> int:
    """Total instructions of one driver process serving ``n`` requests (it checks the answers)."""
    if shutil.which("valgrind") is None:
        raise RuntimeError("valgrind is not installed (Debian/Ubuntu: apt-get install valgrind)")
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(_DRIVER),
        app,
        endpoint,
        str(n),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", _db.ENV: database}
    done = subprocess.run(command, capture_output=True, text=True, cwd=_ROOT, env=env, check=False)
    if done.returncode != 0 or "ok" not in done.stdout.split():
        tail = "\n".join(done.stderr.splitlines()[-15:])
        raise RuntimeError(f"{app} {endpoint}: driver failed (exit {done.returncode})\n{tail}")
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"{app} {endpoint}: no instruction count in valgrind's output")
    return int(found.group(1))


def per_request(app: str, endpoint: str, n: int, database: str = "sqlite") -> int:
    """``(I(2N) - I(N)) / N``, rounded to whole instructions."""
    return round((count(app, endpoint, 2 * n, database) - count(app, endpoint, n, database)) / n)


def measure(
    apps: list[str],
    endpoints: list[str],
    n: int = 500,
    jobs: int | None = None,
    database: str = "sqlite",
) -> dict[str, dict[str, int]]:
    """Instructions per request for every app x endpoint, run ``jobs`` valgrinds at a time.

    ``database`` (``sqlite`` or ``postgresql``) serves the ``/db`` endpoints; its rows are
    stored before the first valgrind starts.
    """
    _db.prepare(database)  # the apps that use a database connect at start-up, whatever the endpoint
    pairs = [(a, e) for a in apps for e in endpoints]
    workers = jobs or os.cpu_count() or 1
    results: dict[str, dict[str, int]] = {a: {} for a in apps}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pair: pool.submit(per_request, *pair, n, database) for pair in pairs}
        try:
            for (app, endpoint), future in futures.items():
                results[app][endpoint] = future.result()
                print(f"  {app:10} {endpoint:10} {results[app][endpoint]:>10,}", flush=True)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # fail now, not after every pair
            raise
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("apps", nargs="*", default=list(APPS))
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--db", choices=_db.BACKENDS, default="sqlite", help="for /db endpoints")
    args = parser.parse_args()
    measure(args.apps, args.endpoints.split(","), args.n, args.jobs, args.db)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
