"""Run prow's benchmark suite and write ``bench/RESULTS.md`` (and ``bench/ratios.png``).

From the repository root::

    python -m bench            # callgrind + /db endpoints + process cost; ~25 minutes on 2 cores
    python -m bench --measures db   # only GET /db and /db/list (SQLite, and PostgreSQL if up)
    python -m bench --measures te   # only TechEmpower's test types (PostgreSQL)
    python -m bench --measures rw   # only the RealWorld endpoints: Conduit and peers (PostgreSQL)
    python -m bench --measures callgrind,db,process,http   # everything (HTTP needs wrk)
    python -m bench --measures http_db   # req/s of the database endpoints on PostgreSQL (wrk)
    python -m bench --quick    # every app answers every endpoint a few times, checked; seconds

Apps whose framework is not installed are skipped and named in the output.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: import ``bench`` from the repository root,
    # and drop bench/ itself from the path so its modules cannot shadow top-level ones
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import _db
from bench._cases import DB_ENDPOINTS, ENDPOINTS, RW_ENDPOINTS, TE_ENDPOINTS, BenchError
from bench.apps import APPS

__all__ = ["available", "main", "quick"]

HERE = Path(__file__).resolve().parent
RAW = HERE / "results.json"


def missing(app: str) -> str | None:
    """The first package ``app`` needs that is not importable, or None."""
    for package in APPS[app].requires:
        if importlib.util.find_spec(package) is None:
            return package
    return None


def available(apps: list[str]) -> list[str]:
    """``apps`` minus those whose framework is missing (each skip is printed with its reason)."""
    kept = []
    for app in apps:
        gone = missing(app)
        if gone is None:
            kept.append(app)
        else:
            print(f"skip {app}: package {gone!r} is not installed")
    return kept


def measure_db(apps: list[str], n: int) -> dict[str, dict[str, dict[str, int]]]:
    """Instructions per request of the ``/db`` endpoints, per database that answers.

    PostgreSQL is measured only when reachable (``BENCH_PG_URL``), and an app only when its
    driver for it is installed; each skip is printed with its reason.
    """
    from bench import callgrind

    results: dict[str, dict[str, dict[str, int]]] = {}
    for database in _db.BACKENDS:
        if not _db.reachable(database):
            print(f"skip {database}: not reachable ({_db.async_url(database)!r})")
            continue
        kept = [app for app in apps if database == "sqlite" or _has_pg_driver(app)]
        print(f"callgrind /db on {database}: {len(kept)} apps x {len(DB_ENDPOINTS)} endpoints")
        results[database] = callgrind.measure(kept, list(DB_ENDPOINTS), n, database=database)
    return results


def measure_te(apps: list[str], n: int) -> dict[str, dict[str, int]]:
    """Instructions per request of TechEmpower's test types on PostgreSQL (skipped when down)."""
    from bench import callgrind

    if not _db.reachable("postgresql"):
        print(f"skip TechEmpower types: PostgreSQL not reachable ({_db.async_url('postgresql')!r})")
        return {}
    kept = [app for app in apps if APPS[app].te and _has_pg_driver(app)]
    print(f"callgrind TechEmpower types on postgresql: {len(kept)} apps x {len(TE_ENDPOINTS)}")
    # /cached-queries at 10 n: cheap requests, and over few of them a garbage collection weighs
    # too much (the cache holds 10,000 worlds for it to walk)
    slow = [endpoint for endpoint in TE_ENDPOINTS if endpoint != "cached"]
    results = callgrind.measure(kept, slow, n, database="postgresql")
    for app, counts in callgrind.measure(kept, ["cached"], n * 10, database="postgresql").items():
        results[app].update(counts)
    return results


def measure_rw(apps: list[str], n: int) -> dict[str, dict[str, int]]:
    """Instructions per request of the RealWorld endpoints on PostgreSQL (skipped when down)."""
    from bench import callgrind

    if not _db.reachable("postgresql"):
        print(f"skip RealWorld: PostgreSQL not reachable ({_db.async_url('postgresql')!r})")
        return {}
    from bench.apps import _realworld

    kept = [app for app in apps if APPS[app].realworld and _has_pg_driver(app)]
    _realworld.prepare("postgresql")  # the Conduit's database, before any app connects
    print(f"callgrind RealWorld on postgresql: {len(kept)} apps x {len(RW_ENDPOINTS)}")
    return callgrind.measure(kept, list(RW_ENDPOINTS), n, database="postgresql")


def measure_http_db(apps: list[str], duration: float) -> dict[str, Any]:
    """req/s of the database endpoints on PostgreSQL under granian (skipped when it is down)."""
    from bench import wrk

    if not _db.reachable("postgresql"):
        print(f"skip HTTP on PostgreSQL: not reachable ({_db.async_url('postgresql')!r})")
        return {}
    kept = [app for app in apps if _has_pg_driver(app)]
    endpoints = list(wrk.HTTP_DB_ENDPOINTS)
    print(f"wrk on postgresql: {len(kept)} apps, {len(endpoints)} endpoints, 3 rounds")
    return wrk.measure_db(kept, endpoints, duration)


def _has_pg_driver(app: str) -> bool:
    driver = APPS[app].pg_driver
    if importlib.util.find_spec(driver) is None:
        print(f"skip {app} on postgresql: package {driver!r} is not installed")
        return False
    return True


def quick(apps: list[str]) -> int:
    """Check every app's answers in-process, without valgrind; 1 if any is wrong."""
    from bench._drive import quick_check

    failed = 0
    for app in available(apps):
        start = time.perf_counter()
        try:
            quick_check(app)
        except BenchError as exc:
            print(f"FAIL {app}: {exc}")
            failed += 1
            continue
        print(f"ok   {app} ({(time.perf_counter() - start) * 1000:.0f} ms)")
    return 1 if failed else 0


def full(apps: list[str], n: int, measures: set[str], duration: float) -> dict[str, Any]:
    """Run the chosen measures and return the raw results, merged into ``results.json``.

    Merging lets a slow measure be rerun alone (``--measures http``) without redoing the others.
    """
    from bench import callgrind, process
    from bench._machine import machine, versions

    everyone = available(apps)
    apps = [app for app in everyone if not APPS[app].realworld]  # serve only the RealWorld's
    raw: dict[str, Any] = json.loads(RAW.read_text()) if RAW.exists() else {}
    raw.update(machine=machine(), versions=versions())
    if "callgrind" in measures:
        print(f"callgrind: {len(apps)} apps x {len(ENDPOINTS)} endpoints, N={n} and 2N")
        raw["n"] = n
        raw["instructions"] = callgrind.measure(apps, list(ENDPOINTS), n)
    if "db" in measures:
        raw["db_n"] = n
        raw["db_instructions"] = measure_db(apps, n)
    if "te" in measures:
        raw["te_n"] = max(n // 10, 20)  # each request is 20 queries: a tenth is as many
        raw["te_instructions"] = measure_te(apps, raw["te_n"])
    if "rw" in measures:
        raw["rw_n"] = max(n // 10, 20)
        raw["rw_instructions"] = measure_rw(everyone, raw["rw_n"])
    if "process" in measures:
        print("process cost: import time, 200-route start-up, memory after 10,000 requests")
        raw["import_ms"] = process.import_times(apps)
        raw["startup_ms"] = process.startup_times(apps)
        raw["rss_mb"] = process.rss(apps)
    if "http" in measures:
        from bench import wrk

        served = [app for app in apps if wrk.serves(app, ENDPOINTS[0])]
        raw["http"] = wrk.measure(served, list(ENDPOINTS), duration)
    if "http_db" in measures:
        raw["http_db"] = measure_http_db(everyone, duration)  # the RealWorld apps too
    RAW.write_text(json.dumps(raw, indent=2) + "\n")
    return raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="prow's benchmark suite against its peers")
    parser.add_argument("--quick", action="store_true", help="correctness pass only (CI)")
    parser.add_argument("--apps", default=",".join(APPS), help="comma-separated app names")
    parser.add_argument("--n", type=int, default=500, help="requests in the short callgrind run")
    parser.add_argument(
        "--measures",
        default="callgrind,db,te,rw,process",
        help="comma-separated: callgrind, db, te, rw, process, http (http needs wrk, ~5 min), "
        "http_db (wrk on PostgreSQL, ~15 min)",
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite RESULTS.md from results.json"
    )
    args = parser.parse_args(argv)
    apps = args.apps.split(",")
    unknown = [app for app in apps if app not in APPS]
    if unknown:
        parser.error(f"unknown app(s) {', '.join(unknown)}; known: {', '.join(APPS)}")
    if args.quick:
        return quick(apps)
    from bench.report import write_report

    if args.report_only:
        raw = json.loads(RAW.read_text())
    else:
        if quick(apps):
            print("refusing to measure apps that answer wrongly")
            return 1
        raw = full(apps, args.n, set(args.measures.split(",")), args.duration)
    write_report(raw, HERE)
    print(f"wrote {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
