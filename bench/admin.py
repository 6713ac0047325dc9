"""The admin's change list on a 100,000-row table: prow's admin against Django's, same data.

The request is the first page of the orders list, filtered by status and searched by
reference (``?status=paid&q=R0123`` for prow, ``?status__exact=paid&q=R0123`` for Django),
by a logged-in superuser through each framework's in-process test client. Both admins show
the same five columns, 50 rows a page, ordered by ``-created_at`` (indexed), on SQLite
files holding the same 100,000 rows.

Each framework runs in its own process (Django's settings are global). Two figures:

- ``time``: the median wall-clock time of a request after warm-up, the two apps measured in
  the same run;
- ``--callgrind``: instructions per request, ``(I(2N) - I(N)) / N`` under valgrind, as
  ``bench/callgrind.py`` counts them (slow: minutes).

``python bench/admin.py [--n 30] [--callgrind]``; ``python bench/admin.py serve prow N`` is
one driver process.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

ROWS = 100_000
WORK = Path(__file__).resolve().parent / ".work"
PASSWORD = "correct horse battery staple"
PROW_URL = "/admin/bench/order?status=paid&q=R0123"
DJANGO_URL = "/admin/admin_django/order/?status__exact=paid&q=R0123"
EXPECTED = 33  # R012300..R012399 with status "paid" (every third)


def rows() -> list[tuple[object, ...]]:
    start = datetime.datetime(2030, 1, 1)
    statuses = ("new", "paid", "shipped")
    return [
        (
            n + 1,
            f"R{n:06d}",
            f"user{n % 1000}@example.com",
            statuses[n % 3],
            n % 500,
            (start + datetime.timedelta(minutes=n)).isoformat(sep=" "),
        )
        for n in range(ROWS)
    ]


def fill(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO bench_admin_order (id, reference, email, status, total, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows(),
        )


# -- prow -----------------------------------------------------------------------------------


def prow_client() -> object:
    import asyncio

    from bench.admin_prow import Order, OrderAdmin
    from prow import App
    from prow.admin import Admin
    from prow.auth import Auth
    from prow.db import Database, database
    from prow.testing import TestClient

    path = WORK / "admin-prow.sqlite3"
    app = App(
        secret_key="a-benchmark-secret-key-that-is-long-enough-0123",
        extensions=[Database(f"sqlite+aiosqlite:///{path}")],
    )
    Admin(app).register(Order, OrderAdmin)
    if not path.exists():
        engine_app = app

        async def create() -> None:
            db = database(engine_app)
            auth = engine_app.extension(Auth)
            await db.create_all(*auth.tables(), *engine_app.extension(Admin).tables(), Order)
            async with db.session() as session:
                await auth.create_user(session, "admin", PASSWORD, is_staff=True, is_superuser=True)
                await session.commit()
            await db.dispose()

        app.build()
        asyncio.run(create())
        fill(path)
    client = TestClient(app)
    client.__enter__()
    page = client.get("/admin/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"username": "admin", "password": PASSWORD, "csrf_token": token}
    assert client.post("/admin/login", data=form).status_code == 200
    return client


# -- Django ---------------------------------------------------------------------------------


def django_client() -> object:
    from django.conf import settings

    path = WORK / "admin-django.sqlite3"
    settings.configure(
        DEBUG=False,
        SECRET_KEY="a-benchmark-secret-key-that-is-long-enough-0123",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "bench.admin_django",
        ],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        ROOT_URLCONF="bench.admin_django.urls",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}},
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        USE_TZ=False,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # set-up speed only
    )
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    if not path.exists():
        call_command("migrate", run_syncdb=True, verbosity=0)
        User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
        fill(path)
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    return client


# -- driving --------------------------------------------------------------------------------


def serve(kind: str, n: int, warm: int = 3) -> list[float]:
    """Make the client, check one answer, then time ``n`` requests (seconds each)."""
    client = prow_client() if kind == "prow" else django_client()
    url = PROW_URL if kind == "prow" else DJANGO_URL
    answer = client.get(url)  # type: ignore[attr-defined]
    text = answer.content.decode() if kind == "django" else answer.text
    assert answer.status_code == 200, text[:300]
    found = len(re.findall(r'name="_selected(?:_action)?" value="', text))
    assert found == EXPECTED, f"{kind}: {found} rows on the page, expected {EXPECTED}"
    for _ in range(warm):
        client.get(url)  # type: ignore[attr-defined]
    times = []
    for _ in range(n):
        start = time.perf_counter()
        client.get(url)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - start)
    return times


def _driver(kind: str, n: int, valgrind: bool = False) -> str:
    command = [sys.executable, str(Path(__file__).resolve()), "serve", kind, str(n)]
    if valgrind:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mode", nargs="?", default="compare", choices=["compare", "serve"])
    parser.add_argument("kind", nargs="?", default="prow")
    parser.add_argument("n", nargs="?", type=int, default=30)
    parser.add_argument("--n", dest="requests", type=int, default=30)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="rebuild the SQLite files")
    args = parser.parse_args()
    if args.mode == "serve":
        times = serve(args.kind, args.n)
        print(f"median {statistics.median(times) * 1000:.3f} ms")
        return
    WORK.mkdir(exist_ok=True)
    if args.fresh:
        for name in ("admin-prow.sqlite3", "admin-django.sqlite3"):
            (WORK / name).unlink(missing_ok=True)
    print(f"{ROWS:,} rows; GET first page, filtered by status, searched by reference")
    medians: dict[str, list[float]] = {"prow": [], "django": []}
    for _ in range(3):  # interleaved: the machine's load falls on both
        for kind in ("prow", "django"):
            out = _driver(kind, args.requests)
            medians[kind].append(float(re.findall(r"median ([\d.]+) ms", out)[-1]))
    for kind, values in medians.items():
        print(
            f"{kind:7} {statistics.median(values):8.2f} ms/request (median of 3 runs of "
            f"{args.requests}: {', '.join(f'{v:.2f}' for v in values)})"
        )
    if args.callgrind:
        if shutil.which("valgrind") is None:
            raise SystemExit("valgrind is not installed")
        n = max(2, args.requests // 6)
        for kind in ("prow", "django"):
            counts = [
                int(re.findall(r"Collected\s*:\s*(\d+)", _driver(kind, size, True))[-1])
                for size in (n, 2 * n)
            ]
            print(f"{kind:7} {(counts[1] - counts[0]) / n / 1e6:8.1f} M instructions/request")


if __name__ == "__main__":
    main()
