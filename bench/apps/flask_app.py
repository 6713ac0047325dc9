"""Flask (WSGI): the ``int`` converter for the path, pydantic for the body."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from pydantic import ValidationError

from bench.apps._models import Item

app = Flask(__name__)


@app.errorhandler(ValidationError)
def invalid(exc: ValidationError) -> Response:
    return Response(exc.json(), status=422, mimetype="application/json")


@app.get("/plaintext")
def plaintext() -> Response:
    return Response("Hello, World!", mimetype="text/plain")


@app.get("/json")
def json_() -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.get("/users/<int:user_id>")
def user(user_id: int) -> dict[str, Any]:
    return {"user_id": user_id, "q": request.args.get("q")}


@app.post("/items")
def items() -> Response:
    item = Item.model_validate_json(request.get_data())
    return Response(item.model_dump_json(), mimetype="application/json")
