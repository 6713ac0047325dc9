from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest

from prow.middleware import TrustedHostMiddleware
from prow.types import Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio


async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def get(
    allowed: Sequence[str],
    host: str | None,
    url: str = "http://testserver/",
    www_redirect: bool = True,
) -> httpx.Response:
    app = TrustedHostMiddleware(ok_app, allowed_hosts=allowed, www_redirect=www_redirect)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        request = http.build_request("GET", url)
        if host is None:
            del request.headers["host"]
        else:
            request.headers["host"] = host
        return await http.send(request)


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        (["*"], "anything.test"),
        (["*"], None),
        (["example.com"], "example.com"),
        (["example.com"], "EXAMPLE.com:8000"),
        (["example.com"], "example.com."),
        (["Example.COM"], "example.com"),
        (["*.example.com"], "api.example.com"),
        (["*.example.com"], "a.b.example.com:443"),
        (["::1"], "[::1]:8000"),
        (["[::1]"], "[::1]"),
        (["127.0.0.1"], "127.0.0.1:5000"),
        (["other.test", "example.com"], "example.com"),
    ],
)
async def test_allowed_hosts_reach_the_app(allowed: list[str], host: str | None) -> None:
    response = await get(allowed, host)
    assert response.status_code == 200
    assert response.text == "ok"


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        (["example.com"], "evil.test"),
        (["example.com"], "example.com.evil.test"),
        (["example.com"], "sub.example.com"),
        (["*.example.com"], "example.com"),
        (["*.example.com"], "evilexample.com"),
        (["*.example.com"], "evil.test/.example.com"),
        (["*.example.com"], "evil.test@a.example.com"),
        (["example.com"], "example.com:port"),
        (["example.com"], "example.com:80:80"),
        (["example.com"], ""),
        (["example.com"], None),
        (["::1"], "::1"),
        (["::1"], "[::2]:80"),
        (["example.com"], "exa mple.com"),
    ],
)
async def test_bad_or_missing_host_is_refused(allowed: list[str], host: str | None) -> None:
    response = await get(allowed, host)
    assert response.status_code == 400
    assert response.text == "Invalid host header"
    assert response.headers["content-type"].startswith("text/plain")


async def test_www_redirect_when_only_www_is_allowed() -> None:
    response = await get(["www.example.com"], "example.com", "http://example.com/a/b?x=1")
    assert response.status_code == 307
    assert response.headers["location"] == "http://www.example.com/a/b?x=1"


async def test_www_redirect_keeps_port_and_scheme() -> None:
    response = await get(["www.example.com"], "example.com:8443", "https://example.com:8443/p")
    assert response.status_code == 307
    assert response.headers["location"] == "https://www.example.com:8443/p"


async def test_www_redirect_can_be_disabled() -> None:
    response = await get(["www.example.com"], "example.com", www_redirect=False)
    assert response.status_code == 400


async def test_www_redirect_only_targets_listed_www_hosts() -> None:
    response = await get(["www.example.com"], "evil.test")
    assert response.status_code == 400


async def test_allowed_www_host_is_served_directly() -> None:
    response = await get(["www.example.com"], "www.example.com")
    assert response.status_code == 200


async def run_websocket(allowed: list[str], host: bytes) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", host)]}
    await TrustedHostMiddleware(ok_app, allowed_hosts=allowed)(scope, receive, send)
    return sent


async def test_websocket_for_bad_host_is_closed_with_policy_violation() -> None:
    assert await run_websocket(["example.com"], b"evil.test") == [
        {"type": "websocket.close", "code": 1008}
    ]
    # No redirect is possible for a websocket handshake either.
    assert await run_websocket(["www.example.com"], b"example.com") == [
        {"type": "websocket.close", "code": 1008}
    ]


async def test_websocket_for_good_host_reaches_the_app() -> None:
    assert await run_websocket(["example.com"], b"example.com") == [{"type": "websocket.accept"}]


async def test_lifespan_passes_through() -> None:
    seen = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    await TrustedHostMiddleware(app, allowed_hosts=["example.com"])(
        {"type": "lifespan"},
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
    )
    assert seen == ["lifespan"]


@pytest.mark.parametrize("pattern", ["example.*", "*example.com", "a.*.example.com", "*.*.com"])
def test_unsupported_patterns_fail_at_construction(pattern: str) -> None:
    with pytest.raises(ValueError, match="not supported"):
        TrustedHostMiddleware(ok_app, allowed_hosts=[pattern])


def test_a_single_string_is_refused() -> None:
    with pytest.raises(TypeError, match="list of host patterns"):
        TrustedHostMiddleware(ok_app, allowed_hosts="example.com")
