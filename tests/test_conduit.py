"""The Conduit example (examples/conduit) end to end over HTTP, on SQLite and PostgreSQL.

Every endpoint of the RealWorld spec (v2.0.0) with its answers and error cases. Each backend
gets a fresh database migrated with the example's own migrations (so they are tested too);
each test starts from empty tables. PostgreSQL runs are skipped when the server is down,
unless ``PROW_REQUIRE_SERVICES=1``. Override the server with ``PROW_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from _conduit import BACKENDS, conduit_app, conduit_database, empty
from prow.ratelimit import MemoryRateLimitStore, RateLimits
from prow.testing import TestClient

# -- databases and clients ------------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[str]:
    yield from conduit_database(request.param, tmp_path_factory)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    asyncio.run(empty(database_url))
    with TestClient(conduit_app(database_url)) as client:
        yield client


def register(client: TestClient, name: str) -> dict[str, str]:
    """Sign ``name`` up; the headers that authenticate as them."""
    user = {"username": name, "email": f"{name}@example.com", "password": f"{name}-secret"}
    answer = client.post("/api/users", json={"user": user})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Token {answer.json()['user']['token']}"}


def post_article(
    client: TestClient, auth: dict[str, str], title: str, tags: list[str] | None = None
) -> dict[str, Any]:
    body = {"title": title, "description": f"about {title}", "body": f"{title}, at length"}
    if tags is not None:
        body["tagList"] = tags  # type: ignore[assignment]
    answer = client.post("/api/articles", json={"article": body}, headers=auth)
    assert answer.status_code == 201, answer.text
    article: dict[str, Any] = answer.json()["article"]
    return article


def errors(answer: Any) -> dict[str, list[str]]:
    """The spec's error document: ``{"errors": {"field": ["message"]}}``."""
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"errors"}
    found: dict[str, list[str]] = body["errors"]
    return found


# -- users ---------------------------------------------------------------------------------------


def test_register_answers_the_user_with_a_token(client: TestClient) -> None:
    user = {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}
    answer = client.post("/api/users", json={"user": user})
    assert answer.status_code == 201
    body = answer.json()["user"]
    assert body.pop("token").count(".") == 2  # a JWT
    assert body == {"email": "jake@jake.jake", "username": "jake", "bio": None, "image": None}


def test_register_refuses_taken_names_and_missing_fields(client: TestClient) -> None:
    register(client, "jake")
    taken_name = {"username": "jake", "email": "other@example.com", "password": "whatever"}
    answer = client.post("/api/users", json={"user": taken_name})
    assert answer.status_code == 409
    assert errors(answer) == {"username": ["has already been taken"]}
    taken_email = {"username": "other", "email": "jake@example.com", "password": "whatever"}
    assert errors(client.post("/api/users", json={"user": taken_email})) == {
        "email": ["has already been taken"]
    }
    answer = client.post("/api/users", json={"user": {"username": "", "password": "short"}})
    assert answer.status_code == 422
    assert errors(answer) == {
        "username": ["can't be blank"],
        "email": ["can't be blank"],
        "password": ["String should have at least 8 characters"],  # NIST's minimum
    }
    assert errors(client.post("/api/users", json={})) == {"user": ["can't be blank"]}


def test_login_checks_email_and_password(client: TestClient) -> None:
    register(client, "jake")
    good = {"email": "jake@example.com", "password": "jake-secret"}
    answer = client.post("/api/users/login", json={"user": good})
    assert answer.status_code == 200
    token = answer.json()["user"]["token"]
    me = client.get("/api/user", headers={"Authorization": f"Token {token}"})
    assert me.json()["user"]["username"] == "jake"

    for wrong in ({**good, "password": "nope"}, {**good, "email": "nobody@example.com"}):
        refused = client.post("/api/users/login", json={"user": wrong})
        assert refused.status_code == 401
        assert errors(refused) == {"credentials": ["invalid"]}  # never which one was wrong
    missing = client.post("/api/users/login", json={"user": {"email": "jake@example.com"}})
    assert missing.status_code == 422
    assert errors(missing) == {"password": ["can't be blank"]}


def test_login_is_rate_limited(database_url: str) -> None:
    asyncio.run(empty(database_url))
    app = conduit_app(database_url)
    # A clock that stands still: no attempt is given back while slow hashing runs.
    app.install(RateLimits(MemoryRateLimitStore(clock=lambda: 0.0)))
    wrong = {"user": {"email": "nobody@example.com", "password": "guess"}}
    with TestClient(app) as client:
        answers = [client.post("/api/users/login", json=wrong).status_code for _ in range(11)]
        assert answers == [401] * 10 + [429]  # ten guesses a minute per client address
        assert list(errors(client.post("/api/users/login", json=wrong))) == ["body"]


def test_current_user_needs_a_valid_token(client: TestClient) -> None:
    auth = register(client, "jake")
    answer = client.get("/api/user", headers=auth)
    assert answer.status_code == 200
    assert answer.json()["user"]["email"] == "jake@example.com"
    bearer = {"Authorization": auth["Authorization"].replace("Token", "Bearer")}
    assert client.get("/api/user", headers=bearer).status_code == 200  # prow's scheme works too

    anonymous = client.get("/api/user")
    assert anonymous.status_code == 401
    assert errors(anonymous) == {"token": ["is missing"]}
    forged = client.get("/api/user", headers={"Authorization": "Token not.a.jwt"})
    assert forged.status_code == 401
    assert errors(forged) == {"token": ["invalid token: the token is malformed"]}
    assert forged.headers["www-authenticate"] == 'Token realm="api"'
    assert anonymous.headers["www-authenticate"] == 'Token realm="api"'


def test_the_api_docs_say_how_to_send_the_token(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["type"] == "apiKey" and scheme["name"] == "Authorization"
    assert "Authorization: Token <token>" in scheme["description"]
    assert {"OAuth2PasswordBearer": []} in document["paths"]["/api/user"]["get"]["security"]


def test_the_api_docs_show_the_error_format_it_answers(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    errors_schema = {"$ref": "#/components/schemas/Errors"}
    for path, status in [("/api/users", "422"), ("/api/user", "401"), ("/api/articles", "422")]:
        method = "get" if path == "/api/user" else "post"
        answer = document["paths"][path][method]["responses"][status]
        assert answer["content"] == {"application/json": {"schema": errors_schema}}, path
    assert "ValidationProblem" not in document["components"]["schemas"]  # no problem+json
    login = document["paths"]["/api/users/login"]["post"]["responses"]
    assert login["401"]["content"] == {"application/json": {"schema": errors_schema}}
    assert "no user has this email and password" in login["401"]["description"]


def test_update_user(client: TestClient) -> None:
    auth = register(client, "jake")
    register(client, "taken")
    changes = {"bio": "I like to skateboard", "image": "https://example.com/jake.jpg"}
    answer = client.put("/api/user", json={"user": changes}, headers=auth)
    assert answer.status_code == 200
    assert answer.json()["user"] | changes == answer.json()["user"]
    assert client.get("/api/profiles/jake").json()["profile"]["bio"] == "I like to skateboard"

    clash = client.put("/api/user", json={"user": {"email": "taken@example.com"}}, headers=auth)
    assert clash.status_code == 409
    assert errors(clash) == {"email": ["has already been taken"]}
    too_long = client.put("/api/user", json={"user": {"username": "j" * 151}}, headers=auth)
    assert too_long.status_code == 422 and list(errors(too_long)) == ["username"]
    blank = client.put("/api/user", json={"user": {"username": ""}}, headers=auth)
    assert errors(blank) == {"username": ["can't be blank"]}
    null = client.put("/api/user", json={"user": {"email": None}}, headers=auth)
    assert null.status_code == 422
    assert errors(null) == {"email": ["can't be blank"]}
    cleared = client.put("/api/user", json={"user": {"bio": None}}, headers=auth)
    assert cleared.json()["user"]["bio"] is None
    emptied = client.put("/api/user", json={"user": {"bio": "", "image": ""}}, headers=auth)
    assert (emptied.json()["user"]["bio"], emptied.json()["user"]["image"]) == (None, None)
    assert client.get("/api/profiles/jake").json()["profile"]["image"] is None  # stored so
    assert client.put("/api/user", json={"user": {"bio": "x"}}).status_code == 401


def test_update_user_password_rules(client: TestClient) -> None:
    auth = register(client, "jake")
    null = client.put("/api/user", json={"user": {"password": None}}, headers=auth)
    assert null.status_code == 422  # was a 500
    assert errors(null) == {"password": ["can't be blank"]}
    short = client.put("/api/user", json={"user": {"password": "short7c"}}, headers=auth)
    assert errors(short) == {"password": ["String should have at least 8 characters"]}
    for accepted in ("bonjour1", "a" * 64):  # NIST: 8 or more, no composition rules
        answer = client.put("/api/user", json={"user": {"password": accepted}}, headers=auth)
        assert answer.status_code == 200
    login = {"email": "jake@example.com", "password": "a" * 64}
    assert client.post("/api/users/login", json={"user": login}).status_code == 200


def test_a_new_password_is_hashed(client: TestClient) -> None:
    old = register(client, "jake")
    answer = client.put("/api/user", json={"user": {"password": "a new one"}}, headers=old)
    new = {"Authorization": f"Token {answer.json()['user']['token']}"}
    assert client.get("/api/user", headers=new).status_code == 200
    # The suite goes on with its token after a password change (prow's default ends it).
    assert client.get("/api/user", headers=old).status_code == 200
    login = {"email": "jake@example.com", "password": "a new one"}
    assert client.post("/api/users/login", json={"user": login}).status_code == 200
    login["password"] = "jake-secret"
    assert client.post("/api/users/login", json={"user": login}).status_code == 401


# -- profiles ------------------------------------------------------------------------------------


def test_profiles_follow_and_unfollow(client: TestClient) -> None:
    jake = register(client, "jake")
    register(client, "anne")
    anne = {"username": "anne", "bio": None, "image": None, "following": False}
    assert client.get("/api/profiles/anne").json() == {"profile": anne}

    followed = client.post("/api/profiles/anne/follow", headers=jake)
    assert followed.status_code == 200
    assert followed.json() == {"profile": {**anne, "following": True}}
    assert client.post("/api/profiles/anne/follow", headers=jake).status_code == 200  # again
    assert client.get("/api/profiles/anne", headers=jake).json()["profile"]["following"]
    assert not client.get("/api/profiles/anne").json()["profile"]["following"]

    unfollowed = client.delete("/api/profiles/anne/follow", headers=jake)
    assert unfollowed.json() == {"profile": anne}
    assert not client.get("/api/profiles/anne", headers=jake).json()["profile"]["following"]


def test_profile_errors(client: TestClient) -> None:
    jake = register(client, "jake")
    missing = client.get("/api/profiles/nobody")
    assert missing.status_code == 404
    assert errors(missing) == {"profile": ["not found"]}
    assert client.post("/api/profiles/nobody/follow", headers=jake).status_code == 404
    assert client.post("/api/profiles/jake/follow").status_code == 401
    assert client.delete("/api/profiles/jake/follow").status_code == 401


# -- articles ------------------------------------------------------------------------------------


def test_create_and_get_an_article(client: TestClient) -> None:
    jake = register(client, "jake")
    body = {
        "title": "How to train your dragon",
        "description": "Ever wonder how?",
        "body": "You have to believe",
        "tagList": ["dragons", "training", "dragons"],
    }
    answer = client.post("/api/articles", json={"article": body}, headers=jake)
    assert answer.status_code == 201
    article = answer.json()["article"]
    assert article["createdAt"].endswith("Z") and article["updatedAt"].endswith("Z")
    del article["createdAt"], article["updatedAt"]
    assert article == {
        "slug": "how-to-train-your-dragon",
        "title": "How to train your dragon",
        "description": "Ever wonder how?",
        "body": "You have to believe",
        "tagList": ["dragons", "training"],
        "favorited": False,
        "favoritesCount": 0,
        "author": {"username": "jake", "bio": None, "image": None, "following": False},
    }
    fetched = client.get("/api/articles/how-to-train-your-dragon")
    assert fetched.status_code == 200
    assert fetched.json()["article"]["body"] == "You have to believe"

    again = post_article(client, jake, "How to train your dragon")
    assert again["slug"].startswith("how-to-train-your-dragon-")  # same title, its own slug
    assert post_article(client, jake, "¿Qué tal?")["slug"] == "qué-tal"
    long = post_article(client, jake, "word " * 100, ["t" * 300])  # no column is too short
    assert len(long["slug"]) <= 200 and long["tagList"] == ["t" * 300]


def test_create_article_errors(client: TestClient) -> None:
    jake = register(client, "jake")
    article = {"title": "t", "description": "d", "body": "b"}
    anonymous = client.post("/api/articles", json={"article": article})
    assert anonymous.status_code == 401
    assert list(errors(anonymous)) == ["token"]
    invalid = client.post("/api/articles", json={"article": {"title": ""}}, headers=jake)
    assert invalid.status_code == 422
    assert errors(invalid) == {
        "title": ["can't be blank"],
        "description": ["can't be blank"],
        "body": ["can't be blank"],
    }
    bad_tags = {**article, "tagList": "not a list"}
    assert list(errors(client.post("/api/articles", json={"article": bad_tags}, headers=jake))) == [
        "tagList"
    ]
    missing = client.get("/api/articles/no-such-article")
    assert missing.status_code == 404
    assert errors(missing) == {"article": ["not found"]}


def test_article_and_comment_bodies_have_a_size_cap(client: TestClient) -> None:
    jake = register(client, "jake")
    huge = {"title": "Huge", "description": "d", "body": "x" * 100_001}
    answer = client.post("/api/articles", json={"article": huge}, headers=jake)
    assert answer.status_code == 422
    assert errors(answer) == {"body": ["String should have at most 100000 characters"]}
    slug = post_article(client, jake, "Small")["slug"]
    grown = {"article": {"body": "x" * 100_001}}
    assert client.put(f"/api/articles/{slug}", json=grown, headers=jake).status_code == 422
    long = {"comment": {"body": "x" * 100_001}}
    comment = client.post(f"/api/articles/{slug}/comments", json=long, headers=jake)
    assert list(errors(comment)) == ["body"]
    biggest = {**huge, "title": "Biggest", "body": "x" * 100_000}
    assert client.post("/api/articles", json={"article": biggest}, headers=jake).status_code == 201


def test_concurrent_posts_with_one_title_all_get_a_slug(client: TestClient) -> None:
    jake = register(client, "jake")
    article = {"title": "Breaking news", "description": "d", "body": "b"}

    def post(_: int) -> Any:
        return client.post("/api/articles", json={"article": article}, headers=jake)

    with ThreadPoolExecutor(max_workers=6) as pool:  # six requests in flight at once
        answers = list(pool.map(post, range(6)))
    assert [answer.status_code for answer in answers] == [201] * 6  # was 409 for the losers
    slugs = {answer.json()["article"]["slug"] for answer in answers}
    assert len(slugs) == 6 and "breaking-news" in slugs
    assert all(slug.startswith("breaking-news") for slug in slugs)
    assert client.get("/api/articles?author=jake").json()["articlesCount"] == 6


def test_list_articles_with_filters_and_pages(client: TestClient) -> None:
    jake, anne = register(client, "jake"), register(client, "anne")
    post_article(client, jake, "one", ["a"])
    post_article(client, anne, "two", ["a", "b"])
    post_article(client, jake, "three")
    client.post("/api/articles/one/favorite", headers=anne)

    def slugs(query: str = "", auth: dict[str, str] | None = None) -> tuple[list[str], int]:
        answer = client.get(f"/api/articles{query}", headers=auth)
        assert answer.status_code == 200
        page = answer.json()
        return [article["slug"] for article in page["articles"]], page["articlesCount"]

    assert slugs() == (["three", "two", "one"], 3)  # newest first
    assert slugs("?tag=a") == (["two", "one"], 2)
    assert slugs("?author=jake") == (["three", "one"], 2)
    assert slugs("?favorited=anne") == (["one"], 1)
    assert slugs("?tag=a&author=anne") == (["two"], 1)
    assert slugs("?author=nobody") == ([], 0)
    assert slugs("?limit=1&offset=1") == (["two"], 3)  # the count ignores the page

    listed = client.get("/api/articles?author=jake", headers=anne).json()["articles"]
    assert "body" not in listed[0]  # lists leave the body out since the 2024 spec
    assert [(a["favorited"], a["favoritesCount"]) for a in listed] == [(False, 0), (True, 1)]
    assert errors(client.get("/api/articles?limit=0")) == {
        "limit": ["Input should be greater than or equal to 1"]
    }
    assert client.get("/api/articles?offset=-1").status_code == 422
    # Past what a database integer holds: a 422 the document announces, not a driver error.
    assert errors(client.get(f"/api/articles?offset={2**31}")) == {
        "offset": ["Input should be less than or equal to 2147483647"]
    }


def test_feed_shows_followed_authors(client: TestClient) -> None:
    jake, anne = register(client, "jake"), register(client, "anne")
    register(client, "bob")
    post_article(client, anne, "by anne")
    bob = client.post(
        "/api/users/login", json={"user": {"email": "bob@example.com", "password": "bob-secret"}}
    )
    bob_auth = {"Authorization": f"Token {bob.json()['user']['token']}"}
    post_article(client, bob_auth, "by bob")
    empty = client.get("/api/articles/feed", headers=jake).json()
    assert empty == {"articles": [], "articlesCount": 0}

    client.post("/api/profiles/anne/follow", headers=jake)
    page = client.get("/api/articles/feed?limit=5&offset=0", headers=jake).json()
    assert [a["slug"] for a in page["articles"]] == ["by-anne"]
    assert page["articlesCount"] == 1
    assert page["articles"][0]["author"]["following"] is True
    assert client.get("/api/articles/feed").status_code == 401


def test_update_article_by_its_author_only(client: TestClient) -> None:
    jake, anne = register(client, "jake"), register(client, "anne")
    post_article(client, jake, "First title", ["old"])
    change = {"article": {"title": "Did you train your dragon?", "tagList": ["new", "tags"]}}

    assert client.put("/api/articles/first-title", json=change).status_code == 401
    forbidden = client.put("/api/articles/first-title", json=change, headers=anne)
    assert forbidden.status_code == 403
    assert errors(forbidden) == {"article": ["forbidden"]}
    assert client.put("/api/articles/nope", json=change, headers=jake).status_code == 404

    answer = client.put("/api/articles/first-title", json=change, headers=jake)
    assert answer.status_code == 200
    article = answer.json()["article"]
    assert article["slug"] == "did-you-train-your-dragon"  # the slug follows the title
    assert article["tagList"] == ["new", "tags"]
    assert article["body"] == "First title, at length"  # fields not sent are kept
    assert article["updatedAt"] > article["createdAt"]
    assert client.get("/api/articles/first-title").status_code == 404
    assert client.get("/api/tags").json() == {"tags": ["new", "tags"]}

    same_title = {"article": {"title": "Did you train your dragon?", "body": "New body"}}
    kept = client.put("/api/articles/did-you-train-your-dragon", json=same_title, headers=jake)
    assert kept.json()["article"]["slug"] == "did-you-train-your-dragon"
    blank = client.put(
        "/api/articles/did-you-train-your-dragon", json={"article": {"title": ""}}, headers=jake
    )
    assert blank.status_code == 422
    assert errors(blank) == {"title": ["can't be blank"]}
    post_article(client, jake, "Taken")
    retitled = {"article": {"title": "Taken", "body": "Moved"}}
    moved = client.put("/api/articles/did-you-train-your-dragon", json=retitled, headers=jake)
    assert moved.status_code == 200
    assert moved.json()["article"]["slug"].startswith("taken-")  # "taken" is the other's
    assert moved.json()["article"]["body"] == "Moved"
    assert client.get("/api/articles/taken").json()["article"]["body"] == "Taken, at length"


def test_update_article_fields_may_be_left_out_but_not_null(client: TestClient) -> None:
    jake = register(client, "jake")
    path = "/api/articles/" + post_article(client, jake, "Tagged", ["a", "b"])["slug"]
    for field in ("tagList", "title", "body"):
        null = client.put(path, json={"article": {field: None}}, headers=jake)
        assert null.status_code == 422
        assert errors(null) == {field: ["can't be blank"]}
    assert client.get(path).json()["article"]["tagList"] == ["a", "b"]  # nothing changed
    kept = client.put(path, json={"article": {"body": "New"}}, headers=jake).json()["article"]
    assert kept["tagList"] == ["a", "b"]  # left out: kept
    cleared = client.put(path, json={"article": {"tagList": []}}, headers=jake)
    assert cleared.json()["article"]["tagList"] == []
    assert client.get(path).json()["article"]["tagList"] == []


def test_delete_article_by_its_author_only(client: TestClient) -> None:
    jake, anne = register(client, "jake"), register(client, "anne")
    post_article(client, jake, "Doomed", ["gone"])
    client.post("/api/articles/doomed/comments", json={"comment": {"body": "hi"}}, headers=anne)
    client.post("/api/articles/doomed/favorite", headers=anne)

    assert client.delete("/api/articles/doomed").status_code == 401
    forbidden = client.delete("/api/articles/doomed", headers=anne)
    assert forbidden.status_code == 403
    assert errors(forbidden) == {"article": ["forbidden"]}
    assert client.delete("/api/articles/nope", headers=jake).status_code == 404

    answer = client.delete("/api/articles/doomed", headers=jake)
    assert answer.status_code == 204
    assert answer.content == b""
    assert client.get("/api/articles/doomed").status_code == 404
    assert client.get("/api/articles/doomed/comments").status_code == 404
    assert client.get("/api/tags").json() == {"tags": []}  # its tags went with it


def test_favorite_and_unfavorite(client: TestClient) -> None:
    jake, anne = register(client, "jake"), register(client, "anne")
    post_article(client, jake, "Liked")
    answer = client.post("/api/articles/liked/favorite", headers=anne)
    assert answer.status_code == 200
    assert (answer.json()["article"]["favorited"], answer.json()["article"]["favoritesCount"]) == (
        True,
        1,
    )
    client.post("/api/articles/liked/favorite", headers=anne)  # twice counts once
    both = client.post("/api/articles/liked/favorite", headers=jake).json()["article"]
    assert both["favoritesCount"] == 2
    anonymous = client.get("/api/articles/liked").json()["article"]
    assert (anonymous["favorited"], anonymous["favoritesCount"]) == (False, 2)

    undone = client.delete("/api/articles/liked/favorite", headers=anne)
    assert undone.status_code == 200
    assert (undone.json()["article"]["favorited"], undone.json()["article"]["favoritesCount"]) == (
        False,
        1,
    )
    assert client.post("/api/articles/liked/favorite").status_code == 401
    assert client.delete("/api/articles/liked/favorite").status_code == 401
    missing = client.post("/api/articles/nope/favorite", headers=anne)
    assert missing.status_code == 404
    assert errors(missing) == {"article": ["not found"]}


def test_the_lists_order_is_indexed(database_url: str) -> None:
    """Lists sort by creation time; without an index each page sorted the whole table."""

    async def indexes() -> list[list[str | None]]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                found = await connection.run_sync(lambda c: inspect(c).get_indexes("article"))
        finally:
            await engine.dispose()
        return [index["column_names"] for index in found]

    assert ["created_at", "id"] in asyncio.run(indexes())  # made by the example's migrations


# -- comments and tags ---------------------------------------------------------------------------


def test_comments(client: TestClient) -> None:
    jake, anne = register(client, "jake"), register(client, "anne")
    post_article(client, jake, "Talked about")
    client.post("/api/profiles/jake/follow", headers=anne)
    path = "/api/articles/talked-about/comments"

    answer = client.post(
        path, json={"comment": {"body": "His name was my name too."}}, headers=jake
    )
    assert answer.status_code == 201
    comment = answer.json()["comment"]
    assert comment["createdAt"].endswith("Z")
    assert {key: comment[key] for key in ("body", "author")} == {
        "body": "His name was my name too.",
        "author": {"username": "jake", "bio": None, "image": None, "following": False},
    }
    client.post(path, json={"comment": {"body": "Second"}}, headers=anne)

    listed = client.get(path, headers=anne).json()["comments"]
    assert [(c["body"], c["author"]["following"]) for c in listed] == [
        ("Second", False),
        ("His name was my name too.", True),  # anne follows jake
    ]
    assert [c["author"]["following"] for c in client.get(path).json()["comments"]] == [False, False]

    forbidden = client.delete(f"{path}/{comment['id']}", headers=anne)
    assert forbidden.status_code == 403
    assert errors(forbidden) == {"comment": ["forbidden"]}
    assert client.delete(f"{path}/{comment['id']}").status_code == 401
    assert client.delete(f"{path}/{comment['id']}", headers=jake).status_code == 204
    assert [c["body"] for c in client.get(path).json()["comments"]] == ["Second"]
    missing = client.delete(f"{path}/{comment['id']}", headers=jake)
    assert missing.status_code == 404
    assert errors(missing) == {"comment": ["not found"]}


def test_comment_errors(client: TestClient) -> None:
    jake = register(client, "jake")
    post_article(client, jake, "Quiet")
    path = "/api/articles/quiet/comments"
    assert client.post(path, json={"comment": {"body": "hi"}}).status_code == 401
    blank = client.post(path, json={"comment": {"body": ""}}, headers=jake)
    assert blank.status_code == 422
    assert errors(blank) == {"body": ["can't be blank"]}
    nowhere = client.post(
        "/api/articles/nope/comments", json={"comment": {"body": "hi"}}, headers=jake
    )
    assert nowhere.status_code == 404
    assert errors(nowhere) == {"article": ["not found"]}
    assert client.get("/api/articles/nope/comments").status_code == 404
    assert client.get(path).json() == {"comments": []}
    huge = client.delete(f"{path}/{2**63}", headers=jake)
    assert errors(huge) == {"comment_id": ["Input should be less than or equal to 2147483647"]}


def test_tags_most_used_first(client: TestClient) -> None:
    assert client.get("/api/tags").json() == {"tags": []}
    jake = register(client, "jake")
    post_article(client, jake, "a", ["python", "web"])
    post_article(client, jake, "b", ["web"])
    assert client.get("/api/tags").json() == {"tags": ["web", "python"]}


# -- the app around the API ----------------------------------------------------------------------


def test_cors_lets_a_frontend_elsewhere_call_the_api(client: TestClient) -> None:
    preflight = client.options(
        "/api/articles",
        headers={
            "Origin": "http://localhost:4200",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"


def test_unknown_routes_use_the_error_format(client: TestClient) -> None:
    answer = client.get("/api/nothing-here")
    assert answer.status_code == 404
    assert errors(answer) == {"body": ["No route matches /api/nothing-here"]}
