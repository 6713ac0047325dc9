"""Cookies: the ``Set-Cookie`` renderer every cookie goes through, and the ``Cookie`` parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

import pytest

from prow import App, Cookie, Request, Response
from prow.exceptions import InvalidCookie
from prow.testing import TestClient


def set_cookie_header(name: str, value: str, **options: Any) -> str:
    """The ``Set-Cookie`` header ``Response.set_cookie`` writes."""
    response = Response()
    response.set_cookie(name, value, **options)
    header: str = response.headers["set-cookie"]
    return header


def parse_cookie_header(header: str) -> dict[str, str]:
    """``request.cookies`` of a request carrying ``header`` as its ``Cookie``."""
    return Request({"type": "http", "headers": [(b"cookie", header.encode("latin-1"))]}).cookies


# -- rendering -------------------------------------------------------------------------------


def test_defaults_are_path_root_and_same_site_lax() -> None:
    assert set_cookie_header("theme", "dark") == "theme=dark; Path=/; SameSite=Lax"


def test_every_attribute() -> None:
    header = set_cookie_header(
        "id",
        "a1",
        max_age=60,
        expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        path="/app",
        domain="example.com",
        secure=True,
        httponly=True,
        samesite="strict",
        partitioned=True,
    )
    assert header == (
        "id=a1; Domain=example.com; Expires=Wed, 02 Jan 2030 03:04:05 GMT; HttpOnly; "
        "Max-Age=60; Path=/app; SameSite=Strict; Secure; Partitioned"
    )


def test_attributes_can_be_left_out() -> None:
    assert set_cookie_header("a", "b", path=None, samesite=None) == "a=b"


IN_TWO_HOURS_ZONE = datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(
    ("expires", "rendered"),
    [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (IN_TWO_HOURS_ZONE, "Wed, 02 Jan 2030 03:04:05 GMT"),
        ("Wed, 02 Jan 2030 03:04:05 GMT", "Wed, 02 Jan 2030 03:04:05 GMT"),
    ],
    ids=["timestamp", "aware-datetime-in-another-zone", "text"],
)
def test_expires_forms(expires: Any, rendered: str) -> None:
    header = set_cookie_header("a", "b", expires=expires, samesite=None)
    assert header == f"a=b; Expires={rendered}; Path=/"


def test_same_site_is_case_insensitive_and_none_goes_with_secure() -> None:
    assert set_cookie_header("a", "b", samesite="STRICT").endswith("; SameSite=Strict")
    header = set_cookie_header("a", "b", samesite="none", secure=True)
    assert header.endswith("; SameSite=None; Secure")


def test_empty_value_is_empty() -> None:
    assert set_cookie_header("a", "", max_age=0) == "a=; Max-Age=0; Path=/; SameSite=Lax"


@pytest.mark.parametrize("value", ["hello world", 'say "hi"', "a,b", "back\\slash", "YQ==", "é"])
def test_values_outside_plain_characters_are_quoted_and_read_back(value: str) -> None:
    header = set_cookie_header("a", value, path=None, samesite=None)
    assert header.startswith('a="') and header.endswith('"')
    assert header.isascii()
    assert parse_cookie_header(header) == {"a": value}


def test_a_value_cannot_add_attributes() -> None:
    # The session and CSRF cookies render their attributes once and add each value; the
    # value is still checked every time, so it can never smuggle in its own attribute.
    options: dict[str, Any] = {"max_age": 600, "httponly": True}
    assert set_cookie_header("sid", "v1", **options) == (
        "sid=v1; HttpOnly; Max-Age=600; Path=/; SameSite=Lax"
    )
    assert set_cookie_header("sid", "v2", **options) == (
        "sid=v2; HttpOnly; Max-Age=600; Path=/; SameSite=Lax"
    )
    with pytest.raises(InvalidCookie, match="';'"):
        set_cookie_header("sid", "v; Domain=evil.example", **options)


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"name": "my session"}, "name", "is not valid"),
        ({"name": "a:b"}, "name", "is not valid"),
        ({"name": ""}, "name", "is not valid"),
        ({"name": "Path"}, "name", "attribute name"),
        ({"value": "a;b"}, "value", "';' or a control character"),
        ({"value": "a\r\nSet-Cookie: x=1"}, "value", "';' or a control character"),
        ({"value": "\x7f"}, "value", "';' or a control character"),
        ({"value": "日本"}, "value", "beyond Latin-1"),
        ({"max_age": 1.5}, "max_age", "whole number of seconds"),
        ({"max_age": True}, "max_age", "whole number of seconds"),
        ({"expires": datetime(2030, 1, 1)}, "expires", "timezone-aware"),
        ({"expires": "x; Domain=evil.example"}, "expires", "';'"),
        ({"expires": 1.5}, "expires", "Unix timestamp"),
        ({"path": "app"}, "path", "start with '/'"),
        ({"path": "/; Domain=evil.example"}, "path", "';'"),
        ({"domain": ""}, "domain", "not a valid cookie domain"),
        ({"domain": "a b.example"}, "domain", "not a valid cookie domain"),
        ({"domain": "example.com;x"}, "domain", "not a valid cookie domain"),
        ({"samesite": "loose"}, "samesite", "'lax', 'strict' or 'none'"),
        ({"samesite": "none"}, "samesite", "needs secure=True"),
        ({"partitioned": True}, "partitioned", "needs secure=True"),
    ],
)
def test_refused_cookies_name_the_problem(options: dict[str, Any], field: str, words: str) -> None:
    arguments: dict[str, Any] = {"name": "a", "value": "b", **options}
    with pytest.raises(InvalidCookie) as caught:
        set_cookie_header(arguments.pop("name"), arguments.pop("value"), **arguments)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", {}),
        ("a=1;b=2", {"a": "1", "b": "2"}),
        ("a=1; b c=2; session=x", {"a": "1", "b c": "2", "session": "x"}),
        ('prefs={"k": 1}; session=x', {"prefs": '{"k": 1}', "session": "x"}),
        ("path=/; expires=1; session=x", {"path": "/", "expires": "1", "session": "x"}),
        ("token=YQ==; flag; =orphan; session=x", {"token": "YQ==", "session": "x"}),
        ('a="\\054\\"x"; b=""', {"a": ',"x', "b": ""}),
        ("session=1; session=2", {"session": "2"}),
    ],
    ids=[
        "empty",
        "no-space",
        "space-in-name",
        "json",
        "attribute-names",
        "junk",
        "quoted",
        "repeat",
    ],
)
def test_parser_keeps_every_readable_pair(header: str, expected: dict[str, str]) -> None:
    # SimpleCookie, which prow used before, returned {} for the space, JSON and
    # attribute-name cases: one foreign cookie logged the user out.
    assert parse_cookie_header(header) == expected


def cookie_app() -> App:
    app = App(csrf=False)

    @app.get("/cookies")
    async def cookies(request: Request, theme: Annotated[str, Cookie()] = "light") -> Any:
        return {"all": request.cookies, "theme": theme}

    return app


def test_request_reads_every_cookie_header() -> None:
    # HTTP/2 clients may send one Cookie field per cookie: all of them count.
    client = TestClient(cookie_app())
    response = client.get("/cookies", headers=[("cookie", "a=1"), ("cookie", "theme=dark")])
    assert response.json() == {"all": {"a": "1", "theme": "dark"}, "theme": "dark"}


def test_request_survives_a_malformed_foreign_cookie() -> None:
    client = TestClient(cookie_app())
    response = client.get("/cookies", headers={"cookie": 'tracker={"id": 7}; theme=dark'})
    assert response.json()["theme"] == "dark"


def test_request_without_cookies() -> None:
    assert TestClient(cookie_app()).get("/cookies").json() == {"all": {}, "theme": "light"}
