"""Start-up cost: build an app with 200 typed routes and answer one request, in a fresh process.

``python bench/_many.py APP`` exits after the first answer to ``GET /r199/7`` has been checked;
``bench/process.py`` times the whole process, so imports, route registration, any lazy compiling
and the first request all count, as they do when a worker starts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: import ``bench`` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

__all__ = ["BUILDERS", "ROUTES"]

ROUTES = 200


def _handler(i: int) -> Callable[..., Any]:
    async def handler(item_id: int) -> dict[str, int]:
        return {"route": i, "id": item_id}

    handler.__name__ = f"route_{i}"
    return handler


def _bare() -> Any:
    from bench.apps.bare import app

    return app


def _prow() -> Any:
    from prow import App

    app = App()
    for i in range(ROUTES):
        app.get(f"/r{i}/{{item_id}}")(_handler(i))
    return app


def _fastapi() -> Any:
    from fastapi import FastAPI

    app = FastAPI()
    for i in range(ROUTES):
        app.get(f"/r{i}/{{item_id}}")(_handler(i))
    return app


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def endpoint(i: int) -> Any:
        async def view(request: Any) -> Any:
            return JSONResponse({"route": i, "id": request.path_params["item_id"]})

        return view

    return Starlette(routes=[Route(f"/r{i}/{{item_id:int}}", endpoint(i)) for i in range(ROUTES)])


def _litestar() -> Any:
    from litestar import Litestar, get

    handlers = [get(f"/r{i}/{{item_id:int}}", name=f"r{i}")(_handler(i)) for i in range(ROUTES)]
    return Litestar(route_handlers=handlers)


def _flask() -> Any:
    from flask import Flask

    app = Flask(__name__)
    for i in range(ROUTES):

        def view(item_id: int, i: int = i) -> dict[str, int]:
            return {"route": i, "id": item_id}

        app.add_url_rule(f"/r{i}/<int:item_id>", f"r{i}", view)
    return app


def _django() -> Any:
    from django.http import JsonResponse  # type: ignore[import-untyped]
    from django.urls import clear_url_caches, path  # type: ignore[import-untyped]

    import bench.apps.django_app as module

    def view(i: int) -> Any:
        return lambda request, item_id: JsonResponse({"route": i, "id": item_id})

    module.urlpatterns[:] = [path(f"r{i}/<int:item_id>", view(i)) for i in range(ROUTES)]
    clear_url_caches()
    return module.app


BUILDERS: dict[str, Callable[[], Any]] = {
    "bare": _bare,
    "prow": _prow,
    "starlette": _starlette,
    "fastapi": _fastapi,
    "litestar": _litestar,
    "flask": _flask,
    "django": _django,
}


def main(name: str) -> None:
    from bench._cases import Case
    from bench._drive import drive
    from bench.apps import APPS

    app = BUILDERS[name]()
    if name == "bare":  # the bare app has no route table to grow: its /users stands in
        case = Case("first", "GET", "/users/7", expect={"user_id": 7, "q": None})
    else:
        case = Case("first", "GET", f"/r{ROUTES - 1}/7", expect={"route": ROUTES - 1, "id": 7})
    case.check(name, drive(APPS[name], app, case, 1))


if __name__ == "__main__":
    main(sys.argv[1])
