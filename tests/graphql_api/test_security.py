"""Depth and complexity limits, introspection switched off, CSRF as for REST, errors masked."""

from __future__ import annotations

from typing import Any

import pytest

from prow.graphql import GraphQL

DEEP = "{ poem(id: 1) { anthology { poems { anthology { poems { anthology { name } } } } } } }"


def test_depth_limit(catalogue: Any) -> None:
    api = catalogue(GraphQL(max_depth=4))
    answer = api.query(DEEP)
    assert answer.get("data") is None
    assert "exceeds maximum operation depth of 4" in answer["errors"][0]["message"]
    assert api.query("{ poem(id: 1) { anthology { name } } }")["data"]["poem"]["anthology"]


def test_complexity_limit(catalogue: Any) -> None:
    api = catalogue(GraphQL(max_complexity=100))
    answer = api.query("{ poems(first: 50) { edges { node { id title anthology { name } } } } }")
    error = answer["errors"][0]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 301, "limit": 100}
    assert "costs 301, more than the limit of 100" in error["message"]
    answer = api.query("{ poems(first: 10) { edges { node { id title anthology { name } } } } }")
    assert len(answer["data"]["poems"]["edges"]) == 10


def test_introspection_can_be_turned_off(catalogue: Any) -> None:
    api = catalogue(GraphQL(introspection=False, graphiql=False))
    answer = api.query("{ __schema { types { name } } }")
    assert "introspection" in answer["errors"][0]["message"].lower()
    assert api.query("{ poem(id: 1) { title } }")["data"]["poem"]["title"] == "poem 00"
    # no IDE either: GET from a browser is a 404
    response = api.client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 404


def test_cookie_authenticated_posts_follow_the_csrf_rules(catalogue: Any) -> None:
    api = catalogue()
    mutation = {"query": "mutation { deletePoem(id: 1) }"}
    api.client.cookies.set("session", "abc")
    response = api.client.post(
        "/graphql",
        json=mutation,
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert response.status_code == 403
    response = api.client.post("/graphql", json=mutation)
    assert response.status_code == 403  # a cookie and no CSRF token
    api.client.cookies.clear()
    assert api.query("{ poem(id: 1) { id } }")["data"]["poem"] == {"id": 1}
    # without cookies (a script with a token), as for REST: no check
    assert api.query("mutation { deletePoem(id: 1) }")["data"]["deletePoem"] == 1


def test_unexpected_errors_are_masked(catalogue: Any) -> None:
    def setup(app: Any, gql: GraphQL) -> None:
        @gql.query
        def boom() -> int:
            raise RuntimeError("password=hunter2 in a driver message")

    api = catalogue(setup=setup)
    answer = api.query("{ boom }")
    assert answer["errors"][0]["message"] == "Unexpected error."
    assert "hunter2" not in str(answer)


def test_bad_requests_are_4xx(catalogue: Any) -> None:
    api = catalogue()
    assert (
        api.client.post(
            "/graphql", content=b"{nope", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert api.client.post("/graphql", json={"variables": {}}).status_code == 400
    assert api.client.put("/graphql", json={"query": "{ __typename }"}).status_code == 405
    answer = api.query("{ nope }")
    assert "Cannot query field 'nope'" in answer["errors"][0]["message"]


def test_configuration_mistakes_fail_at_start_up(models: Any) -> None:
    with pytest.raises(Exception, match=r"prow\.E900"):
        GraphQL(path="graphql")
    with pytest.raises(Exception, match=r"prow\.E900"):
        GraphQL(max_depth=0)
    gql = GraphQL()
    gql.expose(models.Anthology)
    with pytest.raises(Exception, match=r"prow\.E901"):
        gql.expose(models.Anthology)
    with pytest.raises(Exception, match=r"prow\.E905"):
        GraphQL().sdl()


def test_an_unreachable_database_is_a_503_with_retry_after(catalogue: Any) -> None:
    from prow.db import DatabaseUnavailable

    def setup(app: Any, gql: GraphQL) -> None:
        @gql.query
        def down() -> int:
            raise DatabaseUnavailable("SELECT 1", None, ConnectionRefusedError("refused"))

    api = catalogue(setup=setup)
    response = api.client.post("/graphql", json={"query": "{ down }"})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
