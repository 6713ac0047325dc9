"""Session behaviour every store shares: round trips, bad cookies, rotation, expiry."""

from __future__ import annotations

import pytest

from prow.sessions import DEFAULT_MAX_AGE, SessionStore
from prow.testing import TestClient
from sessions._helpers import OTHER_KEY, cookie, make_app, shifted_clock


def test_round_trip(store_kind: SessionStore | None) -> None:
    with TestClient(make_app(store_kind)) as client:
        first = client.post("/set", json={"user": "ada", "cart": [1, 2]})
        assert first.status_code == 200
        assert "session" in first.cookies
        assert client.get("/get").json() == {"user": "ada", "cart": [1, 2]}

        client.post("/set", json={"theme": "dark"})
        assert client.get("/get").json() == {"user": "ada", "cart": [1, 2], "theme": "dark"}


def test_sessions_of_two_visitors_are_separate(store_kind: SessionStore | None) -> None:
    with TestClient(make_app(store_kind)) as client:
        ada = client.post("/set", json={"user": "ada"}).cookies["session"]
        client.cookies.clear()
        bob = client.post("/set", json={"user": "bob"}).cookies["session"]
        client.cookies.clear()
        assert client.get("/get", headers=cookie(ada)).json() == {"user": "ada"}
        assert client.get("/get", headers=cookie(bob)).json() == {"user": "bob"}


def test_untouched_request_sends_no_cookie(store_kind: SessionStore | None) -> None:
    with TestClient(make_app(store_kind)) as client:
        assert "set-cookie" not in client.get("/plain").headers
        client.post("/set", json={"user": "ada"})
        # Reading the session, or not touching it, leaves the cookie alone.
        assert "set-cookie" not in client.get("/get").headers
        assert "set-cookie" not in client.get("/plain").headers


def test_responses_that_use_the_session_vary_on_cookie(store_kind: SessionStore | None) -> None:
    with TestClient(make_app(store_kind)) as client:
        assert client.post("/set", json={"user": "ada"}).headers["vary"] == "Cookie"
        assert client.get("/get").headers["vary"] == "Cookie"
        assert "vary" not in client.get("/plain").headers


def test_empty_session_sets_no_cookie(store_kind: SessionStore | None) -> None:
    with TestClient(make_app(store_kind)) as client:
        response = client.post("/set", json={})
        assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "raw",
    [
        "garbage",
        "",
        "a.b.c",
        "eyJ1c2VyIjoiYWRtaW4ifQ.AAAAAA.c2lnbmF0dXJl",  # {"user":"admin"} with a made-up signature
    ],
)
def test_forged_cookie_is_anonymous(store_kind: SessionStore | None, raw: str) -> None:
    with TestClient(make_app(store_kind)) as client:
        response = client.get("/get", headers=cookie(raw))
        assert response.status_code == 200
        assert response.json() == {}


def test_tampered_cookie_is_anonymous(store_kind: SessionStore | None) -> None:
    with TestClient(make_app(store_kind)) as client:
        value = client.post("/set", json={"user": "ada"}).cookies["session"]
        # Change one character of the signed part (not the last: base64 padding bits).
        tampered = value[:5] + ("A" if value[5] != "A" else "B") + value[6:]
        client.cookies.clear()
        response = client.get("/get", headers=cookie(tampered))
        assert response.status_code == 200
        assert response.json() == {}


def test_cookie_signed_with_another_key_is_anonymous(store_kind: SessionStore | None) -> None:
    with TestClient(make_app(store_kind, secret_key=OTHER_KEY)) as other:
        value = other.post("/set", json={"user": "admin"}).cookies["session"]
    with TestClient(make_app(store_kind)) as client:
        response = client.get("/get", headers=cookie(value))
        assert response.json() == {}


def test_expired_cookie_is_anonymous(
    store_kind: SessionStore | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(make_app(store_kind, max_age=3600)) as client:
        with shifted_clock(monkeypatch, -3601):  # the session was written an hour ago
            value = client.post("/set", json={"user": "ada"}).cookies["session"]
        client.cookies.clear()
        # Sent by hand: a browser would drop it, a replaying attacker would not.
        response = client.get("/get", headers=cookie(value))
        assert response.json() == {}


def test_cookie_within_max_age_still_works(
    store_kind: SessionStore | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(make_app(store_kind, max_age=3600)) as client:
        with shifted_clock(monkeypatch, -3000):
            value = client.post("/set", json={"user": "ada"}).cookies["session"]
        client.cookies.clear()
        response = client.get("/get", headers=cookie(value))
        assert response.json() == {"user": "ada"}


def test_default_max_age_is_two_weeks(store_kind: SessionStore | None) -> None:
    with TestClient(make_app(store_kind)) as client:
        header = client.post("/set", json={"user": "ada"}).headers["set-cookie"]
        assert f"Max-Age={DEFAULT_MAX_AGE}" in header
        assert DEFAULT_MAX_AGE == 14 * 24 * 3600


def test_rotate_keeps_data_and_sends_a_new_cookie(store_kind: SessionStore | None) -> None:
    with TestClient(make_app(store_kind)) as client:
        client.post("/set", json={"user": "ada"})
        response = client.post("/rotate")
        assert "session" in response.cookies
        assert client.get("/get").json() == {"user": "ada"}


def test_rotate_retires_the_old_id(server_store: SessionStore) -> None:
    with TestClient(make_app(server_store)) as client:
        old = client.post("/set", json={"user": "ada"}).cookies["session"]
        new = client.post("/rotate").cookies["session"]
        assert new != old
        assert client.get("/get").json() == {"user": "ada"}
        client.cookies.clear()
        assert client.get("/get", headers=cookie(old)).json() == {}
        assert client.get("/get", headers=cookie(new)).json() == {"user": "ada"}


def test_invalidate_deletes_the_cookie_and_the_record(store_kind: SessionStore | None) -> None:
    with TestClient(make_app(store_kind)) as client:
        value = client.post("/set", json={"user": "ada"}).cookies["session"]
        response = client.post("/logout")
        assert response.json() == {}
        deletion = response.headers["set-cookie"]
        assert deletion.startswith("session=;") and "Max-Age=0" in deletion
        assert client.get("/get").json() == {}
        if store_kind is not None:
            # A copy of the cookie kept by an attacker is worthless after logout.
            client.cookies.clear()
            assert client.get("/get", headers=cookie(value)).json() == {}


def test_clear_deletes_the_cookie(store_kind: SessionStore | None) -> None:
    with TestClient(make_app(store_kind)) as client:
        client.post("/set", json={"user": "ada"})
        response = client.post("/clear")
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert client.get("/get").json() == {}
        # Clearing a session that has nothing sends nothing.
        assert "set-cookie" not in client.post("/clear").headers


def test_unknown_id_is_anonymous_and_never_adopted(server_store: SessionStore) -> None:
    with TestClient(make_app(server_store)) as client:
        planted = client.post("/set", json={"user": "ada"}).cookies["session"]
        client.cookies.clear()
        # The same session logged out in another browser: its record is gone.
        client.post("/logout", headers=cookie(planted))
        client.cookies.clear()
        assert client.get("/get", headers=cookie(planted)).json() == {}
        # Writing again gets a brand-new id, not the one the browser presented.
        fresh = client.post("/set", json={"user": "ada"}, headers=cookie(planted))
        assert fresh.cookies["session"] != planted
