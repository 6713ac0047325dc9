"""Starlette: routes with the ``int`` convertor; pydantic for the body since it has no validator."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench.apps._models import Item


async def plaintext(request: Request) -> Response:
    return PlainTextResponse("Hello, World!")


async def json_(request: Request) -> Response:
    return JSONResponse({"message": "Hello, World!"})


async def user(request: Request) -> Response:
    return JSONResponse(
        {"user_id": request.path_params["user_id"], "q": request.query_params.get("q")}
    )


async def items(request: Request) -> Response:
    try:
        item = Item.model_validate_json(await request.body())
    except ValidationError as exc:
        return Response(exc.json(), status_code=422, media_type="application/json")
    return Response(item.model_dump_json(), media_type="application/json")


app = Starlette(
    routes=[
        Route("/plaintext", plaintext),
        Route("/json", json_),
        Route("/users/{user_id:int}", user),
        Route("/items", items, methods=["POST"]),
    ]
)
