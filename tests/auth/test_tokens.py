"""The token endpoint, bearer tokens, refresh, and the attacks on JWTs (all answer 401)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest

from auth.conftest import PASSWORD, bearer, token_for
from prow import App
from prow.auth import Auth, CurrentUser, User
from prow.db import Session
from prow.testing import TestClient


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    app = make_app()

    @app.get("/whoami")
    async def whoami(user: CurrentUser) -> str:
        return user.username

    return app


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(client: TestClient, **changes: Any) -> dict[str, Any]:
    claims = jwt.decode(token_for(client), options={"verify_signature": False})
    claims.update(changes)
    return claims


def _refused(client: TestClient, token: str, reason: str) -> None:
    answer = client.get("/whoami", headers=bearer(token))
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.headers["content-type"] == "application/problem+json"
    assert reason in answer.json()["detail"]


def test_password_grant_issues_access_and_refresh_tokens(client: TestClient) -> None:
    answer = client.post("/auth/token", data={"username": "ann", "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert client.get("/whoami", headers=bearer(body["access_token"])).json() == "ann"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256"


def test_anonymous_is_401_with_a_challenge(client: TestClient) -> None:
    answer = client.get("/whoami")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="api"'
    assert answer.json()["detail"] == "authentication required"


@pytest.mark.parametrize(
    ("form", "status", "detail"),
    [
        ({"username": "ann", "password": "wrong password"}, 400, "invalid username or password"),
        ({"username": "nobody", "password": PASSWORD}, 400, "invalid username or password"),
        ({"username": "zed", "password": PASSWORD}, 400, "invalid username or password"),
        ({"username": "ann"}, 422, "missing or empty field(s): password"),
        ({"grant_type": "client_credentials"}, 400, "unsupported grant_type"),
    ],
)
def test_bad_token_requests(
    client: TestClient, form: dict[str, str], status: int, detail: str
) -> None:
    answer = client.post("/auth/token", data=form)
    assert answer.status_code == status
    assert answer.json()["detail"].startswith(detail)


def test_wrong_credentials_say_invalid_grant(client: TestClient) -> None:
    answer = client.post("/auth/token", data={"username": "ann", "password": "nope nope"})
    assert answer.json()["error"] == "invalid_grant"


def test_refresh_gives_a_new_pair_and_refuses_access_tokens(client: TestClient) -> None:
    pair = client.post("/auth/token", data={"username": "ann", "password": PASSWORD}).json()
    renewed = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200
    assert client.get("/whoami", headers=bearer(renewed.json()["access_token"])).json() == "ann"
    grant = {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
    assert client.post("/auth/token", data=grant).status_code == 200
    wrong = client.post("/auth/refresh", json={"refresh_token": pair["access_token"]})
    assert wrong.status_code == 400
    assert "an access token cannot be used as a refresh token" in wrong.json()["detail"]
    assert client.post("/auth/refresh", json={}).status_code == 422


def test_refresh_token_is_not_an_access_token(client: TestClient) -> None:
    pair = client.post("/auth/token", data={"username": "ann", "password": PASSWORD}).json()
    _refused(client, pair["refresh_token"], "cannot be used as an access token")


def test_alg_none_is_refused(client: TestClient) -> None:
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(client, sub='3'))}."
    _refused(client, forged, "invalid token")


def test_a_token_signed_with_another_key_is_refused(client: TestClient) -> None:
    forged = jwt.encode(_claims(client, sub="3"), "another key" * 4, algorithm="HS256")
    _refused(client, forged, "signature is invalid")


def test_a_tampered_payload_is_refused(client: TestClient) -> None:
    header, _, signature = token_for(client).split(".")
    forged = f"{header}.{_b64(_claims(client, sub='3'))}.{signature}"  # 3 is the superuser
    _refused(client, forged, "signature is invalid")


def test_an_expired_token_is_refused(client: TestClient) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    claims = _claims(client, exp=past)
    forged = jwt.encode(claims, Auth.of(client.app).key, algorithm="HS256")
    _refused(client, forged, "expired")


def test_a_token_not_valid_yet_is_refused(client: TestClient) -> None:
    future = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    forged = jwt.encode(_claims(client, nbf=future), Auth.of(client.app).key, algorithm="HS256")
    _refused(client, forged, "not valid yet")


def test_a_token_without_exp_is_refused(client: TestClient) -> None:
    claims = _claims(client)
    del claims["exp"]
    forged = jwt.encode(claims, Auth.of(client.app).key, algorithm="HS256")
    _refused(client, forged, "no 'exp' claim")


PUBLIC_PEM = b"""-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo
4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u
-----END PUBLIC KEY-----
"""


def _hs256(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_other_algorithms_are_refused(client: TestClient) -> None:
    for alg in ("RS256", "HS512", "ES256"):
        token = f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(_claims(client))}.c2lnbmF0dXJl"
        _refused(client, token, "not signed with HS256")


def test_key_confusion_with_a_public_key_is_refused(client: TestClient) -> None:
    # The classic RS/HS confusion: a server's public key used as the HMAC secret.
    forged = _hs256(PUBLIC_PEM, {"alg": "HS256", "typ": "JWT"}, _claims(client, sub="3"))
    _refused(client, forged, "signature is invalid")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer", "x" * 5000])
def test_malformed_tokens_are_401_not_500(client: TestClient, garbage: str) -> None:
    answer = client.get("/whoami", headers={"Authorization": f"Bearer {garbage}"})
    assert answer.status_code == 401


def test_a_password_change_revokes_earlier_tokens(app: App) -> None:
    @app.post("/change-password")
    async def change(user: CurrentUser, session: Session) -> None:
        await user.aset_password("a brand new phrase")

    with TestClient(app) as client:
        pair = client.post("/auth/token", data={"username": "ann", "password": PASSWORD}).json()
        assert client.post("/change-password", headers=bearer(pair["access_token"])).is_success
        _refused(client, pair["access_token"], "before the password changed")
        stale = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert stale.status_code == 400
        assert User.__tablename__ == "auth_user"


def test_the_token_of_a_deactivated_user_is_refused(app: App) -> None:
    @app.post("/deactivate")
    async def deactivate(user: CurrentUser, session: Session) -> None:
        user.is_active = False

    with TestClient(app) as client:
        token = token_for(client)
        assert client.post("/deactivate", headers=bearer(token)).is_success
        _refused(client, token, "does not exist or is inactive")
