"""The benchmarked apps: one module per framework, all serving the same endpoints.

``APPS`` maps a short name to where its callable lives, whether it speaks ASGI or WSGI, and the
distributions it needs (so a missing peer is skipped with a reason, never a crash).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["APPS", "AppSpec"]


@dataclass(frozen=True)
class AppSpec:
    """One benchmarked app: ``module:attr`` is its ASGI or WSGI callable."""

    name: str
    module: str
    interface: str  # "asgi" or "wsgi"
    requires: tuple[str, ...]  # importable top-level packages; the first is the framework measured
    pg_driver: str = "asyncpg"  # what the app needs to reach PostgreSQL
    te: bool = False  # serves TechEmpower's test types (/queries, /updates, /fortunes...)
    realworld: bool = False  # serves only the RealWorld endpoints (bench/_cases.py's RW_CASES)

    @property
    def target(self) -> str:
        """The ``module:attr`` string servers such as uvicorn and granian take."""
        return f"{self.module}:app"


# The /db endpoints of the asyncio apps: SQLAlchemy's async ORM/core over aiosqlite.
_ASYNC_DB = ("sqlalchemy", "greenlet", "aiosqlite")
# The RealWorld apps: the Conduit's database is made with prow's migrations (for every app).
_RW = ("jwt", "pydantic", "prow", *_ASYNC_DB)

APPS: dict[str, AppSpec] = {
    spec.name: spec
    for spec in (
        AppSpec("bare", "bench.apps.bare", "asgi", ("pydantic", "jinja2", *_ASYNC_DB), te=True),
        AppSpec("prow", "bench.apps.prow_app", "asgi", ("prow", "pydantic", *_ASYNC_DB), te=True),
        AppSpec(
            "starlette",
            "bench.apps.starlette_app",
            "asgi",
            ("starlette", "pydantic", "jinja2", *_ASYNC_DB),
            te=True,
        ),
        AppSpec(
            "fastapi",
            "bench.apps.fastapi_app",
            "asgi",
            ("fastapi", "pydantic", "jinja2", *_ASYNC_DB),
            te=True,
        ),
        AppSpec(
            "litestar",
            "bench.apps.litestar_app",
            "asgi",
            ("litestar", "msgspec", "advanced_alchemy", "jinja2", *_ASYNC_DB),
            te=True,
        ),
        AppSpec(
            "flask",
            "bench.apps.flask_app",
            "wsgi",
            ("flask", "pydantic", "flask_sqlalchemy", "sqlalchemy"),
            pg_driver="psycopg",
            te=True,
        ),
        AppSpec("django", "bench.apps.django_app", "wsgi", ("django", "pydantic"), "psycopg", True),
        AppSpec(
            "conduit",
            "bench.apps.conduit_app",
            "asgi",
            ("prow", "jwt", "pydantic", *_ASYNC_DB),
            realworld=True,
        ),
        # The same RealWorld endpoints in the peers (bench/apps/_realworld.py: shared rows).
        AppSpec("rw_bare", "bench.apps.rw_bare", "asgi", _RW, realworld=True),
        AppSpec("rw_fastapi", "bench.apps.rw_fastapi", "asgi", ("fastapi", *_RW), realworld=True),
        AppSpec(
            "rw_ninja",
            "bench.apps.rw_ninja",
            "wsgi",
            ("ninja", "django", *_RW),
            pg_driver="psycopg",
            realworld=True,
        ),
        AppSpec(
            "rw_litestar",
            "bench.apps.rw_litestar",
            "asgi",
            ("litestar", "advanced_alchemy", "msgspec", *_RW),
            realworld=True,
        ),
        AppSpec(
            "rw_flask",
            "bench.apps.rw_flask",
            "wsgi",
            ("flask", "flask_sqlalchemy", *_RW),
            pg_driver="psycopg",
            realworld=True,
        ),
    )
}
