"""The /auth routes in the OpenAPI document: the bodies they read, the answers they give."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
from openapi_spec_validator import validate

from prow import App
from prow.testing import TestClient

from .conftest import PASSWORD, bearer


def check(answer: Any, operation: dict[str, Any], document: dict[str, Any]) -> None:
    """``answer`` has a documented status and fits the schema documented for it."""
    documented = operation["responses"][str(answer.status_code)]
    media_type = answer.headers["content-type"].split(";")[0]
    schema = {**documented["content"][media_type]["schema"], "components": document["components"]}
    jsonschema.validate(answer.json(), schema)


def test_login_documents_both_bodies_it_reads(make_app: Callable[..., App]) -> None:
    document = make_app().openapi()
    validate(document)
    login = document["paths"]["/auth/login"]["post"]
    schemas = document["components"]["schemas"]
    content = login["requestBody"]["content"]
    assert set(content) == {"application/json", "application/x-www-form-urlencoded"}
    form = schemas[content["application/x-www-form-urlencoded"]["schema"]["$ref"].split("/")[-1]]
    # Swagger UI's "Try it out" shows these fields.
    assert set(form["properties"]) == {"username", "password", "next"}
    assert set(form["required"]) == {"username", "password"}
    assert {"200", "303", "400", "413", "415", "422", "429"} <= set(login["responses"])


def test_every_auth_answer_fits_its_documented_schema(make_app: Callable[..., App]) -> None:
    app = make_app()
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
        paths = document["paths"]
        credentials = {"username": "ann", "password": PASSWORD}
        wrong = client.post("/auth/login", json={**credentials, "password": "nope"})
        assert wrong.status_code == 400
        check(wrong, paths["/auth/login"]["post"], document)
        login = client.post("/auth/login", json=credentials)
        check(login, paths["/auth/login"]["post"], document)
        client.cookies.clear()  # the rest authenticates by token
        tokens = client.post("/auth/token", data=credentials)
        check(tokens, paths["/auth/token"]["post"], document)
        refreshed = client.post(
            "/auth/refresh", json={"refresh_token": tokens.json()["refresh_token"]}
        )
        check(refreshed, paths["/auth/refresh"]["post"], document)
        me = client.get("/auth/me", headers=bearer(tokens.json()["access_token"]))
        check(me, paths["/auth/me"]["get"], document)
        anonymous = client.get("/auth/me")
        assert anonymous.status_code == 401
        check(anonymous, paths["/auth/me"]["get"], document)
        logout = client.post("/auth/logout")
    # The document said 200 while logout answers 204 (No Content).
    assert logout.status_code == 204
    responses = paths["/auth/logout"]["post"]["responses"]
    assert "200" not in responses and responses["204"] == {"description": "No Content"}
    token_body = paths["/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in token_body
