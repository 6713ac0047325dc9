"""An outsider attacks the demo app (examples/demo): each default defence must hold.

The demo wires what a real project does — a database with Resources, users with sessions and
tokens, permissions, CSRF-protected forms, templates — so these tests check the defences
together, the way they are deployed, rather than one module at a time.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from prow.testing import TestClient

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``examples`` lives at the repository root, outside the src layout
    sys.path.insert(0, str(ROOT))

from examples.demo.app import DEMO_USERS, create_app, prepare  # noqa: E402

INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE item; --",
    "x' UNION SELECT id, name, name, name, name, name FROM auth_user --",
    '") OR 1=1 --',
    "%' OR name LIKE '%",
]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"
    prepare(url)
    with TestClient(create_app(url)) as client:
        yield client


def bearer(client: TestClient, username: str) -> str:
    form = {"username": username, "password": DEMO_USERS[username][0]}
    token: str = client.post("/auth/token", data=form).json()["access_token"]
    return token


@pytest.mark.parametrize("value", INJECTIONS)
def test_sql_injection_in_filters_finds_nothing_and_breaks_nothing(
    client: TestClient, value: str
) -> None:
    for query in ("name", "name__icontains", "name__startswith", "search"):
        answer = client.get("/api/items", params={query: value})
        assert answer.status_code == 200, answer.text
        assert answer.json()["items"] == []
    numeric = client.get("/api/items", params={"price__gte": value})
    assert numeric.status_code == 422  # not a number: refused, never spliced into SQL
    assert client.get("/api/items").json()["total"] == 5  # the table is intact


@pytest.mark.parametrize("value", INJECTIONS)
def test_sql_injection_in_path_and_order_is_refused(client: TestClient, value: str) -> None:
    assert client.get(f"/api/items/{value}").status_code in (404, 422)
    assert client.get("/api/items", params={"order": value}).status_code == 400
    assert client.get("/api/items").json()["total"] == 5


def test_jwt_with_alg_none_is_refused(client: TestClient) -> None:
    real = jwt.decode(bearer(client, "bob"), options={"verify_signature": False})
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = base64.urlsafe_b64encode(json.dumps({**real, "sub": real["sub"]}).encode())
    forged = f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}."
    answer = client.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401 and "www-authenticate" in answer.headers


def test_jwt_signed_with_another_key_is_refused(client: TestClient) -> None:
    real = jwt.decode(bearer(client, "bob"), options={"verify_signature": False})
    forged = jwt.encode(real, "another-key-that-is-long-enough-0123456789", algorithm="HS256")
    answer = client.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401


def test_expired_jwt_is_refused(client: TestClient) -> None:
    token = bearer(client, "bob")
    claims = jwt.decode(token, options={"verify_signature": False})
    # Re-sign with the app's own key: only the expiry is wrong.
    key = client.app.signing_key("jwt")  # type: ignore[attr-defined]
    past = int(time.time()) - 3600
    expired = jwt.encode({**claims, "iat": past - 900, "nbf": past - 900, "exp": past}, key)
    answer = client.get("/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]


def test_escalating_by_editing_the_token_payload_is_refused(client: TestClient) -> None:
    header, payload, signature = bearer(client, "bob").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    alice = jwt.decode(bearer(client, "alice"), options={"verify_signature": False})
    claims["sub"] = alice["sub"]
    tampered = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    answer = client.post(
        "/api/items/1/discount",
        headers={"Authorization": f"Bearer {header}.{tampered}.{signature}"},
    )
    assert answer.status_code == 401


def test_a_tampered_session_cookie_is_anonymous(client: TestClient) -> None:
    login = client.post("/auth/login", json={"username": "bob", "password": DEMO_USERS["bob"][0]})
    assert login.status_code == 200
    assert client.get("/auth/me").status_code == 200
    cookie = client.cookies["session"]
    client.cookies.set("session", cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB"))
    assert client.get("/auth/me").status_code == 401


def test_a_cross_site_form_post_is_refused(client: TestClient) -> None:
    client.get("/login")  # the victim's browser holds a CSRF cookie and a session
    form = {"username": "alice", "password": DEMO_USERS["alice"][0], "next": "/account"}
    missing = client.post("/login", data=form)
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    wrong = client.post("/login", data={**form, "csrf_token": "forged"})
    assert wrong.status_code == 403
    cross_site = client.post(
        "/login",
        data=form,
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403


def test_login_csrf_a_cross_site_post_without_cookies_is_refused(client: TestClient) -> None:
    # Login CSRF: an attacker's page logs the victim's browser (no cookies yet) into the
    # attacker's account. The login page is checked even when no cookie is sent.
    form = {"username": "bob", "password": DEMO_USERS["bob"][0], "next": "/account"}
    attack = client.post(
        "/login",
        data=form,
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert attack.status_code == 403
    assert "session" not in attack.cookies and "session" not in client.cookies


def test_html_in_a_form_value_is_escaped(client: TestClient) -> None:
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    hostile = '"><script>alert(1)</script>'
    answer = client.post(
        "/login", data={"csrf_token": token, "username": hostile, "password": "x", "next": "/"}
    )
    assert answer.status_code == 400
    assert "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text


def test_login_brute_force_is_slowed_to_429(client: TestClient) -> None:
    answers = [
        client.post("/auth/token", data={"username": "alice", "password": f"guess-{n}"})
        for n in range(15)
    ]
    statuses = [a.status_code for a in answers]
    assert 429 in statuses and statuses[0] == 400
    limited = answers[statuses.index(429)]
    assert int(limited.headers["retry-after"]) >= 1


def test_security_headers_are_on_every_answer(client: TestClient) -> None:
    for path in ("/", "/items", "/api/items/999", "/docs"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin", path
        assert "x-frame-options" in headers or "frame-ancestors" in headers.get(
            "content-security-policy", ""
        ), path
