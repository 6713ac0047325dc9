"""Session login and logout (form and JSON), open redirects, fixation, CSRF, rate limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from auth.conftest import PASSWORD
from prow import App, Request
from prow.auth import CurrentUser, OptionalUser, is_safe_redirect, keep_login
from prow.db import Session
from prow.sessions import MemoryStore
from prow.testing import TestClient

CREDENTIALS = {"username": "ann", "password": PASSWORD}


def _routes(app: App) -> App:
    @app.get("/whoami")
    async def whoami(user: CurrentUser) -> str:
        return user.username

    @app.get("/maybe")
    async def maybe(user: OptionalUser, request: Request) -> dict[str, object]:
        return {"user": user and user.username, "cached": "user" in request.scope}

    @app.get("/csrf")
    async def csrf(request: Request) -> str:
        return request.csrf_token()

    @app.post("/change-password")
    async def change(user: CurrentUser, session: Session, request: Request) -> None:
        await user.aset_password("a brand new phrase")
        keep_login(request, user)

    return app


@pytest.fixture
def client(make_app: Callable[..., App]) -> Iterator[TestClient]:
    with TestClient(_routes(make_app())) as client:
        yield client


def _csrf(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/csrf").json()}


def test_json_login_then_logout(client: TestClient) -> None:
    assert client.get("/maybe").json() == {"user": None, "cached": True}
    answer = client.post("/auth/login", json=CREDENTIALS)
    assert answer.status_code == 200
    assert answer.json()["username"] == "ann"
    assert client.get("/whoami").json() == "ann"
    assert client.get("/auth/me").json()["email"] == "ann@example.com"
    assert client.post("/auth/logout", headers=_csrf(client)).status_code == 204
    assert client.get("/whoami").status_code == 401


def test_form_login_redirects_to_next(client: TestClient) -> None:
    form = {**CREDENTIALS, "next": "/account?tab=1", "csrf_token": client.get("/csrf").json()}
    answer = client.post("/auth/login", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/account?tab=1"
    assert client.get("/whoami").json() == "ann"
    logout = {"csrf_token": client.get("/csrf").json()}
    out = client.post("/auth/logout", data=logout, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert client.get("/whoami").status_code == 401


def test_form_login_without_next_goes_to_login_redirect(make_app: Callable[..., App]) -> None:
    with TestClient(_routes(make_app(login_redirect="/home"))) as client:
        answer = client.post("/auth/login", data=CREDENTIALS, follow_redirects=False)
        assert answer.headers["location"] == "/home"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_open_redirects_are_refused(client: TestClient, target: str) -> None:
    form = {**CREDENTIALS, "next": target}
    answer = client.post("/auth/login", data=form, follow_redirects=False)
    assert answer.status_code == 400
    assert answer.json()["detail"] == "next must be a path on this site, such as /account"
    assert client.get("/whoami").status_code == 401  # and no login happened
    assert not is_safe_redirect(target)


def test_next_in_the_query_string_is_checked_too(client: TestClient) -> None:
    answer = client.post("/auth/login?next=//evil.example", data=CREDENTIALS)
    assert answer.status_code == 400


def test_wrong_password_is_refused_without_saying_which_part(client: TestClient) -> None:
    for username in ("ann", "nobody"):
        answer = client.post("/auth/login", json={"username": username, "password": "wrongwrong"})
        assert answer.status_code == 400
        assert answer.json()["detail"] == "invalid username or password"
    assert client.get("/whoami").status_code == 401


@pytest.mark.parametrize(
    ("kwargs", "status", "detail"),
    [
        ({"json": {"username": "ann"}}, 422, "missing or empty field(s): password"),
        ({"json": ["ann"]}, 422, "the body must be a JSON object"),
        ({"content": b"ann", "headers": {"content-type": "text/plain"}}, 415, "send a form"),
    ],
)
def test_malformed_login_requests(
    client: TestClient, kwargs: dict[str, object], status: int, detail: str
) -> None:
    answer = client.post("/auth/login", **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == status
    assert answer.json()["detail"].startswith(detail)


def test_login_rotates_the_session_id(make_app: Callable[..., App]) -> None:
    # Session fixation: an id the browser had before login must not be the logged-in one.
    app = _routes(make_app(store=MemoryStore()))

    @app.post("/cart")
    async def cart(request: Request) -> None:
        request.session["cart"] = ["tea"]

    with TestClient(app) as client:
        client.post("/cart")
        before = client.cookies["session"]
        client.post("/auth/login", json=CREDENTIALS, headers=_csrf(client))
        after = client.cookies["session"]
        assert after != before
        assert client.get("/whoami").json() == "ann"
        client.cookies.set("session", before)  # the attacker's copy of the old id
        assert client.get("/whoami").status_code == 401


def test_a_tampered_session_cookie_is_anonymous(client: TestClient) -> None:
    client.post("/auth/login", json=CREDENTIALS)
    cookie = client.cookies["session"]
    client.cookies.set("session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert client.get("/maybe").json()["user"] is None


def test_a_password_change_ends_other_sessions(make_app: Callable[..., App]) -> None:
    app = _routes(make_app())
    with TestClient(app) as client:
        client.post("/auth/login", json=CREDENTIALS)
        phone = client.cookies["session"]
        client.cookies.clear()
        client.post("/auth/login", json=CREDENTIALS)  # the laptop
        assert client.post("/change-password", headers=_csrf(client)).status_code == 200
        assert client.get("/whoami").json() == "ann"  # the session that changed it stays
        client.cookies.clear()
        client.cookies.set("session", phone)
        assert client.get("/whoami").status_code == 401


def test_logout_without_a_csrf_token_is_refused(client: TestClient) -> None:
    client.post("/auth/login", json=CREDENTIALS)
    answer = client.post("/auth/logout")
    assert answer.status_code == 403
    assert client.get("/whoami").json() == "ann"


def test_login_brute_force_is_rate_limited(make_app: Callable[..., App]) -> None:
    with TestClient(_routes(make_app(login_rate_limit="3/minute"))) as client:
        wrong = {"username": "ann", "password": "guess guess"}
        statuses = [client.post("/auth/login", json=wrong).status_code for _ in range(4)]
        assert statuses == [400, 400, 400, 429]
        blocked = client.post("/auth/token", data=CREDENTIALS)
        assert blocked.status_code == 429 and "retry-after" in blocked.headers


def test_no_rate_limit_when_turned_off(make_app: Callable[..., App]) -> None:
    with TestClient(_routes(make_app(login_rate_limit=None))) as client:
        wrong = {"username": "ann", "password": "guess guess"}
        assert {client.post("/auth/login", json=wrong).status_code for _ in range(12)} == {400}


# -- login CSRF and credentials the CSRF check lets through ----------------------------------

CROSS_SITE = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


@pytest.mark.parametrize(
    "headers",
    [
        CROSS_SITE,
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://sub.testserver", "Sec-Fetch-Site": "same-site"},
        {"Origin": "null"},
    ],
)
def test_a_cross_site_login_form_without_cookies_is_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    """Login CSRF: another site's auto-submitted form logs the browser in as the attacker.

    A cross-site POST carries no SameSite=Lax cookie, so the check must not depend on one.
    """
    attacker = {"username": "bob", "password": PASSWORD, "next": "/"}
    answer = client.post("/auth/login", data=attacker, headers=headers, follow_redirects=False)
    assert answer.status_code == 403
    assert answer.json()["detail"].startswith("cross-site request")
    assert "set-cookie" not in answer.headers
    assert client.get("/maybe").json()["user"] is None


def test_a_same_origin_login_form_still_works(client: TestClient) -> None:
    form = {**CREDENTIALS, "csrf_token": client.get("/csrf").json()}
    same_origin = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    answer = client.post("/auth/login", data=form, headers=same_origin, follow_redirects=False)
    assert answer.status_code == 303
    assert client.get("/whoami").json() == "ann"


def test_a_first_login_without_cookies_from_the_same_origin_works(client: TestClient) -> None:
    # A fresh browser (no csrftoken cookie yet) posting from the app's own page.
    same_origin = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/auth/login", json=CREDENTIALS, headers=same_origin).status_code == 200
    assert client.get("/whoami").json() == "ann"


def test_a_trusted_origin_may_log_in(make_app: Callable[..., App]) -> None:
    app = _routes(make_app())
    app.csrf_guard.trusted = frozenset({"https://spa.example"})  # csrf_trusted_origins
    with TestClient(app) as client:
        spa = {"Origin": "https://spa.example", "Sec-Fetch-Site": "cross-site"}
        assert client.post("/auth/login", json=CREDENTIALS, headers=spa).status_code == 200


def test_a_cross_site_logout_is_refused(client: TestClient) -> None:
    client.post("/auth/login", json=CREDENTIALS)
    answer = client.post("/auth/logout", headers={**CROSS_SITE, **_csrf(client)})
    assert answer.status_code == 403
    assert client.get("/whoami").json() == "ann"


def test_a_token_scheme_auth_does_not_accept_is_not_answered_by_the_session(
    client: TestClient,
) -> None:
    """``Authorization: Token x`` skips the CSRF check as token-authenticated; the app only
    accepts Bearer, so it must answer 401 rather than fall back to the session cookie."""
    client.post("/auth/login", json=CREDENTIALS)
    forged = client.post("/change-password", headers={**CROSS_SITE, "Authorization": "Token x"})
    assert forged.status_code == 401
    assert "'token' is not accepted" in forged.json()["detail"]
    assert forged.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/whoami", headers={"Authorization": "Token x"}).status_code == 401
    assert client.get("/whoami").json() == "ann"  # the session itself still works


def test_an_api_key_header_with_api_keys_off_is_not_answered_by_the_session(
    make_app: Callable[..., App],
) -> None:
    with TestClient(_routes(make_app(api_key_model=None))) as client:
        client.post("/auth/login", json=CREDENTIALS)
        forged = client.post("/change-password", headers={**CROSS_SITE, "X-API-Key": "k"})
        assert forged.status_code == 401
        assert forged.json()["detail"] == "API keys are not enabled on this app"


def test_a_custom_token_scheme_is_exempt_from_csrf(make_app: Callable[..., App]) -> None:
    # Auth tells the CSRF check about its schemes, so token clients need no CSRF token.
    with TestClient(_routes(make_app(token_schemes=("JWT",)))) as client:
        token = client.post("/auth/token", data=CREDENTIALS).json()["access_token"]
        client.cookies.set("session", "whatever")
        answer = client.post("/change-password", headers={"Authorization": f"JWT {token}"})
        assert answer.status_code == 200
