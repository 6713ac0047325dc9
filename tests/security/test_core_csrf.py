"""CSRF: attacks a browser could be tricked into sending, and the requests that must pass."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, ConfigDict

from prow import CSRF_FIELD, CSRF_HEADER, App, Form, Request, Router, UploadFile, csrf_token
from prow.testing import TestClient
from prow.types import ASGIApp, Receive, Scope, Send

EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


def make_app(**kwargs: object) -> App:
    app = App(**kwargs)  # type: ignore[arg-type]

    @app.get("/form")
    async def form(request: Request) -> dict[str, str]:
        return {"token": request.csrf_token(), "again": csrf_token(request)}

    @app.post("/transfer")
    async def transfer(amount: int = Form()) -> dict[str, int]:
        return {"sent": amount}

    @app.post("/upload")
    async def upload(title: str = Form(), file: UploadFile | None = None) -> dict[str, object]:
        return {"title": title, "size": None if file is None else len(await file.read())}

    @app.put("/json")
    async def put_json(data: dict[str, int]) -> dict[str, int]:
        return data

    @app.post("/webhook", csrf=False)
    async def webhook() -> str:
        return "ok"

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, object]:
        return {"body": (await request.body()).decode(), "form": dict(await request.form())}

    return app


def token_for_another_browser() -> str:
    """A well-formed token, masked from another browser's cookie secret."""
    token: str = TestClient(make_app()).get("/form").json()["token"]
    return token


@pytest.fixture
def browser() -> tuple[TestClient, str]:
    """A client that visited the form page: it holds the cookie and one token."""
    client = TestClient(make_app())
    token = client.get("/form").json()["token"]
    return client, token


# -- the form page ---------------------------------------------------------------------------


def test_form_page_sets_the_cookie_once_and_masks_each_token() -> None:
    client = TestClient(make_app())
    response = client.get("/form")
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 1
    assert cookies[0].startswith("csrftoken=")
    assert "SameSite=Lax" in cookies[0] and "Path=/" in cookies[0] and "Secure" not in cookies[0]
    tokens = response.json()
    assert tokens["token"] != tokens["again"]  # masked afresh: BREACH cannot learn it
    second = client.get("/form")
    assert "set-cookie" not in second.headers  # the browser already has the cookie


def test_cookie_is_secure_on_https() -> None:
    client = TestClient(make_app(), base_url="https://testserver")
    assert "; Secure" in client.get("/form").headers["set-cookie"]


@pytest.mark.parametrize(
    ("base_url", "secure"), [("http://testserver", ""), ("https://testserver", "; Secure")]
)
def test_cookie_attributes(base_url: str, secure: str) -> None:
    # Not HttpOnly: a page script may copy the cookie into the X-CSRF-Token header.
    header = TestClient(make_app(), base_url=base_url).get("/form").headers["set-cookie"]
    name, _, rest = header.partition("=")
    secret, _, attributes = rest.partition("; ")
    assert (name, len(secret)) == ("csrftoken", 43)
    assert attributes == f"Max-Age=31536000; Path=/; SameSite=Lax{secure}"


# -- attacks ---------------------------------------------------------------------------------


def test_post_with_cookie_but_no_token_is_refused(browser: tuple[TestClient, str]) -> None:
    client, _ = browser
    response = client.post("/transfer", data={"amount": "100"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("CSRF token missing")


def test_wrong_token_is_refused(browser: tuple[TestClient, str]) -> None:
    client, _ = browser
    forged = token_for_another_browser()
    for sent in (forged, "garbage", "x" * 86):
        response = client.post("/transfer", data={"amount": "1", CSRF_FIELD: sent})
        assert response.status_code == 403
        assert response.json()["detail"] == "CSRF token incorrect"


def test_missing_cookie_is_refused() -> None:
    client = TestClient(make_app(), cookies={"session": "abc"})
    token = token_for_another_browser()
    response = client.post("/transfer", data={"amount": "1"}, headers={CSRF_HEADER: token})
    assert response.status_code == 403
    assert response.json()["detail"] == "CSRF cookie not set"


def test_a_malformed_cookie_counts_as_no_cookie() -> None:
    client = TestClient(make_app(), cookies={"csrftoken": "short"})
    token = token_for_another_browser()
    response = client.post("/transfer", data={"amount": "1"}, headers={CSRF_HEADER: token})
    assert response.status_code == 403
    assert response.json()["detail"] == "CSRF cookie not set"


def test_cross_site_origin_is_refused_even_with_a_token(browser: tuple[TestClient, str]) -> None:
    client, token = browser
    response = client.post(
        "/transfer",
        data={"amount": "1", CSRF_FIELD: token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "cross-site request (Origin https://evil.example)"


def test_sec_fetch_site_cross_site_is_refused(browser: tuple[TestClient, str]) -> None:
    client, token = browser
    response = client.post(
        "/transfer",
        data={"amount": "1", CSRF_FIELD: token},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert "Sec-Fetch-Site: cross-site" in response.json()["detail"]


def test_null_origin_is_refused(browser: tuple[TestClient, str]) -> None:
    client, token = browser
    response = client.post(
        "/transfer", data={"amount": "1", CSRF_FIELD: token}, headers={"Origin": "null"}
    )
    assert response.status_code == 403


def test_refused_request_never_reaches_the_handler() -> None:
    app = App()
    calls: list[str] = []

    @app.delete("/account")
    async def delete_account() -> None:
        calls.append("deleted")

    client = TestClient(app, cookies={"session": "victim"})
    assert client.delete("/account").status_code == 403
    assert calls == []


# -- what passes -----------------------------------------------------------------------------


def test_token_in_form_field_passes(browser: tuple[TestClient, str]) -> None:
    client, token = browser
    response = client.post("/transfer", data={"amount": "5", CSRF_FIELD: token})
    assert response.json() == {"sent": 5}


def test_token_in_header_passes_for_json(browser: tuple[TestClient, str]) -> None:
    client, token = browser
    response = client.put("/json", json={"a": 1}, headers={"X-CSRF-Token": token})
    assert response.json() == {"a": 1}


def test_raw_cookie_value_in_header_passes(browser: tuple[TestClient, str]) -> None:
    # JavaScript may copy the cookie itself into the header.
    client, _ = browser
    cookie = client.cookies["csrftoken"]
    assert client.put("/json", json={"a": 2}, headers={CSRF_HEADER: cookie}).status_code == 200


def test_token_in_multipart_form_passes_and_form_params_still_work(
    browser: tuple[TestClient, str],
) -> None:
    client, token = browser
    response = client.post(
        "/upload",
        data={"title": "report", CSRF_FIELD: token},
        files={"file": ("a.txt", b"hello")},
    )
    assert response.json() == {"title": "report", "size": 5}


def test_handler_can_read_body_and_form_after_the_check(browser: tuple[TestClient, str]) -> None:
    client, token = browser
    response = client.post("/raw", data={"x": "1", CSRF_FIELD: token})
    assert response.status_code == 200
    assert response.json()["form"]["x"] == "1"
    assert "x=1" in response.json()["body"]


def test_same_origin_and_trusted_origins_pass() -> None:
    client = TestClient(make_app(csrf_trusted_origins=["https://app.example"]))
    token = client.get("/form").json()["token"]
    for origin in ("http://testserver", "http://testserver:80", "https://app.example"):
        response = client.post(
            "/transfer", data={"amount": "1", CSRF_FIELD: token}, headers={"Origin": origin}
        )
        assert response.status_code == 200, origin
    response = client.post(
        "/transfer",
        data={"amount": "1", CSRF_FIELD: token},
        headers={"Origin": "https://app.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        {"Authorization": "Bearer eyJhbGciOi.token"},
        {"Authorization": "token abc"},
        {"Authorization": "Api-Key k_123"},
        {"X-API-Key": "k_123"},
    ],
)
def test_token_authenticated_requests_are_not_checked(header: dict[str, str]) -> None:
    client = TestClient(make_app(), cookies={"session": "abc"})
    assert client.post("/transfer", data={"amount": "3"}, headers=header).json() == {"sent": 3}


@pytest.mark.parametrize(
    "scheme", ["Basic dTpw", "Digest username=u", "NTLM TlRMTVNT", "Negotiate YII"]
)
@pytest.mark.parametrize("cookies", [{"session": "abc"}, None])
def test_authorization_a_browser_resends_is_checked(
    scheme: str, cookies: dict[str, str] | None
) -> None:
    """Browsers resend cached Basic/Digest/NTLM/Negotiate credentials on their own: they
    are ambient, like cookies, and checked with or without a Cookie header."""
    client = TestClient(make_app(), cookies=cookies)
    forged = client.post(
        "/transfer",
        data={"amount": "3"},
        headers={"Authorization": scheme, "Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert forged.json()["detail"] == "cross-site request (Origin https://evil.example)"
    # Same origin, but no token: still refused (an old browser may send no Origin).
    tokenless = client.post("/transfer", data={"amount": "3"}, headers={"Authorization": scheme})
    assert tokenless.status_code == 403


def test_basic_auth_with_a_token_passes() -> None:
    client = TestClient(make_app())
    token = client.get("/form").json()["token"]
    headers = {"Authorization": "Basic dTpw", CSRF_HEADER: token}
    assert client.post("/transfer", data={"amount": "3"}, headers=headers).json() == {"sent": 3}


def test_a_cross_origin_bearer_call_without_cookies_passes() -> None:
    # A CORS API client: another origin, a token, no cookies. Not a browser's ambient request.
    client = TestClient(make_app())
    headers = {**EVIL, "Authorization": "Bearer abc.def"}
    assert client.post("/transfer", data={"amount": "2"}, headers=headers).json() == {"sent": 2}
    no_token = client.post("/transfer", data={"amount": "2"}, headers=EVIL)
    assert no_token.json() == {"sent": 2}  # nothing ambient at all: not checked either


def test_requests_without_cookies_are_not_checked() -> None:
    client = TestClient(make_app())
    assert client.post("/transfer", data={"amount": "4"}).json() == {"sent": 4}


def test_exempt_route_router_and_app_are_not_checked() -> None:
    app = make_app()
    hooks = Router(prefix="/hooks", csrf=False)

    @hooks.post("/stripe")
    async def stripe() -> str:
        return "ok"

    app.include(hooks)
    client = TestClient(app, cookies={"session": "abc"})
    assert client.post("/webhook").status_code == 200
    assert client.post("/hooks/stripe").status_code == 200
    assert client.post("/transfer", data={"amount": "1"}).status_code == 403

    off = TestClient(make_app(csrf=False), cookies={"session": "abc"})
    assert off.post("/transfer", data={"amount": "1"}).json() == {"sent": 1}


def test_safe_methods_are_not_checked() -> None:
    client = TestClient(make_app(), cookies={"session": "abc"})
    assert client.get("/form").status_code == 200
    assert client.options("/transfer").status_code == 405


# -- which origins pass ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "fetch_site", "passes"),
    [
        (None, None, True),  # an older browser or a non-browser client
        ("https://shop.example:443", "same-origin", True),
        ("https://app.example", "cross-site", True),  # trusted
        ("https://app.example", "same-site", True),
        ("http://shop.example", None, False),  # the scheme differs
        ("https://sub.shop.example", "same-site", False),
        (None, "cross-site", False),
        (None, "same-site", False),  # a sibling subdomain
    ],
)
def test_origins_and_fetch_sites(origin: str | None, fetch_site: str | None, passes: bool) -> None:
    app = make_app(csrf_trusted_origins=["https://app.example"])
    client = TestClient(app, base_url="https://shop.example")
    token = client.get("/form").json()["token"]
    headers = {"Origin": origin, "Sec-Fetch-Site": fetch_site}
    response = client.post(
        "/transfer",
        data={"amount": "1", CSRF_FIELD: token},
        headers={name: value for name, value in headers.items() if value is not None},
    )
    assert response.status_code == (200 if passes else 403), response.text
    assert passes or response.json()["detail"].startswith("cross-site request")


def test_a_string_for_trusted_origins_is_refused() -> None:
    with pytest.raises(TypeError, match="list of origins"):
        App(csrf_trusted_origins="https://app.example")


def test_the_token_field_is_not_part_of_a_form_model() -> None:
    """A form model that forbids extra fields still accepts the CSRF token posted with it."""
    app = App()

    @app.get("/form")
    async def form(request: Request) -> str:
        return request.csrf_token()

    @app.post("/signup")
    async def signup(data: Annotated[Signup, Form()]) -> str:
        return data.name

    client = TestClient(app)
    token = client.get("/form").json()
    accepted = client.post("/signup", data={"name": "ann", "csrf_token": token})
    assert accepted.status_code == 200 and accepted.json() == "ann"
    assert client.post("/signup", data={"name": "ann"}).status_code == 403


class Signup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


# -- strict routes (login CSRF) --------------------------------------------------------------


def strict_app() -> App:
    app = make_app()

    @app.post("/login", csrf="strict")
    async def login(name: str = Form()) -> dict[str, str]:
        return {"logged_in": name}

    return app


@pytest.mark.parametrize(
    "headers",
    [
        EVIL,
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://blog.testserver"},
    ],
)
def test_a_strict_route_refuses_cross_site_requests_without_cookies(
    headers: dict[str, str],
) -> None:
    """Login CSRF: a cross-site form sends no SameSite=Lax cookie, yet must be refused."""
    response = TestClient(strict_app()).post("/login", data={"name": "eve"}, headers=headers)
    assert response.status_code == 403
    assert response.json()["title"] == "CSRF check failed"
    assert response.json()["detail"].startswith("cross-site request")


def test_a_strict_route_accepts_same_origin_and_non_browser_requests() -> None:
    client = TestClient(strict_app())
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/login", data={"name": "ann"}, headers=same).status_code == 200
    assert client.post("/login", data={"name": "ann"}).status_code == 200  # a script, no Origin
    trusted = TestClient(make_app(csrf_trusted_origins=["https://evil.example"]))

    @trusted.app.post("/login", csrf="strict")
    async def login() -> str:
        return "ok"

    assert trusted.post("/login", headers=EVIL).status_code == 200


def test_a_strict_route_checks_the_token_once_the_browser_has_cookies() -> None:
    client = TestClient(strict_app())
    token = client.get("/form").json()["token"]
    assert client.post("/login", data={"name": "ann"}).status_code == 403
    accepted = client.post("/login", data={"name": "ann", CSRF_FIELD: token})
    assert accepted.json() == {"logged_in": "ann"}


def test_strict_is_not_the_default() -> None:
    # Other routes keep answering cookie-less cross-origin calls (CORS APIs).
    assert TestClient(strict_app()).post(
        "/transfer", data={"amount": "1"}, headers=EVIL
    ).json() == {"sent": 1}


def test_csrf_false_on_the_app_also_turns_strict_routes_off() -> None:
    app = make_app(csrf=False)

    @app.post("/login", csrf="strict")
    async def login() -> str:
        return "ok"

    assert TestClient(app).post("/login", headers=EVIL).status_code == 200


def test_an_unknown_csrf_option_is_refused() -> None:
    app = App()
    with pytest.raises(TypeError, match="csrf must be True, False or 'strict', not 'strcit'"):
        app.post("/x", csrf="strcit")  # type: ignore[arg-type]


def test_the_cookie_survives_a_middleware_that_copies_the_scope() -> None:
    class CopyingMiddleware:
        """The usual ASGI idiom: pass the app a changed copy of the scope."""

        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.inner({**scope, "copied": True}, receive, send)

    app = App()
    app.add_middleware(CopyingMiddleware)

    @app.get("/form")
    async def form(request: Request) -> str:
        return csrf_token(request)

    @app.post("/submit")
    async def submit() -> str:
        return "accepted"

    with TestClient(app) as client:
        token = client.get("/form").json()
        assert "csrftoken" in client.cookies
        answer = client.post("/submit", headers={CSRF_HEADER: token})
        assert answer.status_code == 200, answer.text
